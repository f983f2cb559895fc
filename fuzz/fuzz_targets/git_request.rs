//! git credential protocol: `GitRequest::parse`, `encode`, `encode_answer`.
//!
//! Input: `request bytes [NUL username bytes]`. The whole input is parsed
//! once as is (a NUL anywhere must be refused); the part before the first
//! NUL is the request, the part after it (lossy UTF-8) the user name put in
//! the legacy answer.
#![no_main]

#[path = "common.rs"]
mod common;

use acronis_cred::protocol::git::{GitAnswer, GitError, GitRequest, MAX_LINE, UnsafeValue, encode_answer};
use acronis_cred::token::AccessToken;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let whole = GitRequest::parse(data);
    if data.contains(&0) {
        assert!(whole.is_err(), "a request with a NUL byte was accepted");
    }
    let (request, username) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], String::from_utf8_lossy(&data[i + 1..]).into_owned()),
        None => (data, "CLIENT_ID".to_string()),
    };
    let req = match GitRequest::parse(request) {
        Ok(req) => req,
        Err(GitError::Nul) => panic!("NUL reported for a request without one"),
        Err(_) => return,
    };

    let line_has_cr = request.split(|&b| b == b'\n').any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.contains(&b'\r')
    });
    // Finding 1: a CR inside a key or value (not the line's last byte) is kept.
    let known = common::tolerate_known() && line_has_cr;

    // encode(): line format only, and it re-parses to the same request.
    let enc = req.encode();
    if !known {
        assert!(!enc.contains(&0), "encode() wrote a NUL");
        assert!(!enc.contains(&b'\r'), "encode() wrote a CR: {:?}", String::from_utf8_lossy(&enc));
    }
    assert!(enc.is_empty() || enc.ends_with(b"\n"), "encode() does not end with LF");
    let text = std::str::from_utf8(&enc).expect("encode() wrote invalid UTF-8");
    for line in text.lines() {
        let (k, _v) = line.split_once('=').unwrap_or_else(|| panic!("encoded line {line:?} is not key=value"));
        assert!(!k.is_empty(), "encoded line {line:?} has an empty key");
    }
    if !known {
        let again = GitRequest::parse(&enc).expect("encode() output does not parse");
        assert!(
            again == req,
            "parse(encode(r)) != r\n  encoded:    {:?}\n  re-encoded: {:?}",
            String::from_utf8_lossy(&enc),
            String::from_utf8_lossy(&again.encode())
        );
    }

    // encode_answer(): never a CR, LF or NUL inside a value.
    let token = AccessToken::new(SecretString::from("TOK"), 1).unwrap();
    let answer = GitAnswer { token: &token, username: &username, expiry: 1 };
    let bearer = req.has_capability("authtype");
    match encode_answer(&req, &answer) {
        Ok(out) => {
            let out = String::from_utf8(out).expect("answer is not UTF-8");
            assert!(out.ends_with('\n'), "answer does not end with LF");
            let lines: Vec<&str> = out[..out.len() - 1].split('\n').collect();
            for line in &lines {
                let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("answer line {line:?} is not key=value"));
                assert!(!k.is_empty());
                assert!(line.len() <= MAX_LINE, "answer line longer than {MAX_LINE}");
                assert!(!v.contains(['\r', '\0']), "answer value {v:?} has CR or NUL");
            }
            let parsed = GitRequest::parse(out.as_bytes()).expect("answer does not parse");
            if bearer {
                assert_eq!(lines[0], "capability[]=authtype", "capability must come first");
                assert_eq!(parsed.get("credential"), Some("TOK"));
                assert_eq!(parsed.get("password"), None);
            } else {
                assert_eq!(parsed.get("username"), Some(username.as_str()));
                assert_eq!(parsed.get("password"), Some("TOK"));
                assert_eq!(parsed.get("credential"), None, "credential sent without the capability");
                assert_eq!(parsed.get("authtype"), None, "authtype sent without the capability");
            }
        }
        Err(UnsafeValue(key)) => {
            // Only the user name is fuzz-derived: a refusal must be justified.
            assert!(!bearer, "bearer answer refused ({key})");
            assert_eq!(key, "username");
            assert!(
                username.contains(['\r', '\n', '\0']) || username.len() > MAX_LINE - "username=".len(),
                "a safe user name was refused"
            );
        }
    }
});
