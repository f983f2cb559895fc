//! Profiles: the non-secret half of a registration, kept in a TOML file.
//!
//! The file is only ever replaced atomically, under a lock, and a file that
//! does not parse is reported and left alone, never overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::datacenter::DatacenterUrl;
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};
use crate::store::StoreKind;

pub const DEFAULT_PROFILE: &str = "default";

const HEADER: &str = "\
# acronis-cred configuration. No secret is kept in this file: client secrets
# live in the secret store named by each profile. Edit with care; the file is
# rewritten by `acronis-cred register` and `acronis-cred remove`.
";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// Network settings for every profile; flags and environment win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConfig>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Keys written by a newer version are kept as they are.
    #[serde(flatten)]
    pub other: toml::Table,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HttpConfig {
    /// Overall time limit of one request, e.g. "30s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(flatten)]
    pub other: toml::Table,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub datacenter: String,
    pub client_id: String,
    /// The store holding the secret: `secret-service`, `keyutils`, `macos`, `windows`.
    pub store: String,
    /// Where tokens are cached: `auto` (kernel keyring where it works, else
    /// the secret store), `kernel`, `store` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_cache: Option<String>,
    pub registered_at: String,
    pub updated_at: String,
    /// When the secret was last replaced (`rotate`, or `register --force`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    #[serde(flatten)]
    pub other: toml::Table,
}

impl Profile {
    pub fn datacenter_url(&self, path: &Path, name: &str) -> Result<DatacenterUrl> {
        DatacenterUrl::parse(&self.datacenter).map_err(|e| corrupt(path, &format!("profile '{name}': {e}")))
    }

    pub fn store_kind(&self, path: &Path, name: &str) -> Result<StoreKind> {
        self.store.parse().map_err(|e: String| corrupt(path, &format!("profile '{name}': {e}")))
    }
}

/// Where the config lives and how to change it safely.
pub struct ConfigFile {
    path: PathBuf,
}

impl ConfigFile {
    pub fn new(path: PathBuf) -> Self {
        ConfigFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the config; a missing file is an empty config.
    pub fn load(&self) -> Result<Config> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Error::io("read the config file", &self.path, e)),
        };
        let config: Config = toml::from_str(&text).map_err(|e| corrupt(&self.path, e.message()))?;
        for name in config.profiles.keys() {
            check_profile_name(name).map_err(|e| corrupt(&self.path, &e))?;
        }
        Ok(config)
    }

    /// Read-modify-write under the config lock. `change` returns whether it
    /// changed anything; the file is written only then.
    pub fn update<T>(&self, change: impl FnOnce(&mut Config) -> Result<(T, bool)>) -> Result<T> {
        let _lock = FileLock::acquire(&self.lock_path(), Duration::from_secs(30), "config")?;
        let mut config = self.load()?;
        let (value, changed) = change(&mut config)?;
        if changed {
            self.save(&config)?;
        }
        Ok(value)
    }

    fn save(&self, config: &Config) -> Result<()> {
        let body = toml::to_string_pretty(config)
            .map_err(|e| Error::unexpected(format!("cannot serialise the config: {e}")))?;
        fsutil::write_atomically(&self.path, format!("{HEADER}\n{body}").as_bytes())
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".lock");
        self.path.with_file_name(name)
    }
}

fn corrupt(path: &Path, detail: &str) -> Error {
    Error::unexpected(format!("the config file {} is not valid: {}", path.display(), detail.trim()))
        .with_hint("fix it by hand or move it away; acronis-cred never overwrites a file it cannot read")
}

/// Profile names end up in file names, keyring descriptions and messages:
/// keep them to a safe alphabet.
pub fn check_profile_name(name: &str) -> std::result::Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid profile name {name:?}: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

/// Client ids are sent as the HTTP Basic user name, where ':' cannot appear,
/// and are printed in protocols that are line based.
pub fn check_client_id(id: &str) -> std::result::Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= 256
        && id.bytes().all(|b| b.is_ascii_graphic() && b != b':' && b != b'"' && b != b'\\');
    if valid {
        Ok(())
    } else {
        Err("invalid client id: expected printable ASCII without spaces, ':', '\"' or '\\' (the id looks like a UUID)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            datacenter: "https://eu2-cloud.acronis.com".into(),
            client_id: "c1".into(),
            store: "keyutils".into(),
            token_cache: None,
            registered_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            rotated_at: None,
            other: Default::default(),
        }
    }

    #[test]
    fn round_trip_keeps_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path().join("config.toml"));
        assert!(file.load().unwrap().profiles.is_empty());
        file.update(|c| {
            c.profiles.insert("default".into(), profile());
            Ok(((), true))
        })
        .unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.starts_with("# acronis-cred configuration"), "{text}");
        let edited = text.replace("[profiles.default]", "future = 1\n\n[profiles.default]\nlater = \"x\"");
        std::fs::write(file.path(), edited).unwrap();
        file.update(|c| {
            c.profiles.get_mut("default").unwrap().client_id = "c2".into();
            Ok(((), true))
        })
        .unwrap();
        let config = file.load().unwrap();
        assert_eq!(config.profiles["default"].client_id, "c2");
        assert_eq!(config.other.get("future").and_then(|v| v.as_integer()), Some(1));
        assert_eq!(config.profiles["default"].other.get("later").and_then(|v| v.as_str()), Some("x"));
    }

    #[test]
    fn corrupt_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path().join("config.toml"));
        std::fs::write(file.path(), "[profiles.default\nclient_id = 3").unwrap();
        let err = file.update(|_| Ok(((), true))).unwrap_err();
        assert!(err.message().contains("is not valid"), "{}", err.message());
        assert!(err.hint().unwrap().contains("never overwrites"));
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "[profiles.default\nclient_id = 3");
    }

    #[test]
    fn bad_profile_name_in_file_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path().join("config.toml"));
        std::fs::write(
            file.path(),
            "[profiles.\"../x\"]\ndatacenter=\"https://a.b\"\nclient_id=\"c\"\nstore=\"keyutils\"\nregistered_at=\"\"\nupdated_at=\"\"\n",
        )
        .unwrap();
        assert!(file.load().unwrap_err().message().contains("invalid profile name"));
    }

    #[test]
    fn names() {
        for ok in ["default", "prod", "eu2.tenant-a_1", "A"] {
            assert!(check_profile_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a:b", "a b", "é", &"a".repeat(65)] {
            assert!(check_profile_name(bad).is_err(), "{bad}");
        }
        assert!(check_client_id("3fa85f64-5717-4562-b3fc-2c963f66afa6").is_ok());
        for bad in ["", "a:b", "a b", "a\nb", "a\"b"] {
            assert!(check_client_id(bad).is_err(), "{bad:?}");
        }
    }
}
