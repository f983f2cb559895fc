//! `acronis-cred token --format raw|header|json|env`.

use crate::datacenter::{Api, DatacenterUrl};
use crate::time::rfc3339;
use crate::token::AccessToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `<token>\n`
    Raw,
    /// `Authorization: Bearer <token>\n`, for `curl -H @file`.
    Header,
    /// One JSON object with the token and its expiry.
    Json,
    /// `export NAME='value'` lines for `eval`.
    Env,
}

/// The bytes for `format`. With `newline` false the final newline is left
/// out (for consumers that compare bytes).
pub fn render(
    format: Format,
    token: &AccessToken,
    dc: &DatacenterUrl,
    newline: bool,
) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(token.expose().len() + 512));
    match format {
        Format::Raw => out.push_str(token.expose()),
        Format::Header => {
            out.push_str("Authorization: Bearer ");
            out.push_str(token.expose());
        }
        Format::Json => {
            // The token alphabet needs no JSON escaping (checked in AccessToken::new).
            out.push_str("{\"access_token\":\"");
            out.push_str(token.expose());
            out.push_str("\",\"token_type\":\"Bearer\",\"expires_on\":");
            out.push_str(&token.expires_at().to_string());
            out.push_str(",\"expires_at\":\"");
            out.push_str(&rfc3339(token.expires_at()));
            out.push_str("\"}");
        }
        Format::Env => {
            let lines = [
                ("ACRONIS_TOKEN", token.expose().to_string()),
                ("ACRONIS_DATACENTER_URL", dc.as_str().to_string()),
                ("ACRONIS_API_URL", dc.api_base(Api::Account)),
                ("ACRONIS_AGENT_MANAGER_URL", dc.api_base(Api::AgentManager)),
            ];
            for (i, (name, value)) in lines.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str("export ");
                out.push_str(name);
                out.push('=');
                out.push_str(&shell_quote(value));
            }
        }
    }
    if newline {
        out.push('\n');
    }
    out
}

/// POSIX shell single-quoting: `'...'`, with `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn fixture() -> (AccessToken, DatacenterUrl) {
        (
            AccessToken::new(SecretString::from("TOK"), 1_767_225_600).unwrap(),
            DatacenterUrl::parse("https://eu2-cloud.acronis.com/").unwrap(),
        )
    }

    #[test]
    fn golden() {
        let (t, dc) = fixture();
        assert_eq!(&*render(Format::Raw, &t, &dc, true), "TOK\n");
        assert_eq!(&*render(Format::Raw, &t, &dc, false), "TOK");
        assert_eq!(&*render(Format::Header, &t, &dc, true), "Authorization: Bearer TOK\n");
        assert_eq!(
            &*render(Format::Json, &t, &dc, true),
            "{\"access_token\":\"TOK\",\"token_type\":\"Bearer\",\"expires_on\":1767225600,\"expires_at\":\"2026-01-01T00:00:00Z\"}\n"
        );
        assert_eq!(
            &*render(Format::Env, &t, &dc, true),
            "export ACRONIS_TOKEN='TOK'\n\
             export ACRONIS_DATACENTER_URL='https://eu2-cloud.acronis.com'\n\
             export ACRONIS_API_URL='https://eu2-cloud.acronis.com/api/2'\n\
             export ACRONIS_AGENT_MANAGER_URL='https://eu2-cloud.acronis.com/api/agent_manager/v2'\n"
        );
    }

    #[test]
    fn json_parses() {
        let (t, dc) = fixture();
        let v: serde_json::Value = serde_json::from_str(&render(Format::Json, &t, &dc, false)).unwrap();
        assert_eq!(v["access_token"], "TOK");
        assert_eq!(v["expires_on"], 1_767_225_600);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
        assert_eq!(shell_quote("$(x) `y`"), "'$(x) `y`'");
    }
}
