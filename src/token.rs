//! The bearer token and its expiry.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::time::UnixTime;

/// Longest token accepted from a datacenter. Platform JWTs are a few KiB; a
/// bound keeps a hostile answer from growing every cache and output.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// An access token with its absolute expiry. Deliberately not `Debug`-derived:
/// the value is only reachable through [`AccessToken::expose`].
#[derive(Clone)]
pub struct AccessToken {
    value: SecretString,
    expires_at: UnixTime,
}

impl AccessToken {
    /// Refuses values outside the RFC 6750 `b64token` alphabet, so a token can
    /// be written into a header, a shell variable, JSON or a line protocol
    /// without any escaping, and can never inject a line or a field.
    pub fn new(value: SecretString, expires_at: UnixTime) -> Result<Self, &'static str> {
        check_bearer_syntax(value.expose_secret())?;
        Ok(AccessToken { value, expires_at })
    }

    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// Seconds of validity left at `now` (negative once expired).
    pub fn remaining(&self, now: UnixTime) -> i64 {
        self.expires_at.saturating_sub(now)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// RFC 6750 section 2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn check_bearer_syntax(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        return Err("the token is empty");
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err("the token is longer than 16 KiB");
    }
    let body = token.trim_end_matches('=');
    if body.is_empty() {
        return Err("the token has no characters before its '=' padding");
    }
    let ok = body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'));
    if ok { Ok(()) } else { Err("the token contains characters that a bearer token cannot contain") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_alphabet() {
        assert!(check_bearer_syntax("eyJhbGciOi.J9-_~+/x==").is_ok());
        assert!(check_bearer_syntax("abc").is_ok());
        for bad in ["", "==", "a b", "a\nb", "a\rb", "a\0b", "a\"b", "a'b", "a=b", "é"] {
            assert!(check_bearer_syntax(bad).is_err(), "{bad:?}");
        }
        assert!(check_bearer_syntax(&"a".repeat(MAX_TOKEN_LEN)).is_ok());
        assert!(check_bearer_syntax(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let t = AccessToken::new(SecretString::from("sekrit-token"), 5).unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert_eq!(t.remaining(2), 3);
    }
}
