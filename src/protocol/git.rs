//! git's credential helper protocol: `key=value` lines in, the same out.
//!
//! The codec is lossless for what it keeps (every line, in order) so a parsed
//! request encodes back to the same bytes, and it refuses NUL, CR and LF in
//! values and `=` in keys when writing: those are exactly the injections of
//! CVE-2020-5260 and CVE-2024-52006.

use std::fmt;

use crate::time::UnixTime;
use crate::token::AccessToken;

/// Longest line git itself accepts.
pub const MAX_LINE: usize = 65_535;
/// Bound on a whole request; git's are a few hundred bytes.
pub const MAX_REQUEST: usize = 256 * 1024;

/// A parsed request: every `key=value` line in order. Not `Debug`: git sends
/// the password it used along with `erase`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GitRequest {
    lines: Vec<(String, String)>,
}

/// Shows keys and values, except those that carry a secret.
impl fmt::Debug for GitRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.lines.iter().map(|(k, v)| match k.as_str() {
                "password" | "credential" | "oauth_refresh_token" => format!("{k}=[redacted]"),
                _ => format!("{k}={v}"),
            }))
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum GitError {
    TooLong,
    Nul,
    NotUtf8,
    NoEquals {
        line: usize,
    },
    EmptyKey {
        line: usize,
    },
    /// A carriage return inside a line (CVE-2024-52006 smuggles lines so).
    CarriageReturn {
        line: usize,
    },
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitError::TooLong => write!(f, "the request is too long"),
            GitError::Nul => write!(f, "the request contains a NUL byte"),
            GitError::NotUtf8 => write!(f, "the request is not UTF-8 text"),
            GitError::NoEquals { line } => write!(f, "line {line} is not key=value"),
            GitError::EmptyKey { line } => write!(f, "line {line} has an empty key"),
            GitError::CarriageReturn { line } => write!(f, "line {line} contains a carriage return"),
        }
    }
}

impl GitRequest {
    /// Parses up to the first empty line or the end of input. A trailing CR
    /// on a line is dropped, as git does.
    pub fn parse(input: &[u8]) -> Result<GitRequest, GitError> {
        if input.len() > MAX_REQUEST {
            return Err(GitError::TooLong);
        }
        if input.contains(&0) {
            return Err(GitError::Nul);
        }
        let text = std::str::from_utf8(input).map_err(|_| GitError::NotUtf8)?;
        let mut lines = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                break;
            }
            if line.len() > MAX_LINE {
                return Err(GitError::TooLong);
            }
            if line.contains('\r') {
                return Err(GitError::CarriageReturn { line: i + 1 });
            }
            let (key, value) = line.split_once('=').ok_or(GitError::NoEquals { line: i + 1 })?;
            if key.is_empty() {
                return Err(GitError::EmptyKey { line: i + 1 });
            }
            lines.push((key.to_string(), value.to_string()));
        }
        Ok(GitRequest { lines })
    }

    /// The request as git would send it (without the final blank line).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.lines {
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The last value of `key` (git lets later lines override earlier ones).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn has_capability(&self, cap: &str) -> bool {
        self.lines.iter().any(|(k, v)| k == "capability[]" && v == cap)
    }

    pub fn protocol(&self) -> Option<&str> {
        self.get("protocol")
    }

    pub fn host(&self) -> Option<&str> {
        self.get("host")
    }

    /// The credential git is reporting on (`erase`): the bearer credential,
    /// else the password.
    pub fn presented_secret(&self) -> Option<&str> {
        self.get("credential").or_else(|| self.get("password"))
    }
}

/// What to answer a `get`.
pub struct GitAnswer<'a> {
    pub token: &'a AccessToken,
    /// Used for the legacy username/password answer.
    pub username: &'a str,
    /// Reported as `password_expiry_utc`: already shortened by the margin.
    pub expiry: UnixTime,
}

/// A value that would break the line format.
#[derive(Debug, PartialEq, Eq)]
pub struct UnsafeValue(pub &'static str);

/// Writes the answer to `get`. With `capability[]=authtype` advertised: a
/// Bearer credential git sends as `Authorization: Bearer`; otherwise the
/// legacy username/password pair, the token as the password.
pub fn encode_answer(request: &GitRequest, answer: &GitAnswer<'_>) -> Result<Vec<u8>, UnsafeValue> {
    let expiry = answer.expiry.to_string();
    let fields: Vec<(&'static str, &str)> = if request.has_capability("authtype") {
        vec![
            ("capability[]", "authtype"),
            ("authtype", "Bearer"),
            ("credential", answer.token.expose()),
            ("ephemeral", "1"),
            ("password_expiry_utc", &expiry),
        ]
    } else {
        vec![
            ("username", answer.username),
            ("password", answer.token.expose()),
            ("password_expiry_utc", &expiry),
        ]
    };
    let mut out = Vec::with_capacity(answer.token.expose().len() + 128);
    for (key, value) in fields {
        if value.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)) || value.len() > MAX_LINE - key.len() - 1 {
            return Err(UnsafeValue(key));
        }
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn tok() -> AccessToken {
        AccessToken::new(SecretString::from("TOK"), 1_767_225_600).unwrap()
    }

    fn answer(input: &str) -> String {
        let req = GitRequest::parse(input.as_bytes()).unwrap();
        let t = tok();
        let a = GitAnswer { token: &t, username: "CLIENT_ID", expiry: 1_767_225_600 };
        String::from_utf8(encode_answer(&req, &a).unwrap()).unwrap()
    }

    #[test]
    fn golden_authtype() {
        assert_eq!(
            answer("capability[]=authtype\nprotocol=https\nhost=eu2-cloud.acronis.com\n\n"),
            "capability[]=authtype\nauthtype=Bearer\ncredential=TOK\nephemeral=1\npassword_expiry_utc=1767225600\n"
        );
    }

    #[test]
    fn golden_legacy() {
        assert_eq!(
            answer("protocol=https\nhost=eu2-cloud.acronis.com\n\n"),
            "username=CLIENT_ID\npassword=TOK\npassword_expiry_utc=1767225600\n"
        );
        // Only `authtype` unlocks the bearer answer; `state` alone does not.
        assert!(answer("capability[]=state\nprotocol=https\nhost=h\n").starts_with("username="));
    }

    #[test]
    fn parse_fields_and_round_trip() {
        let input = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=h:8443\npath=a/b\nusername=u\npassword=p=q\nwwwauth[]=Bearer realm=\"x\"\nfuture-key=1\n";
        let req = GitRequest::parse(input.as_bytes()).unwrap();
        assert!(req.has_capability("authtype") && req.has_capability("state"));
        assert_eq!(req.host(), Some("h:8443"));
        assert_eq!(req.get("password"), Some("p=q"));
        assert_eq!(req.presented_secret(), Some("p=q"));
        assert_eq!(req.encode(), input.as_bytes());
    }

    #[test]
    fn stops_at_blank_line_and_accepts_eof_and_crlf() {
        let req = GitRequest::parse(b"protocol=https\r\nhost=h\n\nhost=evil\n").unwrap();
        assert_eq!(req.host(), Some("h"));
        assert_eq!(req.protocol(), Some("https"));
        assert_eq!(GitRequest::parse(b"host=h").unwrap().host(), Some("h"));
        assert_eq!(GitRequest::parse(b"").unwrap(), GitRequest::default());
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(GitRequest::parse(b"host=a\0b\n").err(), Some(GitError::Nul));
        assert_eq!(GitRequest::parse(b"hosth\n").err(), Some(GitError::NoEquals { line: 1 }));
        assert_eq!(GitRequest::parse(b"=x\n").err(), Some(GitError::EmptyKey { line: 1 }));
        assert_eq!(GitRequest::parse(b"host=a\rb\n").err(), Some(GitError::CarriageReturn { line: 1 }));
        assert_eq!(GitRequest::parse(b"host=\xff\n").err(), Some(GitError::NotUtf8));
        let long = format!("host={}\n", "a".repeat(MAX_LINE));
        assert_eq!(GitRequest::parse(long.as_bytes()).err(), Some(GitError::TooLong));
        assert_eq!(GitRequest::parse(&vec![b'a'; MAX_REQUEST + 1]).err(), Some(GitError::TooLong));
    }

    #[test]
    fn debug_redacts_secrets() {
        let req = GitRequest::parse(b"host=h\npassword=hunter2\ncredential=tok\n").unwrap();
        let shown = format!("{req:?}");
        assert!(
            shown.contains("host=h") && !shown.contains("hunter2") && !shown.contains("tok\""),
            "{shown}"
        );
    }

    #[test]
    fn refuses_to_write_line_breaks() {
        let req = GitRequest::parse(b"protocol=https\n").unwrap();
        let t = tok();
        for bad in ["a\nb", "a\rb", "a\0b"] {
            let a = GitAnswer { token: &t, username: bad, expiry: 1 };
            assert_eq!(encode_answer(&req, &a).err(), Some(UnsafeValue("username")));
        }
    }
}
