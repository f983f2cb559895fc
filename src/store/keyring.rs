//! The real stores, through `keyring-core` and explicitly chosen store crates.
//!
//! Every call runs on a worker thread with a deadline: a D-Bus peer that never
//! answers must not hang a script that asked for a token.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use crate::error::{Error, Result};

use super::{SERVICE, SecretStore, StoreKind};

/// A keychain reached through `keyring-core`.
pub struct KeyringStore {
    kind: StoreKind,
    timeout: Duration,
    /// Opened on first use, on the worker thread, since opening can block too.
    opened: Arc<Mutex<Option<Arc<CredentialStore>>>>,
    /// Whether this process has joined its own session keyring (keyutils),
    /// done on first use: a cached token must not cost these system calls.
    joined_session: Cell<bool>,
}

impl KeyringStore {
    pub fn new(kind: StoreKind, timeout: Duration) -> Result<Self> {
        if !kind.available_on_this_platform() {
            return Err(Error::usage(format!("the {kind} store is not available on this platform")));
        }
        Ok(KeyringStore {
            kind,
            timeout,
            opened: Arc::new(Mutex::new(None)),
            joined_session: Cell::new(false),
        })
    }

    /// Runs `op` against the entry for `account` on a worker thread.
    fn call<R: Send + 'static>(
        &self,
        account: &str,
        op: impl FnOnce(&Entry) -> keyring_core::Result<R> + Send + 'static,
    ) -> Result<R> {
        #[cfg(target_os = "linux")]
        if self.kind == StoreKind::Keyutils && !self.joined_session.get() {
            // Here, on the calling thread, before the worker is spawned.
            join_session_keyring()?;
            self.joined_session.set(true);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let kind = self.kind;
        let opened = Arc::clone(&self.opened);
        let account = account.to_string();
        let spawned = std::thread::Builder::new().name("store".into()).spawn(move || {
            let result = open_cached(kind, &opened).and_then(|store| {
                // Only the Secret Service shows a label (in Seahorse and
                // friends); other stores reject modifiers they do not know.
                let entry = if kind == StoreKind::SecretService {
                    let label = format!("acronis-cred: Acronis API client ({account})");
                    let modifiers = HashMap::from([("label", label.as_str())]);
                    Entry::new_in_store_with_modifiers(&store, SERVICE, &account, &modifiers)?
                } else {
                    Entry::new_in_store(&store, SERVICE, &account)?
                };
                op(&entry)
            });
            // The receiver may have given up after the deadline.
            let _ = tx.send(result);
        });
        if let Err(e) = spawned {
            return Err(Error::unexpected(format!("cannot start a thread: {e}")));
        }
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result.map_err(|e| map_error(self.kind, e)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::store(format!(
                "the {} store did not answer within {} s",
                self.kind,
                self.timeout.as_secs_f32()
            ))
            .with_hint(unavailable_hint(self.kind))),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(Error::unexpected(format!("the {} store worker stopped unexpectedly", self.kind)))
            }
        }
    }
}

fn open_cached(
    kind: StoreKind,
    opened: &Mutex<Option<Arc<CredentialStore>>>,
) -> keyring_core::Result<Arc<CredentialStore>> {
    let mut slot = opened.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(store) = slot.as_ref() {
        return Ok(Arc::clone(store));
    }
    let store = open(kind)?;
    *slot = Some(Arc::clone(&store));
    Ok(store)
}

#[allow(unreachable_code)]
fn open(kind: StoreKind) -> keyring_core::Result<Arc<CredentialStore>> {
    match kind {
        #[cfg(target_os = "linux")]
        StoreKind::SecretService => {
            let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
            Ok(store)
        }
        #[cfg(target_os = "linux")]
        StoreKind::Keyutils => {
            let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new()?;
            Ok(store)
        }
        #[cfg(target_os = "macos")]
        StoreKind::Macos => {
            let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
            Ok(store)
        }
        #[cfg(target_os = "windows")]
        StoreKind::Windows => {
            let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
            Ok(store)
        }
        other => Err(keyring_core::Error::NotSupportedByStore(format!(
            "the {other} store is not available on this platform"
        ))),
    }
}

impl SecretStore for KeyringStore {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn get(&self, account: &str) -> Result<Option<SecretString>> {
        let bytes = self.call(account, |entry| match entry.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })?;
        let Some(bytes) = bytes else { return Ok(None) };
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(SecretString::from(text))),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(Error::store(format!(
                    "the {} entry for '{account}' is not text; it was not written by acronis-cred",
                    self.kind
                )))
            }
        }
    }

    fn set(&self, account: &str, secret: &SecretString) -> Result<()> {
        let secret = secret.clone();
        self.call(account, move |entry| entry.set_secret(secret.expose_secret().as_bytes()))
    }

    fn delete(&self, account: &str) -> Result<bool> {
        self.call(account, |entry| match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }
}

/// Without a session keyring of its own the keyutils store gets EACCES.
/// Session keyrings belong to a thread's credentials and are inherited by
/// threads created later, so this runs on the calling thread before the
/// store's worker thread is spawned.
///
/// A newly joined session keyring is anonymous and, unlike the default
/// user-session keyring, does not link the user keyring; without that link
/// this process would no longer "possess" the token cache's keys in `@u`.
/// Linking it restores the usual arrangement.
#[cfg(target_os = "linux")]
fn join_session_keyring() -> Result<()> {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    let denied = |e| map_error(StoreKind::Keyutils, keyring_core::Error::NoStorageAccess(Box::new(e)));
    let session = KeyRing::from_special_id(KeyRingIdentifier::Session, true).map_err(denied)?;
    session.link_keyring_id(KeyRingIdentifier::User).map_err(denied)
}

/// Whether a Secret Service answers on the session bus within `timeout`.
pub fn probe_secret_service(timeout: Duration) -> Result<()> {
    let store = KeyringStore::new(StoreKind::SecretService, timeout)?;
    // Looking up an entry that does not exist opens a session, searches and
    // answers NoEntry: the cheapest full round trip.
    store.get("\u{0}probe").map(|_| ())
}

/// The one place platform errors become ours. Never formats the variants that
/// carry secret bytes (`BadEncoding`, `BadDataFormat`).
pub(crate) fn map_error(kind: StoreKind, err: keyring_core::Error) -> Error {
    use keyring_core::Error as K;
    let detail = match &err {
        K::PlatformFailure(e) | K::NoStorageAccess(e) => e.to_string(),
        K::BadEncoding(_) | K::BadDataFormat(..) => "the stored value is malformed".into(),
        K::Ambiguous(items) => format!("{} entries match; remove the duplicates", items.len()),
        K::TooLong(name, len) => format!("{name} is longer than the store's limit of {len}"),
        K::Invalid(attr, reason) => format!("{attr} is invalid: {reason}"),
        other => other.to_string(),
    };
    let lower = detail.to_lowercase();
    if kind == StoreKind::SecretService && (lower.contains("prompt") || lower.contains("locked")) {
        return Error::store(format!("the Secret Service keyring is locked ({detail})")).with_hint(
            "unlock the login keyring (log in to the desktop session, or run `gnome-keyring-daemon --unlock`), or use --store keyutils",
        );
    }
    if kind == StoreKind::SecretService && lower.contains("no such object") {
        return Error::store(format!("the Secret Service has no default collection ({detail})")).with_hint(
            "create a default ('login') keyring in your keyring manager, or use --store keyutils",
        );
    }
    Error::store(format!("the {kind} store failed: {detail}")).with_hint(unavailable_hint(kind))
}

fn unavailable_hint(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::SecretService => {
            "start a Secret Service (gnome-keyring, KeePassXC) on the session bus, or use --store keyutils on a headless machine, or the ACRONIS_CLIENT_ID/ACRONIS_CLIENT_SECRET/ACRONIS_DATACENTER_URL variables in CI"
        }
        StoreKind::Keyutils => {
            "the kernel keyring is not usable here (seccomp in containers often blocks it); use --store secret-service, or the environment variables in CI"
        }
        _ => "check that the system keychain is unlocked and reachable",
    }
}
