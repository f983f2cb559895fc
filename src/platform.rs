//! The side-effecting parts a command needs, behind one trait so that the
//! binary uses the real ones and unit tests can substitute their own.

use std::rc::Rc;
use std::time::Duration;

use secrecy::SecretString;

use crate::cache::{KernelCache, TokenCache};
use crate::datacenter::{HttpExchange, HttpSettings, TokenExchange};
use crate::error::{Error, Result};
use crate::store::{KeyringStore, SecretStore, StoreKind, probe_secret_service};
use crate::time::Clock;

/// How long any one secret-store call may take.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `--store auto` waits for a Secret Service to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub trait Platform {
    fn open_store(&self, kind: StoreKind) -> Result<Rc<dyn SecretStore>>;
    /// The store `auto` means on this machine, or an error listing the choices.
    fn detect_store(&self) -> Result<StoreKind>;
    /// The kernel keyring cache, where it works.
    fn kernel_cache(&self) -> Option<Rc<dyn TokenCache>>;
    fn exchange<'a>(&'a self, clock: &'a dyn Clock, http: &HttpSettings) -> Box<dyn TokenExchange + 'a>;
    /// Asks for a secret on the terminal without echo.
    fn prompt_secret(&self, prompt: &str) -> Result<SecretString>;
}

pub struct RealPlatform {
    pub store_timeout: Duration,
}

impl RealPlatform {
    /// `ACRONIS_CRED_STORE_TIMEOUT` shortens the store deadline (tests of a
    /// hung keychain); anything unparsable keeps the default.
    pub fn from_env(env: &crate::env::Env) -> Self {
        let store_timeout = env
            .get("ACRONIS_CRED_STORE_TIMEOUT")
            .and_then(|t| crate::time::parse_duration(t).ok())
            .filter(|d| !d.is_zero())
            .unwrap_or(STORE_TIMEOUT);
        RealPlatform { store_timeout }
    }
}

impl Platform for RealPlatform {
    fn open_store(&self, kind: StoreKind) -> Result<Rc<dyn SecretStore>> {
        Ok(Rc::new(KeyringStore::new(kind, self.store_timeout)?))
    }

    fn detect_store(&self) -> Result<StoreKind> {
        if cfg!(target_os = "macos") {
            return Ok(StoreKind::Macos);
        }
        if cfg!(target_os = "windows") {
            return Ok(StoreKind::Windows);
        }
        // Linux: the Secret Service or nothing. Never fall back silently to a
        // store that forgets at reboot, and never to a file.
        match probe_secret_service(PROBE_TIMEOUT) {
            Ok(()) => Ok(StoreKind::SecretService),
            Err(e) => Err(Error::store(format!(
                "no Secret Service answered on the session bus ({})",
                e.message()
            ))
            .with_hint(
                "choose a store: --store keyutils (kernel keyring, no extra software, lost at reboot), or start gnome-keyring/KeePassXC and use --store secret-service; in CI, set ACRONIS_CLIENT_ID, ACRONIS_CLIENT_SECRET and ACRONIS_DATACENTER_URL instead",
            )),
        }
    }

    fn kernel_cache(&self) -> Option<Rc<dyn TokenCache>> {
        KernelCache::open().map(|c| Rc::new(c) as Rc<dyn TokenCache>)
    }

    fn exchange<'a>(&'a self, clock: &'a dyn Clock, http: &HttpSettings) -> Box<dyn TokenExchange + 'a> {
        Box::new(HttpExchange { settings: http.clone(), clock })
    }

    fn prompt_secret(&self, prompt: &str) -> Result<SecretString> {
        match rpassword::prompt_password(prompt) {
            Ok(s) => Ok(SecretString::from(s)),
            Err(e) => Err(Error::usage(format!("cannot read the secret from the terminal: {e}"))
                .with_hint("without a terminal, pipe the secret in with --secret-stdin")),
        }
    }
}
