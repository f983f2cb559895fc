//! Turning the token endpoint's answer into an [`AccessToken`] or an error.
//! Pure: status, body and the clock in, result out.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::time::UnixTime;
use crate::token::AccessToken;

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<SecretString>,
    expires_on: Option<serde_json::Value>,
    expires_in: Option<serde_json::Value>,
    token_type: Option<String>,
}

/// Interprets an answer of `POST /api/2/idp/token`.
///
/// `client_id` only appears in messages. Nothing in the body is echoed except
/// the platform's own error code and description.
pub fn parse_token_response(status: u16, body: &[u8], now: UnixTime, client_id: &str) -> Result<AccessToken> {
    match status {
        200 => parse_success(body, now),
        401 => Err(rejected(client_id, body)),
        400 | 403 if is_credential_error(body) || status == 403 => Err(rejected(client_id, body)),
        429 => Err(Error::unavailable(format!(
            "the datacenter is throttling token requests (HTTP 429){}",
            platform_message(body).map(|m| format!(": {m}")).unwrap_or_default()
        ))
        .with_hint("wait a little and try again")),
        500..=599 => Err(Error::unavailable(format!(
            "the datacenter failed to issue a token (HTTP {status}){}",
            platform_message(body).map(|m| format!(": {m}")).unwrap_or_default()
        ))
        .with_hint("the platform advises retrying after a few seconds")),
        300..=399 => Err(Error::unexpected(format!(
            "the token endpoint answered with a redirect (HTTP {status}); redirects are not followed"
        ))
        .with_hint("check the datacenter URL given at registration (acronis-cred status)")),
        _ => Err(Error::unexpected(format!(
            "the token endpoint answered HTTP {status}{}",
            platform_message(body).map(|m| format!(": {m}")).unwrap_or_default()
        ))
        .with_hint("check that the datacenter URL is an Acronis datacenter (acronis-cred status)")),
    }
}

fn parse_success(body: &[u8], now: UnixTime) -> Result<AccessToken> {
    let malformed = |what: &str| {
        Error::unavailable(format!("the datacenter's token answer is malformed: {what}")).with_hint(
            "nothing was cached; try again later, and check the datacenter URL with `acronis-cred status` if it persists",
        )
    };
    let parsed: TokenBody = serde_json::from_slice(body)
        // serde_json's messages can quote the input (the token): say only which kind.
        .map_err(|e| {
            malformed(match e.classify() {
                serde_json::error::Category::Data => "a field has the wrong type",
                serde_json::error::Category::Eof => "the JSON is truncated",
                _ => "not JSON",
            })
        })?;
    if let Some(kind) = parsed.token_type.as_deref()
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(malformed(&format!("token_type is '{}', not bearer", sanitize(kind, 40))));
    }
    let Some(value) = parsed.access_token else {
        return Err(malformed("no access_token"));
    };
    let expires_at = if let Some(v) = &parsed.expires_on {
        seconds(v).ok_or_else(|| malformed("expires_on is not a number of seconds"))?
    } else if let Some(v) = &parsed.expires_in {
        let d = seconds(v).ok_or_else(|| malformed("expires_in is not a number of seconds"))?;
        now.saturating_add(d)
    } else if let Some(exp) = jwt_exp(value.expose_secret()) {
        exp
    } else {
        return Err(malformed(
            "it gives no expiry (no expires_on, expires_in or JWT exp); such a token is not cached or used",
        ));
    };
    if expires_at <= now {
        return Err(malformed(&format!(
            "the token expired {} seconds ago (is this machine's clock right?)",
            now.saturating_sub(expires_at)
        )));
    }
    AccessToken::new(value, expires_at).map_err(malformed)
}

/// The number in `expires_on`/`expires_in`: an integer, a float (floored) or a
/// numeric string, as generic OAuth2 servers vary.
fn seconds(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
        }
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// The `exp` claim of a JWT, read without verifying the signature: the value
/// is only used to decide when to ask again, never to trust the token.
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    seconds(claims.get("exp")?)
}

fn is_credential_error(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    matches!(
        v.get("error").and_then(|e| e.as_str()),
        Some("invalid_client" | "unauthorized_client" | "invalid_grant" | "access_denied")
    )
}

fn rejected(client_id: &str, body: &[u8]) -> Error {
    let detail = platform_message(body).map(|m| format!(" ({m})")).unwrap_or_default();
    Error::rejected(format!(
        "the datacenter rejected the credentials of API client {client_id}{detail}"
    ))
    .with_hint(
        "a secret reset in the management console is the usual cause: store the new secret with `acronis-cred rotate`",
    )
}

/// The message of either platform error shape, cleaned for a terminal:
/// OAuth2 `{"error":"...","error_description":"..."}` or
/// Account API `{"error":{"code":..,"message":"..."}}`.
pub fn platform_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    let text = match error {
        serde_json::Value::String(code) => match v.get("error_description").and_then(|d| d.as_str()) {
            Some(desc) if !desc.is_empty() => format!("{code}: {desc}"),
            _ => code.clone(),
        },
        serde_json::Value::Object(obj) => {
            let code = match obj.get("code") {
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            let message = obj.get("message").and_then(|m| m.as_str());
            match (code, message) {
                (Some(c), Some(m)) => format!("{m} (code {c})"),
                (None, Some(m)) => m.to_string(),
                (Some(c), None) => format!("code {c}"),
                (None, None) => return None,
            }
        }
        _ => return None,
    };
    Some(sanitize(&text, 300))
}

/// Drops control characters and bounds the length of text that came from the
/// network before it reaches a terminal.
fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(max_chars).collect();
    if text.chars().filter(|c| !c.is_control()).count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const NOW: i64 = 1_700_000_000;

    fn ok(body: &str) -> AccessToken {
        parse_token_response(200, body.as_bytes(), NOW, "cid").unwrap_or_else(|e| panic!("{e}"))
    }

    fn kind(status: u16, body: &str) -> (ErrorKind, String) {
        match parse_token_response(status, body.as_bytes(), NOW, "cid") {
            Ok(_) => panic!("accepted {status} {body}"),
            Err(e) => (e.kind(), e.message().to_string()),
        }
    }

    #[test]
    fn documented_answer() {
        let t =
            ok(r#"{"access_token":"eyJ.a.b","expires_on":1700007200,"id_token":"x","token_type":"bearer"}"#);
        assert_eq!(t.expose(), "eyJ.a.b");
        assert_eq!(t.expires_at(), 1_700_007_200);
    }

    #[test]
    fn expiry_sources_in_order() {
        assert_eq!(ok(r#"{"access_token":"t","expires_in":3600}"#).expires_at(), NOW + 3600);
        assert_eq!(
            ok(r#"{"access_token":"t","expires_on":"1700000100","expires_in":5}"#).expires_at(),
            NOW + 100
        );
        assert_eq!(ok(r#"{"access_token":"t","expires_on":1700000100.9}"#).expires_at(), NOW + 100);
        // header {"alg":"none"}, payload {"exp":1700000500}
        let jwt = format!(
            "eyJhbGciOiJub25lIn0.{}.sig",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1700000500,"sub":"c"}"#)
        );
        assert_eq!(ok(&format!(r#"{{"access_token":"{jwt}"}}"#)).expires_at(), NOW + 500);
    }

    #[test]
    fn refuses_tokens_without_expiry_or_expired() {
        let (k, m) = kind(200, r#"{"access_token":"opaque"}"#);
        assert_eq!(k, ErrorKind::Unavailable);
        assert!(m.contains("no expiry"), "{m}");
        let (_, m) = kind(200, &format!(r#"{{"access_token":"t","expires_on":{}}}"#, NOW - 10));
        assert!(m.contains("expired"), "{m}");
        // Extreme numbers must not overflow (found by the fuzz target).
        for body in [
            r#"{"access_token":"t","expires_in":-1e19}"#,
            r#"{"access_token":"t","expires_on":-1e30}"#,
            r#"{"access_token":"t","expires_on":-9223372036854775808}"#,
        ] {
            assert!(kind(200, body).1.contains("expired"), "{body}");
        }
        let (_, m) = kind(200, r#"{"access_token":"t","expires_on":true}"#);
        assert!(m.contains("expires_on"), "{m}");
    }

    #[test]
    fn refuses_malformed_success() {
        assert!(kind(200, "{").1.contains("malformed"));
        assert!(kind(200, "<html>oops</html>").1.contains("malformed"));
        assert!(kind(200, r#"{"expires_on":1800000000}"#).1.contains("no access_token"));
        assert!(kind(200, r#"{"access_token":"a\nb","expires_on":1800000000}"#).1.contains("characters"));
        assert!(
            kind(200, r#"{"access_token":"t","expires_on":1800000000,"token_type":"mac"}"#).1.contains("mac")
        );
    }

    #[test]
    fn malformed_token_is_not_echoed() {
        let (_, m) = kind(200, r#"{"access_token":"leaky secret\n","expires_on":1800000000}"#);
        assert!(!m.contains("leaky"), "{m}");
    }

    #[test]
    fn status_mapping() {
        let oauth = r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;
        let (k, m) = kind(401, oauth);
        assert_eq!(k, ErrorKind::Rejected);
        assert!(m.contains("invalid_client: Client authentication failed") && m.contains("cid"), "{m}");
        assert_eq!(kind(400, oauth).0, ErrorKind::Rejected);
        assert_eq!(kind(401, "").0, ErrorKind::Rejected);
        assert_eq!(kind(403, "").0, ErrorKind::Rejected);
        assert_eq!(kind(400, r#"{"error":"invalid_request"}"#).0, ErrorKind::Unexpected);
        assert_eq!(kind(429, "").0, ErrorKind::Unavailable);
        assert_eq!(kind(500, "").0, ErrorKind::Unavailable);
        assert_eq!(kind(503, "<html>").0, ErrorKind::Unavailable);
        assert_eq!(kind(302, "").0, ErrorKind::Unexpected);
        let (k, m) = kind(404, r#"{"error":{"code":"404","message":"Not found"}}"#);
        assert_eq!(k, ErrorKind::Unexpected);
        assert!(m.contains("HTTP 404: Not found (code 404)"), "{m}");
    }

    #[test]
    fn platform_error_shapes() {
        let body = r#"{"error":{"code":1006,"message":"It is prohibited to delete a non-disabled tenant.","details":{"info":"..."},"domain":"PlatformAccountServer"}}"#;
        assert_eq!(
            platform_message(body.as_bytes()).unwrap(),
            "It is prohibited to delete a non-disabled tenant. (code 1006)"
        );
        assert_eq!(platform_message(br#"{"error":"x\u001b[31m"}"#).unwrap(), "x[31m");
        assert_eq!(platform_message(b"not json"), None);
        let long = format!(r#"{{"error":"{}"}}"#, "a".repeat(1000));
        assert!(platform_message(long.as_bytes()).unwrap().chars().count() <= 301);
    }
}
