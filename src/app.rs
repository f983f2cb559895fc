//! From parsed arguments to a command: the context every command gets, and
//! the rules that decide which profile, store and cache apply.

use std::path::PathBuf;
use std::rc::Rc;

use secrecy::SecretString;

use crate::cache::{CacheSetting, NoCache, StoreCache, TokenCache};
use crate::cli::GlobalArgs;
use crate::config::{self, ConfigFile, DEFAULT_PROFILE, HttpConfig, Profile};
use crate::datacenter::{DatacenterUrl, HttpSettings};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::store::{SecretStore, StoreChoice, StoreKind};
use crate::time::Clock;
use crate::ui::Ui;

pub const ENV_CLIENT_ID: &str = "ACRONIS_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "ACRONIS_CLIENT_SECRET";
pub const ENV_DATACENTER: &str = "ACRONIS_DATACENTER_URL";

pub struct Context<'a> {
    pub ui: Ui<'a>,
    pub env: &'a Env,
    pub clock: &'a dyn Clock,
    pub platform: &'a dyn Platform,
    pub global: GlobalArgs,
}

/// A registered profile, resolved and validated.
pub struct ProfileRef {
    pub name: String,
    pub profile: Profile,
    pub datacenter: DatacenterUrl,
    pub store: StoreKind,
    /// The config file's `[http]` table, read with the profile.
    pub http: Option<HttpConfig>,
}

/// Client credentials from `ACRONIS_CLIENT_ID`/`_SECRET`/`_DATACENTER_URL`.
pub struct EnvCredentials {
    pub datacenter: DatacenterUrl,
    pub client_id: String,
    pub secret: SecretString,
}

/// Where credentials come from for this invocation.
pub enum Source {
    Profile(Box<ProfileRef>),
    Env(EnvCredentials),
}

impl Source {
    pub fn datacenter(&self) -> &DatacenterUrl {
        match self {
            Source::Profile(p) => &p.datacenter,
            Source::Env(e) => &e.datacenter,
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            Source::Profile(p) => &p.profile.client_id,
            Source::Env(e) => &e.client_id,
        }
    }
}

impl<'a> Context<'a> {
    pub fn config_file(&self) -> Result<ConfigFile> {
        if let Some(path) = &self.global.config {
            return Ok(ConfigFile::new(path.clone()));
        }
        if let Some(path) = self.env.get("ACRONIS_CRED_CONFIG") {
            return Ok(ConfigFile::new(PathBuf::from(path)));
        }
        match self.env.config_dir() {
            Some(dir) => Ok(ConfigFile::new(dir.join("config.toml"))),
            None => Err(Error::usage("cannot find a configuration directory: HOME is not set")
                .with_hint("set HOME, or pass --config FILE")),
        }
    }

    /// Whether prompting is allowed: not with `--non-interactive`,
    /// `ACRONIS_CRED_NONINTERACTIVE=1`, or without a terminal.
    pub fn interactive(&self) -> bool {
        use std::io::IsTerminal;
        let off = self.global.non_interactive
            || matches!(self.env.get("ACRONIS_CRED_NONINTERACTIVE"), Some("1" | "true" | "yes"));
        !off && (std::io::stdin().is_terminal() || std::io::stderr().is_terminal())
    }

    /// Refuses a config file others can change, and makes one others can
    /// read private. One `stat` per run.
    pub fn check_config_file(&mut self) -> Result<()> {
        let Ok(file) = self.config_file() else { return Ok(()) };
        if let Some(warning) = crate::fsutil::check_trusted_file(file.path(), "config file")? {
            self.ui.warn(&warning);
        }
        Ok(())
    }

    /// Network settings, reading the config file's `[http]` table.
    pub fn http_settings(&self) -> Result<HttpSettings> {
        let file = self.config_file().ok().and_then(|f| f.load().ok()).and_then(|c| c.http);
        http_settings_from(&self.global, self.env, file.as_ref())
    }

    /// The token exchange with this invocation's network settings.
    pub fn exchange(&self) -> Result<Box<dyn crate::datacenter::TokenExchange + 'a>> {
        Ok(self.platform.exchange(self.clock, &self.http_settings()?))
    }

    /// The profile named by `--profile` or `ACRONIS_PROFILE`, if any.
    pub fn explicit_profile(&self) -> Option<String> {
        self.global.profile.clone().or_else(|| self.env.get("ACRONIS_PROFILE").map(str::to_string))
    }

    /// The profile this invocation is about (explicit, else `default`), validated.
    pub fn profile_name(&self) -> Result<String> {
        let name = self.explicit_profile().unwrap_or_else(|| DEFAULT_PROFILE.to_string());
        config::check_profile_name(&name).map_err(Error::usage)?;
        Ok(name)
    }

    /// `--store`, else `ACRONIS_CRED_STORE`.
    pub fn store_override(&self) -> Result<Option<StoreChoice>> {
        if let Some(choice) = self.global.store {
            return Ok(Some(choice));
        }
        match self.env.get("ACRONIS_CRED_STORE") {
            Some(s) => {
                s.parse().map(Some).map_err(|e: String| Error::usage(format!("ACRONIS_CRED_STORE: {e}")))
            }
            None => Ok(None),
        }
    }

    pub fn resolve_store(&self, choice: StoreChoice) -> Result<StoreKind> {
        match choice {
            StoreChoice::Auto => self.platform.detect_store(),
            StoreChoice::Kind(kind) => Ok(kind),
        }
    }

    /// Looks up a registered profile.
    pub fn load_profile(&self, name: &str) -> Result<ProfileRef> {
        let file = self.config_file()?;
        let store_override = self.store_override()?;
        let config = file.load()?;
        let Some(profile) = config.profiles.get(name).cloned() else {
            return Err(Error::no_profile(name, file.path()));
        };
        let datacenter = profile.datacenter_url(file.path(), name)?;
        let store = match store_override {
            Some(choice) => self.resolve_store(choice)?,
            None => profile.store_kind(file.path(), name)?,
        };
        Ok(ProfileRef { name: name.to_string(), profile, datacenter, store, http: config.http.clone() })
    }

    /// The credentials source: a named profile wins; otherwise the three
    /// environment variables when all are set; otherwise `default`.
    pub fn source(&self) -> Result<Source> {
        if self.explicit_profile().is_none()
            && let Some(env) = self.env_credentials()?
        {
            return Ok(Source::Env(env));
        }
        let name = self.profile_name()?;
        self.load_profile(&name).map(|p| Source::Profile(Box::new(p)))
    }

    /// The source that answers a helper request naming a server: a profile
    /// whose datacenter is that server (the named profile only, when one is
    /// named), else the environment's credentials for that server. `None`:
    /// nothing here is for that server, and no token may be sent to it.
    pub fn source_for_host(&self, scheme: Option<&str>, authority: &str) -> Result<Option<Source>> {
        let serves = |dc: &DatacenterUrl| {
            dc.authority().eq_ignore_ascii_case(authority)
                && scheme.is_none_or(|s| s.eq_ignore_ascii_case(dc.scheme()))
        };
        if self.explicit_profile().is_some() {
            let profile = self.load_profile(&self.profile_name()?)?;
            return Ok(serves(&profile.datacenter).then_some(Source::Profile(Box::new(profile))));
        }
        let file = self.config_file()?;
        let config = file.load()?;
        let mut matching = Vec::new();
        for (name, profile) in &config.profiles {
            if serves(&profile.datacenter_url(file.path(), name)?) {
                matching.push(name.clone());
            }
        }
        match matching.as_slice() {
            [] => Ok(self.env_credentials()?.filter(|e| serves(&e.datacenter)).map(Source::Env)),
            [name] => self.load_profile(name).map(|p| Some(Source::Profile(Box::new(p)))),
            names => Err(Error::usage(format!(
                "several profiles ({}) are registered for {authority}",
                names.join(", ")
            ))
            .with_hint("choose one with --profile NAME or ACRONIS_PROFILE in the helper's configuration")),
        }
    }

    fn env_credentials(&self) -> Result<Option<EnvCredentials>> {
        let names = [ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_DATACENTER];
        let set: Vec<&str> = names.iter().copied().filter(|n| self.env.is_set(n)).collect();
        if set.is_empty() {
            return Ok(None);
        }
        if set.len() < names.len() {
            let missing: Vec<&str> = names.iter().copied().filter(|n| !self.env.is_set(n)).collect();
            return Err(Error::usage(format!(
                "{} set but {} not; set all three to use credentials from the environment",
                set.join(" and "),
                missing.join(" and ")
            ))
            .with_hint("or unset them to use a registered profile"));
        }
        let datacenter = DatacenterUrl::parse(self.env.get(ENV_DATACENTER).unwrap_or_default())
            .map_err(|e| Error::usage(format!("{ENV_DATACENTER}: {e}")))?;
        let client_id = self.env.get(ENV_CLIENT_ID).unwrap_or_default().trim().to_string();
        config::check_client_id(&client_id).map_err(|e| Error::usage(format!("{ENV_CLIENT_ID}: {e}")))?;
        let secret =
            SecretString::from(self.env.get(ENV_CLIENT_SECRET).unwrap_or_default().trim().to_string());
        Ok(Some(EnvCredentials { datacenter, client_id, secret }))
    }

    /// Takes the profile's lock: the one token exchanges, rotations,
    /// registration and removal of that profile all serialise on.
    pub fn lock_profile(&self, name: &str) -> Result<crate::fsutil::FileLock> {
        let path = self.lock_dir()?.join(format!("{name}.lock"));
        crate::fsutil::FileLock::acquire(&path, std::time::Duration::from_secs(120), "profile")
    }

    /// Directory for the single-flight lock files.
    pub fn lock_dir(&self) -> Result<PathBuf> {
        self.env.runtime_dir().ok_or_else(|| {
            Error::usage("cannot find a runtime or cache directory: HOME is not set")
                .with_hint("set HOME or XDG_RUNTIME_DIR")
        })
    }

    /// The token cache for a profile: the kernel keyring where it works,
    /// unless the profile or `ACRONIS_CRED_TOKEN_CACHE` says otherwise.
    pub fn profile_cache(
        &self,
        profile: &ProfileRef,
        store: &Rc<dyn SecretStore>,
    ) -> Result<Rc<dyn TokenCache>> {
        let setting = self.cache_setting(profile.profile.token_cache.as_deref())?;
        let store_tier = || -> Rc<dyn TokenCache> { Rc::new(StoreCache { store: Rc::clone(store) }) };
        Ok(match setting {
            CacheSetting::None => Rc::new(NoCache),
            CacheSetting::Store => store_tier(),
            CacheSetting::Kernel | CacheSetting::Auto => match self.platform.kernel_cache() {
                Some(kernel) => kernel,
                None => store_tier(),
            },
        })
    }

    /// Drops every token cached for `profile`, in both tiers (the setting
    /// may have changed since it was cached), then caches `fresh` in the
    /// current tier if given. Used whenever the credentials change.
    pub fn reset_cached_token(
        &self,
        profile: &ProfileRef,
        store: &Rc<dyn SecretStore>,
        fresh: Option<crate::token::AccessToken>,
    ) -> Result<()> {
        let name = &profile.name;
        if let Some(kernel) = self.platform.kernel_cache() {
            kernel.remove(name)?;
        }
        store.delete(&crate::store::token_account(name))?;
        if let Some(token) = fresh {
            let now = self.clock.now();
            let record = crate::cache::CachedToken {
                datacenter: profile.datacenter.as_str().to_string(),
                client_id: profile.profile.client_id.clone(),
                token,
                obtained_at: now,
            };
            self.profile_cache(profile, store)?.save(name, &record, now)?;
        }
        Ok(())
    }

    /// The env source has no store: the kernel keyring or nothing.
    pub fn env_cache(&self) -> Result<Rc<dyn TokenCache>> {
        Ok(match self.cache_setting(None)? {
            CacheSetting::None | CacheSetting::Store => Rc::new(NoCache),
            CacheSetting::Kernel | CacheSetting::Auto => match self.platform.kernel_cache() {
                Some(kernel) => kernel,
                None => Rc::new(NoCache),
            },
        })
    }

    fn cache_setting(&self, profile_setting: Option<&str>) -> Result<CacheSetting> {
        if let Some(s) = self.env.get("ACRONIS_CRED_TOKEN_CACHE") {
            return s.parse().map_err(|e: String| Error::usage(format!("ACRONIS_CRED_TOKEN_CACHE: {e}")));
        }
        match profile_setting {
            Some(s) => {
                s.parse().map_err(|e: String| Error::usage(format!("token_cache in the config file: {e}")))
            }
            None => Ok(CacheSetting::Auto),
        }
    }
}

/// Network settings: flags, then environment, then the config file's
/// `[http]` table, then defaults.
pub fn http_settings_from(global: &GlobalArgs, env: &Env, file: Option<&HttpConfig>) -> Result<HttpSettings> {
    let file = file.cloned().unwrap_or_default();
    let mut settings = HttpSettings::default();
    let timeout = match (global.timeout, env.get("ACRONIS_CRED_TIMEOUT"), file.timeout.as_deref()) {
        (Some(t), _, _) => Some(t),
        (None, Some(t), _) | (None, None, Some(t)) => Some(
            crate::time::parse_duration(t).map_err(|e| Error::usage(format!("HTTP timeout '{t}': {e}")))?,
        ),
        _ => None,
    };
    if let Some(t) = timeout {
        if t.is_zero() {
            return Err(Error::usage("the HTTP timeout must be more than 0 s"));
        }
        settings = settings.with_timeout(t);
    }
    let retries = match (global.retries, env.get("ACRONIS_CRED_RETRIES")) {
        (Some(n), _) => Some(n),
        (None, Some(n)) => Some(
            n.parse().map_err(|_| Error::usage(format!("ACRONIS_CRED_RETRIES: '{n}' is not a number")))?,
        ),
        (None, None) => file.retries,
    };
    if let Some(n) = retries {
        settings.retry.attempts = n.clamp(1, 20);
    }
    settings.ca_file = global
        .ca_file
        .clone()
        .or_else(|| env.get("ACRONIS_CRED_CA_FILE").map(PathBuf::from))
        .or(file.ca_file);
    if let Some(path) = &settings.ca_file {
        // A CA file decides whom the secret is sent to.
        crate::fsutil::check_trusted_file(path, "CA file")?;
    }
    Ok(settings)
}

/// Cache key of the env source: the client id and a fingerprint of the
/// secret, so a different secret for the same client never meets a token
/// obtained with another one.
pub fn env_cache_key(creds: &EnvCredentials) -> String {
    use secrecy::ExposeSecret;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"acronis-cred env source v1\0");
    ctx.update(creds.datacenter.as_str().as_bytes());
    ctx.update(b"\0");
    ctx.update(creds.client_id.as_bytes());
    ctx.update(b"\0");
    ctx.update(creds.secret.expose_secret().as_bytes());
    let digest = ctx.finish();
    let hex: String = digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("env-{hex}")
}
