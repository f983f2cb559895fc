//! The client-go exec credential plugin protocol (`ExecCredential`).

use crate::time::{UnixTime, rfc3339};
use crate::token::AccessToken;

pub const V1: &str = "client.authentication.k8s.io/v1";
pub const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// The `apiVersion` to answer in, from `KUBERNETES_EXEC_INFO` (absent: v1).
pub fn requested_api_version(exec_info: Option<&str>) -> Result<&'static str, String> {
    let Some(text) = exec_info.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(V1);
    };
    if text.len() > 1024 * 1024 {
        return Err("KUBERNETES_EXEC_INFO is too long".into());
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "KUBERNETES_EXEC_INFO is not JSON".to_string())?;
    match value.get("apiVersion").and_then(|v| v.as_str()) {
        Some(V1) => Ok(V1),
        Some(V1BETA1) => Ok(V1BETA1),
        Some(other) => Err(format!(
            "KUBERNETES_EXEC_INFO asks for apiVersion {:?}; supported: {V1}, {V1BETA1}",
            other.chars().take(80).collect::<String>()
        )),
        None => Err("KUBERNETES_EXEC_INFO has no apiVersion".into()),
    }
}

/// One `ExecCredential` object and a newline.
pub fn encode(api_version: &str, token: &AccessToken, expiry: UnixTime) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(token.expose().len() + 200));
    out.push_str("{\"apiVersion\":\"");
    out.push_str(api_version);
    out.push_str("\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"");
    out.push_str(token.expose());
    out.push_str("\",\"expirationTimestamp\":\"");
    out.push_str(&rfc3339(expiry));
    out.push_str("\"}}\n");
    out
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn golden() {
        let t = AccessToken::new(SecretString::from("TOK"), 1_767_225_900).unwrap();
        assert_eq!(
            &*encode(V1, &t, 1_767_225_600),
            "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"TOK\",\"expirationTimestamp\":\"2026-01-01T00:00:00Z\"}}\n"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(requested_api_version(None), Ok(V1));
        assert_eq!(requested_api_version(Some("")), Ok(V1));
        let info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;
        assert_eq!(requested_api_version(Some(info)), Ok(V1BETA1));
        let info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        assert_eq!(requested_api_version(Some(info)), Ok(V1));
        assert!(
            requested_api_version(Some(r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#)).is_err()
        );
        assert!(requested_api_version(Some("{")).is_err());
        assert!(requested_api_version(Some("{}")).is_err());
    }
}
