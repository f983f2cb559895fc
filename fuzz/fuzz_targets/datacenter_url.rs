//! The datacenter address: `DatacenterUrl::parse`.
#![no_main]

#[path = "common.rs"]
mod common;

use acronis_cred::datacenter::DatacenterUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match DatacenterUrl::parse(text) {
        Ok(url) => {
            let s = url.as_str();
            let again = DatacenterUrl::parse(s).unwrap_or_else(|e| panic!("{s:?} (from {text:?}) does not parse again: {e}"));
            assert!(again == url, "normalisation is not idempotent: {text:?} -> {s:?} -> {:?}", again.as_str());
            assert_eq!(again.as_str(), s);
            assert_eq!(url.to_string(), s);

            match url.scheme() {
                "https" => assert!(s.starts_with("https://")),
                "http" => {
                    assert!(url.is_loopback(), "plain http to a non-loopback host: {s:?}");
                    assert!(s.starts_with("http://"));
                }
                other => panic!("scheme {other:?} accepted"),
            }
            let rest = &s[s.find("://").unwrap() + 3..];
            assert!(!rest.is_empty(), "no host in {s:?}");
            assert!(!rest.contains(['/', '?', '#', '@']), "{s:?} has a path, query, fragment or userinfo");
            assert!(!s.ends_with('/'));
            assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii()), "{s:?} is not plain ASCII");
            assert_eq!(url.authority(), rest, "authority() differs from as_str()");
            assert_eq!(url.token_endpoint(), format!("{s}/api/2/idp/token"));
        }
        Err(msg) => {
            let msg_lc = msg.to_string();
            if let Some(pw) = password_part(text) {
                if !common::tolerate_known() || !known_leak(&msg) {
                    assert!(!msg_lc.contains(pw), "the error echoes the password {pw:?}: {msg:?}");
                }
            }
        }
    }
});

/// The `password` of a `user:password@` in `text`, when it is long enough to
/// tell apart from the fixed words of the messages. Read as a person would:
/// from after `scheme://` to the last `@`, past the first `:`. (The URL parser
/// may see it as a port and a path, but `parse` promises not to echo any
/// input that has an `@`.)
fn password_part(text: &str) -> Option<&str> {
    let text = text.trim();
    let at = text.rfind('@')?;
    let before = &text[..at];
    let userinfo = match before.find("://") {
        Some(i) => &before[i + 3..],
        None => before,
    };
    let (_, pw) = userinfo.split_once(':')?;
    (pw.len() >= 4 && !TEMPLATES.contains(pw)).then_some(pw)
}

/// Leaks already reported in fuzz/README.md (only skipped with
/// `ACRONIS_FUZZ_TOLERATE_KNOWN=1`).
/// Finding 4: every message but the URL parser's quotes the input, `@` or not.
fn known_leak(msg: &str) -> bool {
    [
        "' has no scheme; write it as https://",
        "' uses plain http; the datacenter must be reached over https",
        "': unsupported scheme '",
        "' has no host name",
        "' has a path ('",
        "' has a query string;",
        "' has a fragment ('#...')",
    ]
    .iter()
    .any(|m| msg.contains(m))
}

/// Fixed text of the messages in src/datacenter/url.rs and of url's errors.
const TEMPLATES: &str = "the datacenter URL is empty has no scheme; write it as https:// is not a valid URL: \
uses plain http; the datacenter must be reached over https (http is accepted only for 127.0.0.1, ::1 and localhost) \
: unsupported scheme '', use https has no host name the datacenter URL must not contain a user name or password \
has a path (''); give only the datacenter, e.g. https://eu2-cloud.acronis.com has a query string; give only scheme, host and port \
has a fragment ('#...'); give only scheme, host and port \
empty host invalid international domain name invalid port number invalid IPv4 address invalid IPv6 address \
invalid domain character relative URL without a base relative URL with a cannot-be-a-base base \
a cannot-be-a-base URL doesn’t have a host to set URLs more than 4 GB are not supported";
