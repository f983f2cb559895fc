//! Where the client secret lives: a small trait with one implementation per
//! OS keychain, plus an in-memory one for unit tests.
//!
//! Platform errors are turned into [`Error`]s (exit code 6) at exactly one
//! place, [`keyring::map_error`], so commands never see a platform type.

mod keyring;
mod memory;

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

use crate::error::Result;

pub use keyring::{KeyringStore, probe_secret_service};
pub use memory::MemoryStore;

/// The service name every entry is stored under: `secret-tool search service
/// acronis-cred` lists them.
pub const SERVICE: &str = "acronis-cred";

/// A secret store. `account` is the entry's user name: the profile name for a
/// client secret, `<profile>:token` for a cached token.
pub trait SecretStore {
    fn kind(&self) -> StoreKind;
    fn get(&self, account: &str) -> Result<Option<SecretString>>;
    fn set(&self, account: &str, secret: &SecretString) -> Result<()>;
    /// Returns whether something was deleted; deleting nothing is not an error.
    fn delete(&self, account: &str) -> Result<bool>;
}

/// A concrete store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// freedesktop Secret Service (gnome-keyring, KWallet, KeePassXC) over D-Bus.
    SecretService,
    /// The Linux kernel's persistent keyring.
    Keyutils,
    /// macOS Keychain.
    Macos,
    /// Windows Credential Manager.
    Windows,
    /// Process memory; unit tests only, never selectable from the command line.
    Memory,
}

/// What the user asked for: a concrete store or "whatever this machine has".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    Auto,
    Kind(StoreKind),
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::SecretService => "secret-service",
            StoreKind::Keyutils => "keyutils",
            StoreKind::Macos => "macos",
            StoreKind::Windows => "windows",
            StoreKind::Memory => "memory",
        }
    }

    /// Whether a secret kept here is still there after a reboot.
    pub fn survives_reboot(self) -> bool {
        !matches!(self, StoreKind::Keyutils | StoreKind::Memory)
    }

    /// One line on how long a secret stays in this store.
    pub fn persistence(self) -> String {
        match self {
            StoreKind::SecretService => "on disk, encrypted by the login keyring; survives reboots".into(),
            StoreKind::Keyutils => {
                let days = persistent_keyring_expiry_secs()
                    .map(|s| format!("{} days", s / 86_400))
                    .unwrap_or_else(|| "a few days".into());
                format!("kernel persistent keyring: lost at reboot and after {days} without use")
            }
            StoreKind::Macos => "macOS login keychain; survives reboots".into(),
            StoreKind::Windows => "Windows Credential Manager; survives reboots".into(),
            StoreKind::Memory => "process memory only".into(),
        }
    }

    pub fn available_on_this_platform(self) -> bool {
        match self {
            StoreKind::SecretService | StoreKind::Keyutils => cfg!(target_os = "linux"),
            StoreKind::Macos => cfg!(target_os = "macos"),
            StoreKind::Windows => cfg!(target_os = "windows"),
            StoreKind::Memory => false,
        }
    }
}

fn persistent_keyring_expiry_secs() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/keys/persistent_keyring_expiry").ok()?.trim().parse().ok()
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "secret-service" => Ok(StoreKind::SecretService),
            "keyutils" => Ok(StoreKind::Keyutils),
            "macos" => Ok(StoreKind::Macos),
            "windows" => Ok(StoreKind::Windows),
            other => {
                Err(format!("unknown store '{other}' (expected secret-service, keyutils, macos or windows)"))
            }
        }
    }
}

impl FromStr for StoreChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" { Ok(StoreChoice::Auto) } else { s.parse().map(StoreChoice::Kind) }
    }
}

impl fmt::Display for StoreChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreChoice::Auto => f.write_str("auto"),
            StoreChoice::Kind(k) => k.fmt(f),
        }
    }
}

/// Account name under which a profile's cached token is kept in a store.
pub fn token_account(profile: &str) -> String {
    format!("{profile}:token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in [StoreKind::SecretService, StoreKind::Keyutils, StoreKind::Macos, StoreKind::Windows] {
            assert_eq!(k.name().parse::<StoreKind>(), Ok(k));
            assert_eq!(k.name().parse::<StoreChoice>(), Ok(StoreChoice::Kind(k)));
        }
        assert_eq!("auto".parse::<StoreChoice>(), Ok(StoreChoice::Auto));
        assert!("memory".parse::<StoreKind>().is_err());
        assert!("plaintext".parse::<StoreChoice>().is_err());
    }

    #[test]
    fn persistence_facts() {
        assert!(StoreKind::SecretService.survives_reboot());
        assert!(!StoreKind::Keyutils.survives_reboot());
        assert!(StoreKind::Keyutils.persistence().contains("lost at reboot"));
    }
}
