//! The client-credentials exchange, exactly as the platform documents it:
//! `POST {dc}/api/2/idp/token`, HTTP Basic, `grant_type=client_credentials`.

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::time::Clock;
use crate::token::AccessToken;

use super::http::{self, HttpSettings};
use super::{DatacenterUrl, parse_token_response};

/// What is needed to ask for a token. Not `Debug`: it holds the secret.
pub struct ClientCredentials {
    pub datacenter: DatacenterUrl,
    pub client_id: String,
    pub secret: SecretString,
}

/// Swaps client credentials for a token. The HTTP implementation is the real
/// one; unit tests of the cache logic count calls through a fake.
pub trait TokenExchange {
    fn exchange(&self, creds: &ClientCredentials) -> Result<AccessToken>;
}

pub struct HttpExchange<'a> {
    pub settings: HttpSettings,
    pub clock: &'a dyn Clock,
}

impl TokenExchange for HttpExchange<'_> {
    fn exchange(&self, creds: &ClientCredentials) -> Result<AccessToken> {
        let dc = &creds.datacenter;
        let client = http::client(dc, &self.settings)?;
        let response = client
            .post(dc.token_endpoint())
            .header(AUTHORIZATION, basic_auth(&creds.client_id, &creds.secret)?)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body("grant_type=client_credentials")
            .send()
            .map_err(|e| http::transport_error(dc, &e))?;
        let status = response.status().as_u16();
        let body = Zeroizing::new(http::read_body(response)?);
        parse_token_response(status, &body, self.clock.now(), &creds.client_id)
    }
}

/// `Basic base64(client_id:client_secret)`, marked sensitive so the HTTP stack
/// never prints it. Intermediate buffers are zeroed when dropped.
fn basic_auth(client_id: &str, secret: &SecretString) -> Result<HeaderValue> {
    let mut plain = Zeroizing::new(Vec::with_capacity(client_id.len() + 1 + secret.expose_secret().len()));
    plain.extend_from_slice(client_id.as_bytes());
    plain.push(b':');
    plain.extend_from_slice(secret.expose_secret().as_bytes());
    // Sized up front so the encoder never reallocates (and leaves a copy behind).
    let mut header = Zeroizing::new(String::with_capacity(6 + plain.len().div_ceil(3) * 4));
    header.push_str("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(&*plain, &mut header);
    let mut value = HeaderValue::from_str(&header)
        .map_err(|_| Error::usage("the client id or secret contains characters that cannot be sent"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_sensitive_and_correct() {
        let v = basic_auth("id", &SecretString::from("s3cr:et")).unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v.to_str().unwrap(), "Basic aWQ6czNjcjpldA==");
        assert!(!format!("{v:?}").contains("aWQ6"));
    }
}
