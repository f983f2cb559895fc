//! docker credential protocol: `parse_server_url` and `encode_get`.
#![no_main]

#[path = "common.rs"]
mod common;

use acronis_cred::protocol::docker::{encode_get, parse_server_url};
use acronis_cred::token::AccessToken;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = parse_server_url(data) else { return };
    let a = &url.authority;

    // Finding 2: `:443` and `https://:443` leave an empty authority.
    if !(common::tolerate_known() && a.is_empty()) {
        assert!(!a.is_empty(), "empty authority accepted from {:?}", url.raw);
    }
    assert!(!a.bytes().any(|b| b.is_ascii_uppercase()), "authority {a:?} is not lower case");
    assert!(!a.contains(['/', '@', '?', '#']), "authority {a:?} has '/', '@', '?' or '#'");
    assert!(!a.chars().any(|c| c.is_whitespace() || c.is_control()), "authority {a:?} has whitespace/control");
    assert_eq!(url.raw, url.raw.trim(), "raw is not trimmed");
    assert!(!url.raw.is_empty());
    if let Some(s) = &url.scheme {
        assert!(!s.bytes().any(|b| b.is_ascii_uppercase()), "scheme {s:?} is not lower case");
    }

    let token = AccessToken::new(SecretString::from("TOK"), 1).unwrap();
    let out = encode_get(&url.raw, "CLIENT", &token);
    assert!(out.ends_with("}\n"), "encode_get must end with one newline");
    assert_eq!(out.matches('\n').count(), 1, "encode_get wrote more than one line");
    let v: serde_json::Value = serde_json::from_str(&out).expect("encode_get is not JSON");
    let obj = v.as_object().expect("encode_get is not a JSON object");
    assert_eq!(obj.len(), 3, "encode_get has {} fields", obj.len());
    assert_eq!(obj.get("ServerURL").and_then(|v| v.as_str()), Some(url.raw.as_str()));
    assert_eq!(obj.get("Username").and_then(|v| v.as_str()), Some("CLIENT"));
    assert_eq!(obj.get("Secret").and_then(|v| v.as_str()), Some("TOK"));
});
