//! Rotating a profile's client secret without ever being without a working
//! one, even if the process dies half-way.
//!
//! The new credentials are first kept as *pending* in the secret store
//! (`<profile>:pending`, value `client_id:secret`), proven with a real
//! exchange, and only then promoted over the current ones. A small journal
//! (never holding a secret) names the step reached, so `rotate --resume` can
//! finish and `rotate --abort` can undo an interrupted rotation.

mod journal;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::store::SecretStore;

pub use journal::{Journal, JournalFile, Mode, Step};

/// New credentials not yet promoted. Not `Debug`: it holds the secret.
pub struct PendingCredentials {
    pub client_id: String,
    pub secret: SecretString,
}

pub fn pending_account(profile: &str) -> String {
    format!("{profile}:pending")
}

/// Where the current secret waits while it is being replaced.
pub fn previous_account(profile: &str) -> String {
    format!("{profile}:previous")
}

pub fn store_pending(store: &dyn SecretStore, profile: &str, pending: &PendingCredentials) -> Result<()> {
    let value = SecretString::from(format!("{}:{}", pending.client_id, pending.secret.expose_secret()));
    store.set(&pending_account(profile), &value)
}

/// The pending credentials of an unfinished rotation, if any.
pub fn pending_credentials(store: &dyn SecretStore, profile: &str) -> Result<Option<PendingCredentials>> {
    let Some(value) = store.get(&pending_account(profile))? else { return Ok(None) };
    // Client ids never contain ':' (checked at registration).
    match value.expose_secret().split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(Some(PendingCredentials {
            client_id: id.to_string(),
            secret: SecretString::from(secret.to_string()),
        })),
        _ => Err(Error::store(format!("the pending secret of profile '{profile}' is malformed"))
            .with_hint("undo the rotation with: acronis-cred rotate --abort")),
    }
}

/// A test-only fault hook: with `ACRONIS_CRED_TEST_KILL_AT=<point>` the
/// process kills itself (SIGKILL, no cleanup) on reaching that point, so
/// tests can prove every interrupted rotation is recoverable.
pub fn checkpoint(env: &crate::env::Env, point: &str) {
    if env.get("ACRONIS_CRED_TEST_KILL_AT") == Some(point) {
        #[cfg(unix)]
        // SAFETY: raising a signal on ourselves has no memory effects.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
        #[cfg(not(unix))]
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn pending_round_trip() {
        let store = MemoryStore::new();
        assert!(pending_credentials(&store, "p").unwrap().is_none());
        let pending = PendingCredentials { client_id: "new-id".into(), secret: SecretString::from("a:b") };
        store_pending(&store, "p", &pending).unwrap();
        let back = pending_credentials(&store, "p").unwrap().unwrap();
        assert_eq!(back.client_id, "new-id");
        assert_eq!(back.secret.expose_secret(), "a:b");
        store.set(&pending_account("p"), &SecretString::from("nocolon")).unwrap();
        assert!(pending_credentials(&store, "p").is_err());
    }
}
