//! Terraform / OpenTofu credentials helper protocol
//! (`terraform-credentials-NAME [args...] get|store|forget HOSTNAME`).

use crate::token::AccessToken;

/// Bound on what `store` may send on stdin.
pub const MAX_STORE_INPUT: usize = 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Operation {
    Get,
    Store,
    Forget,
}

/// Terraform puts the helper's own `args` first; the operation and the host
/// are always the last two arguments.
pub fn parse_args(args: &[String]) -> Result<(Operation, String), String> {
    let [.., op, host] = args else {
        return Err("expected: get|store|forget HOSTNAME".into());
    };
    let op = match op.as_str() {
        "get" => Operation::Get,
        "store" => Operation::Store,
        "forget" => Operation::Forget,
        other => {
            return Err(format!(
                "unknown operation {:?} (expected get, store or forget)",
                other.chars().take(40).collect::<String>()
            ));
        }
    };
    let host = host.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'));
    if !valid {
        return Err("the host name is not valid".into());
    }
    Ok((op, host))
}

/// `{"token":"..."}` and a newline.
pub fn encode_token(token: &AccessToken) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(token.expose().len() + 16));
    out.push_str("{\"token\":\"");
    out.push_str(token.expose());
    out.push_str("\"}\n");
    out
}

/// The answer for a host this helper has nothing for.
pub const NOTHING: &str = "{}\n";

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn golden() {
        let t = AccessToken::new(SecretString::from("TOK"), 1).unwrap();
        assert_eq!(&*encode_token(&t), "{\"token\":\"TOK\"}\n");
        assert_eq!(NOTHING, "{}\n");
    }

    #[test]
    fn argv() {
        assert_eq!(
            parse_args(&args(&["get", "eu2-cloud.acronis.com"])),
            Ok((Operation::Get, "eu2-cloud.acronis.com".into()))
        );
        assert_eq!(
            parse_args(&args(&["--x", "y", "forget", "H:8443"])),
            Ok((Operation::Forget, "h:8443".into()))
        );
        assert_eq!(parse_args(&args(&["store", "h"])), Ok((Operation::Store, "h".into())));
        assert!(parse_args(&args(&["get"])).is_err());
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["list", "h"])).is_err());
        assert!(parse_args(&args(&["get", "a/b"])).is_err());
        assert!(parse_args(&args(&["get", ""])).is_err());
    }
}
