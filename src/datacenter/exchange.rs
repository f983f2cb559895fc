//! The client-credentials exchange, exactly as the platform documents it:
//! `POST {dc}/api/2/idp/token`, HTTP Basic, `grant_type=client_credentials`.

use base64::Engine as _;
use std::time::Instant;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::time::Clock;
use crate::token::AccessToken;

use super::http::{self, HttpSettings};
use super::retry::{self, Outcome};
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
        let started = Instant::now();
        let jitter = retry::jitter();
        let mut attempt = 1;
        loop {
            let deadline = Instant::now() + self.settings.timeout;
            let sent = client
                .post(dc.token_endpoint())
                .header(AUTHORIZATION, basic_auth(&creds.client_id, &creds.secret)?)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body("grant_type=client_credentials")
                .send();
            let (outcome, retry_after, result) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, self.clock.now()));
                    let result = http::read_body(response, deadline).and_then(|body| {
                        let body = Zeroizing::new(body);
                        parse_token_response(status, &body, self.clock.now(), &creds.client_id)
                    });
                    (Outcome::Status(status), retry_after, result)
                }
                Err(e) => (http::outcome_of(&e), None, Err(http::transport_error(dc, &e))),
            };
            let Err(error) = result else { return result };
            let wait = retry::delay_before_retry(
                outcome,
                attempt,
                retry_after,
                started.elapsed(),
                self.settings.retry,
                (jitter + attempt as f64 * 0.618).fract(),
            );
            match wait {
                Some(wait) => std::thread::sleep(wait),
                None if attempt > 1 => {
                    return Err(error.map_message(|m| format!("{m} (after {attempt} attempts)")));
                }
                None => return Err(error),
            }
            attempt += 1;
        }
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
