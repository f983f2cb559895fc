//! Everything that talks to the datacenter: its URL, the HTTP client, the
//! token exchange and the platform's error shapes.

mod account;
mod exchange;
mod http;
mod response;
pub mod retry;
mod url;

pub use account::{AccountApi, ClientInfo, NewClient};
pub use exchange::{ClientCredentials, HttpExchange, TokenExchange};
pub use http::HttpSettings;
pub use response::{parse_token_response, platform_message};
pub use url::{Api, DatacenterUrl};
