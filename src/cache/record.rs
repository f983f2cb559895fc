//! The cached token as stored: the token plus what it was issued for.

use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::time::UnixTime;
use crate::token::AccessToken;

/// A token together with the datacenter and client it was issued to: a cache
/// entry left by another registration of the same profile is never served.
#[derive(Clone)]
pub struct CachedToken {
    pub datacenter: String,
    pub client_id: String,
    pub token: AccessToken,
    pub obtained_at: UnixTime,
}

#[derive(Deserialize)]
struct Wire {
    v: u32,
    datacenter: String,
    client_id: String,
    access_token: SecretString,
    expires_at: UnixTime,
    obtained_at: UnixTime,
}

impl CachedToken {
    pub fn is_for(&self, datacenter: &str, client_id: &str) -> bool {
        self.datacenter == datacenter && self.client_id == client_id
    }

    /// Serialised form; zeroed when dropped.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        // Every field is either a checked bearer token, an integer, or JSON-escaped.
        let text = format!(
            "{{\"v\":1,\"datacenter\":{},\"client_id\":{},\"access_token\":\"{}\",\"expires_at\":{},\"obtained_at\":{}}}",
            json_string(&self.datacenter),
            json_string(&self.client_id),
            self.token.expose(),
            self.token.expires_at(),
            self.obtained_at
        );
        Zeroizing::new(text.into_bytes())
    }

    /// `None` for anything unreadable: a damaged entry is a cache miss.
    pub fn decode(bytes: &[u8]) -> Option<CachedToken> {
        let wire: Wire = serde_json::from_slice(bytes).ok()?;
        if wire.v != 1 {
            return None;
        }
        let token = AccessToken::new(wire.access_token, wire.expires_at).ok()?;
        Some(CachedToken {
            datacenter: wire.datacenter,
            client_id: wire.client_id,
            token,
            obtained_at: wire.obtained_at,
        })
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let t = CachedToken {
            datacenter: "https://eu2-cloud.acronis.com".into(),
            client_id: "c\"1".into(),
            token: AccessToken::new(SecretString::from("tok.en"), 200).unwrap(),
            obtained_at: 100,
        };
        let bytes = t.encode();
        let back = CachedToken::decode(&bytes).unwrap();
        assert_eq!(back.token.expose(), "tok.en");
        assert_eq!(back.token.expires_at(), 200);
        assert!(back.is_for("https://eu2-cloud.acronis.com", "c\"1"));
        assert!(!back.is_for("https://eu2-cloud.acronis.com", "c2"));
        assert!(CachedToken::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(CachedToken::decode(b"{\"v\":2}").is_none());
        let bad = String::from_utf8(bytes.to_vec()).unwrap().replace("tok.en", "tok en");
        assert!(CachedToken::decode(bad.as_bytes()).is_none());
    }
}
