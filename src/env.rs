//! The process environment, captured once and passed down, so tests can give
//! a command any environment without touching the real one.

use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The variables this tool reads, from the real environment (not all of
    /// it: a CI job's environment can be large, and this runs every call).
    /// Variables whose name or value is not UTF-8 are skipped.
    pub fn from_process() -> Self {
        const NAMES: [&str; 8] = [
            "HOME",
            "USERPROFILE",
            "APPDATA",
            "LOCALAPPDATA",
            "NO_COLOR",
            "TERM",
            "KUBERNETES_EXEC_INFO",
            "KUBECONFIG",
        ];
        let wanted = |k: &str| {
            k.starts_with("ACRONIS_") || k.starts_with("XDG_") || k.starts_with("TF_") || NAMES.contains(&k)
        };
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                wanted(&k).then_some(())?;
                Some((k, v.into_string().ok()?))
            })
            .collect();
        Env { vars }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    /// A set, non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from).filter(|p| p.is_absolute())
    }

    fn home(&self) -> Option<PathBuf> {
        self.path("HOME").or_else(|| self.path("USERPROFILE"))
    }

    /// Per-user configuration directory of this tool.
    pub fn config_dir(&self) -> Option<PathBuf> {
        let base = if cfg!(target_os = "windows") {
            self.path("APPDATA")
        } else if cfg!(target_os = "macos") {
            self.home().map(|h| h.join("Library/Application Support"))
        } else {
            self.path("XDG_CONFIG_HOME").or_else(|| self.home().map(|h| h.join(".config")))
        };
        base.map(|b| b.join("acronis-cred"))
    }

    /// Per-user state directory (rotation journals): `$XDG_STATE_HOME`.
    pub fn state_dir(&self) -> Option<PathBuf> {
        let base = if cfg!(target_os = "windows") {
            self.path("LOCALAPPDATA")
        } else if cfg!(target_os = "macos") {
            self.home().map(|h| h.join("Library/Application Support"))
        } else {
            self.path("XDG_STATE_HOME").or_else(|| self.home().map(|h| h.join(".local/state")))
        };
        base.map(|b| b.join("acronis-cred"))
    }

    /// Where lock files go: the per-login runtime directory when there is one
    /// (tmpfs, private, cleaned at logout), else the user's cache directory.
    pub fn runtime_dir(&self) -> Option<PathBuf> {
        if let Some(run) = self.path("XDG_RUNTIME_DIR") {
            return Some(run.join("acronis-cred"));
        }
        let base = if cfg!(target_os = "windows") {
            self.path("LOCALAPPDATA")
        } else if cfg!(target_os = "macos") {
            self.home().map(|h| h.join("Library/Caches"))
        } else {
            self.path("XDG_CACHE_HOME").or_else(|| self.home().map(|h| h.join(".cache")))
        };
        base.map(|b| b.join("acronis-cred"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn xdg_dirs() {
        let env = Env::from_pairs([("HOME", "/home/u")]);
        assert_eq!(env.config_dir(), Some(PathBuf::from("/home/u/.config/acronis-cred")));
        assert_eq!(env.runtime_dir(), Some(PathBuf::from("/home/u/.cache/acronis-cred")));
        let env = Env::from_pairs([
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/x/conf"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        assert_eq!(env.config_dir(), Some(PathBuf::from("/x/conf/acronis-cred")));
        assert_eq!(env.runtime_dir(), Some(PathBuf::from("/run/user/1000/acronis-cred")));
        // Relative paths in XDG variables are invalid per the spec and ignored.
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "rel")]);
        assert_eq!(env.config_dir(), Some(PathBuf::from("/h/.config/acronis-cred")));
        assert_eq!(Env::from_pairs([]).config_dir(), None);
        assert_eq!(Env::from_pairs([("HOME", "")]).get("HOME"), None);
    }
}
