//! The token endpoint's answer: `datacenter::parse_token_response`.
//!
//! Input: two bytes that pick the HTTP status, then the body. With the top
//! bit of the first byte clear the status comes from `STATUSES`; with it set
//! the two bytes (less that bit) modulo 1000 are the status itself.
#![no_main]

#[path = "common.rs"]
mod common;

use acronis_cred::datacenter::{parse_token_response, platform_message};
use acronis_cred::token::check_bearer_syntax;
use libfuzzer_sys::fuzz_target;

const STATUSES: [u16; 10] = [200, 400, 401, 403, 404, 429, 500, 503, 302, 418];
const NOW: i64 = 1_700_000_000;
const CLIENT: &str = "client";

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = if data[0] & 0x80 == 0 {
        STATUSES[data[0] as usize % STATUSES.len()]
    } else {
        u16::from_be_bytes([data[0] & 0x7f, data[1]]) % 1000
    };
    let body = &data[2..];

    let result = common::guard(|| parse_token_response(status, body, NOW, CLIENT));
    let Some(result) = result else { return };
    match result {
        Ok(token) => {
            assert_eq!(status, 200, "a token was accepted from HTTP {status}");
            assert_eq!(check_bearer_syntax(token.expose()), Ok(()), "accepted token fails the bearer syntax");
            assert!(token.expires_at() > NOW, "accepted token expires at {} <= now", token.expires_at());
        }
        Err(e) => {
            let message = e.message();
            let hint = e.hint().unwrap_or("");
            assert!(!message.is_empty());
            assert!(!message.chars().any(char::is_control), "control character in {message:?}");
            assert!(!hint.chars().any(char::is_control), "control character in hint {hint:?}");

            let shown = format!("{message}\n{hint}");
            // What the message may legitimately quote from the body.
            let echoes: Vec<String> = {
                let mut v: Vec<String> = platform_message(body).into_iter().collect();
                if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) {
                    if let Some(t) = o.get("token_type").and_then(|t| t.as_str()) {
                        v.push(t.to_string());
                    }
                }
                v
            };
            let echoed = |s: &str| echoes.iter().any(|e| e.contains(s)) || TEMPLATES.contains(s) || CLIENT.contains(s);

            // 1. The access_token value never reaches the message.
            if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) {
                if let Some(t) = o.get("access_token").and_then(|t| t.as_str()) {
                    let t = t.trim();
                    if t.len() >= 12 && !t.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !echoed(t) {
                        assert!(!shown.contains(t), "the access_token {t:?} is in the error: {shown:?}");
                    }
                }
            }
            // 2. A long printable body that is not a platform error is not echoed.
            if let Ok(text) = std::str::from_utf8(body) {
                let text = text.trim();
                if text.len() > 40
                    && !text.chars().any(char::is_control)
                    && platform_message(body).is_none()
                    && !echoed(text)
                {
                    assert!(!shown.contains(text), "the raw body is in the error: {shown:?}");
                }
            }
        }
    }
});

/// Fixed text of the messages in src/datacenter/response.rs: a value that is
/// a piece of it is not a leak when it shows up.
const TEMPLATES: &str = "the datacenter is throttling token requests (HTTP 429) wait a little and try again \
the datacenter failed to issue a token (HTTP the platform advises retrying after a few seconds \
the token endpoint answered with a redirect (HTTP ; redirects are not followed \
check the datacenter URL given at registration (acronis-cred status) \
the token endpoint answered HTTP check that the datacenter URL is an Acronis datacenter (acronis-cred status) \
the datacenter's token answer is malformed: a field has the wrong type the JSON is truncated not JSON \
token_type is '', not bearer no access_token expires_on is not a number of seconds \
expires_in is not a number of seconds it gives no expiry (no expires_on, expires_in or JWT exp); \
such a token is not cached or used the token expired seconds ago (is this machine's clock right?) \
the datacenter rejected the credentials of API client \
a secret reset in the management console is the usual cause: store the new secret with `acronis-cred rotate` \
the token is empty the token is longer than 16 KiB the token has no characters before its '=' padding \
the token contains characters that a bearer token cannot contain";
