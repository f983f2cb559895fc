//! Docker's credential helper protocol (`docker-credential-NAME <action>`).
//!
//! docker reads stdout for answers *and* errors: both are written here.

use crate::token::AccessToken;

/// docker's own "not found" sentence; docker compares it verbatim.
pub const NOT_FOUND: &str = "credentials not found in native keychain";
/// Bound on stdin (a server URL, or a small JSON object for `store`).
pub const MAX_INPUT: usize = 64 * 1024;

/// The server named on stdin: `https://host[:port][/...]` or `host[:port]`.
pub struct ServerUrl {
    /// As given, trimmed: echoed back in `ServerURL`.
    pub raw: String,
    /// `http` or `https` when the URL has a scheme.
    pub scheme: Option<String>,
    /// `host` or `host:port`, lower case.
    pub authority: String,
}

pub fn parse_server_url(input: &[u8]) -> Result<ServerUrl, String> {
    if input.len() > MAX_INPUT {
        return Err("the server URL is too long".into());
    }
    let text = std::str::from_utf8(input).map_err(|_| "the server URL is not UTF-8 text".to_string())?;
    let raw = text.trim();
    if raw.is_empty() {
        return Err("no server URL on standard input".into());
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the server URL contains spaces or control characters".into());
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, rest)) => (Some(s.to_ascii_lowercase()), rest),
        None => (None, raw),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("the server URL has no usable host".into());
    }
    let authority = authority.to_ascii_lowercase();
    // `host:443` with https is `host`: docker users write both.
    let authority = match (scheme.as_deref(), authority.strip_suffix(":443")) {
        (Some("https") | None, Some(host)) => host.to_string(),
        _ => authority,
    };
    // `https://:443` names no host (found by the fuzz target).
    if authority.is_empty() || authority.starts_with(':') {
        return Err("the server URL has no usable host".into());
    }
    Ok(ServerUrl { raw: raw.to_string(), scheme, authority })
}

/// `{"ServerURL":...,"Username":...,"Secret":...}` and a newline.
pub fn encode_get(server: &str, username: &str, token: &AccessToken) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(token.expose().len() + 256));
    out.push_str("{\"ServerURL\":");
    out.push_str(&json_string(server));
    out.push_str(",\"Username\":");
    out.push_str(&json_string(username));
    // Bearer-token alphabet: nothing to escape.
    out.push_str(",\"Secret\":\"");
    out.push_str(token.expose());
    out.push_str("\"}\n");
    out
}

/// `{"<url>":"<username>",...}` and a newline.
pub fn encode_list<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = entries
        .into_iter()
        .map(|(url, user)| (url.to_string(), serde_json::Value::String(user.to_string())))
        .collect();
    let mut out = serde_json::Value::Object(map).to_string();
    out.push('\n');
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn golden_get() {
        let t = AccessToken::new(SecretString::from("TOK"), 1).unwrap();
        assert_eq!(
            &*encode_get("https://eu2-cloud.acronis.com", "CLIENT_ID", &t),
            "{\"ServerURL\":\"https://eu2-cloud.acronis.com\",\"Username\":\"CLIENT_ID\",\"Secret\":\"TOK\"}\n"
        );
    }

    #[test]
    fn server_urls() {
        let p = |s: &str| parse_server_url(s.as_bytes()).map(|u| (u.scheme, u.authority));
        assert_eq!(
            p("https://eu2-cloud.acronis.com"),
            Ok((Some("https".into()), "eu2-cloud.acronis.com".into()))
        );
        assert_eq!(
            p("https://EU2-cloud.acronis.com/v2/\n"),
            Ok((Some("https".into()), "eu2-cloud.acronis.com".into()))
        );
        assert_eq!(p("eu2-cloud.acronis.com:443"), Ok((None, "eu2-cloud.acronis.com".into())));
        assert_eq!(p("http://127.0.0.1:8080"), Ok((Some("http".into()), "127.0.0.1:8080".into())));
        assert!(p("").is_err());
        assert!(p("https://").is_err());
        assert!(p("https://user@host").is_err());
        assert!(p("https://:443/v2").is_err());
        assert!(p(":443").is_err());
        assert!(p("https://:8443").is_err());
        assert!(p("a b").is_err());
        assert!(parse_server_url(b"\xff").is_err());
        assert_eq!(parse_server_url(b"https://h").unwrap().raw, "https://h");
    }

    #[test]
    fn list() {
        assert_eq!(
            encode_list([("https://a", "c1"), ("https://b", "c2")]),
            "{\"https://a\":\"c1\",\"https://b\":\"c2\"}\n"
        );
        assert_eq!(encode_list([]), "{}\n");
    }
}
