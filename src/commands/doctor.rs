//! `acronis-cred doctor`: checks a machine's setup end to end and says, for
//! each problem, how to fix it. Writes nothing but throwaway entries, which
//! it removes.

use std::fmt::Write as _;
use std::rc::Rc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::app::{Context, ProfileRef};
use crate::cache::{CacheTier, CachedToken, KernelCache, TokenCache};
use crate::cli::DoctorArgs;
use crate::datacenter::ClientCredentials;
use crate::error::Result;
use crate::store::{SecretStore, StoreKind};
use crate::token::AccessToken;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    name: String,
    level: Level,
    detail: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, name: impl Into<String>, level: Level, detail: impl Into<String>, fix: Option<String>) {
        self.checks.push(Check { name: name.into(), level, detail: detail.into(), fix });
    }
    fn ok(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.add(name, Level::Ok, detail, None);
    }
    fn warn(&mut self, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(name, Level::Warn, detail, Some(fix.into()));
    }
    fn fail(&mut self, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(name, Level::Fail, detail, Some(fix.into()));
    }
}

pub fn run(ctx: &mut Context<'_>, args: &DoctorArgs) -> Result<u8> {
    let mut report = Report::default();
    let profiles = check_config(ctx, &mut report);
    let stores = check_stores(ctx, &mut report);
    check_token_cache(ctx, &mut report);
    for profile in &profiles {
        check_profile(ctx, &mut report, profile, &stores, args.offline);
    }
    check_helpers(ctx, &mut report, &profiles);
    let failed = report.checks.iter().any(|c| c.level == Level::Fail);
    let text = if args.json { render_json(&report) } else { render_text(&report) };
    super::token::write_stdout(ctx, text.as_bytes())?;
    Ok(if failed { 1 } else { 0 })
}

fn check_config(ctx: &mut Context<'_>, report: &mut Report) -> Vec<ProfileRef> {
    let file = match ctx.config_file() {
        Ok(f) => f,
        Err(e) => {
            report.fail("config file", e.message(), e.hint().unwrap_or("set HOME").to_string());
            return Vec::new();
        }
    };
    let path = file.path().display().to_string();
    let config = match file.load() {
        Ok(c) => c,
        Err(e) => {
            report.fail("config file", e.message(), e.hint().unwrap_or_default().to_string());
            return Vec::new();
        }
    };
    if !file.path().exists() {
        report.warn(
            "config file",
            format!("{path} does not exist yet"),
            "register a profile: acronis-cred register --datacenter https://DC-cloud.acronis.com --client-id CLIENT_ID",
        );
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            if mode & 0o077 == 0 {
                report.ok("config file", format!("{path} (mode {mode:o})"));
            } else {
                report.warn("config file", format!("{path} has mode {mode:o}"), format!("chmod 600 {path}"));
            }
        }
        #[cfg(not(unix))]
        report.ok("config file", path.clone());
    }
    let names: Vec<String> = match ctx.explicit_profile() {
        Some(name) if !config.profiles.contains_key(&name) => {
            report.fail(
                "profile",
                format!("no profile named '{name}'"),
                format!(
                    "register it: acronis-cred{} register --datacenter https://DC-cloud.acronis.com --client-id CLIENT_ID",
                    crate::error::profile_flag(&name)
                ),
            );
            return Vec::new();
        }
        Some(name) => vec![name],
        None => config.profiles.keys().cloned().collect(),
    };
    if names.is_empty() && file.path().exists() {
        report.warn("profiles", "none registered", "acronis-cred register --datacenter URL --client-id ID");
    }
    names
        .iter()
        .filter_map(|name| match ctx.load_profile(name) {
            Ok(p) => Some(p),
            Err(e) => {
                report.fail(format!("profile {name}"), e.message(), e.hint().unwrap_or_default().to_string());
                None
            }
        })
        .collect()
}

/// Which stores work here, each proven by a write/read/delete round trip of
/// a throwaway entry.
fn check_stores(ctx: &mut Context<'_>, report: &mut Report) -> Vec<StoreKind> {
    let candidates: &[StoreKind] = if cfg!(target_os = "linux") {
        &[StoreKind::SecretService, StoreKind::Keyutils]
    } else if cfg!(target_os = "macos") {
        &[StoreKind::Macos]
    } else {
        &[StoreKind::Windows]
    };
    let mut working = Vec::new();
    for &kind in candidates {
        let name = format!("store {kind}");
        match ctx.platform.open_store(kind).and_then(|s| round_trip(&*s)) {
            Ok(()) => {
                report.ok(name, format!("write/read/delete works; {}", kind.persistence()));
                working.push(kind);
            }
            Err(e) => {
                let fix = e.hint().unwrap_or("see the README, section 'Where things live'").to_string();
                // Only a store a profile uses is a failure; others are information.
                report.warn(name, e.message(), fix);
            }
        }
    }
    working
}

fn round_trip(store: &dyn SecretStore) -> Result<()> {
    let account = format!("doctor-{}", std::process::id());
    let value = SecretString::from(format!("doctor-check-{}", std::process::id()));
    store.set(&account, &value)?;
    let back = store.get(&account);
    let deleted = store.delete(&account);
    match back? {
        Some(v) if v.expose_secret() == value.expose_secret() => deleted.map(|_| ()),
        _ => Err(crate::error::Error::store("a value written to the store did not read back the same")),
    }
}

fn check_token_cache(ctx: &mut Context<'_>, report: &mut Report) {
    let Some(cache) = KernelCache::open() else {
        report.warn(
            "token cache",
            "the kernel keyring is not usable here; tokens are cached in the secret store instead",
            "nothing to do; in containers, allow the keyctl, add_key and request_key system calls for the faster cache",
        );
        return;
    };
    let key = format!("doctor-{}", std::process::id());
    let now = ctx.clock.now();
    let result = AccessToken::new(SecretString::from("doctor-check"), now + 60)
        .map_err(|e| crate::error::Error::unexpected(e.to_string()))
        .and_then(|token| {
            let record = CachedToken {
                datacenter: "https://doctor.invalid".into(),
                client_id: "doctor".into(),
                token,
                obtained_at: now,
            };
            cache.save(&key, &record, now)?;
            let back = cache.load(&key)?;
            cache.remove(&key)?;
            back.filter(|c| c.token.expose() == "doctor-check")
                .map(|_| ())
                .ok_or_else(|| crate::error::Error::unexpected("a cached value did not read back"))
        });
    match result {
        Ok(()) => report.ok("token cache", CacheTier::Kernel.describe()),
        Err(e) => {
            report.warn("token cache", e.message(), "tokens will be cached in the secret store instead")
        }
    }
}

fn check_profile(
    ctx: &mut Context<'_>,
    report: &mut Report,
    profile: &ProfileRef,
    stores: &[StoreKind],
    offline: bool,
) {
    let name = &profile.name;
    let label = |what: &str| format!("profile {name}: {what}");
    if !stores.contains(&profile.store) {
        report.fail(
            label("store"),
            format!("its store, {}, does not work here (see above)", profile.store),
            format!("fix the store, or register again with another one: acronis-cred{} register --force --store keyutils ...", crate::error::profile_flag(name)),
        );
        return;
    }
    let store: Rc<dyn SecretStore> = match ctx.platform.open_store(profile.store) {
        Ok(s) => s,
        Err(e) => {
            report.fail(label("store"), e.message(), e.hint().unwrap_or_default().to_string());
            return;
        }
    };
    let secret = match store.get(name) {
        Ok(Some(s)) => {
            report.ok(label("secret"), format!("present in the {} store", profile.store));
            s
        }
        Ok(None) => {
            report.fail(
                label("secret"),
                format!("missing from the {} store", profile.store),
                format!(
                    "register it again: acronis-cred{} register --force --datacenter {} --client-id {}",
                    crate::error::profile_flag(name),
                    profile.datacenter,
                    profile.profile.client_id
                ),
            );
            return;
        }
        Err(e) => {
            report.fail(label("secret"), e.message(), e.hint().unwrap_or_default().to_string());
            return;
        }
    };
    if let Some(dir) = ctx.env.state_dir()
        && let Ok(Some(j)) = crate::rotation::JournalFile::new(dir, name).load()
    {
        report.warn(
            label("rotation"),
            format!("a rotation is pending at step {} since {}", j.step.name(), j.started_at),
            format!("acronis-cred{} rotate --resume (or --abort)", crate::error::profile_flag(name)),
        );
    }
    if offline {
        report.ok(label("datacenter"), format!("{} (not contacted: --offline)", profile.datacenter));
        return;
    }
    let exchange = match ctx.exchange() {
        Ok(e) => e,
        Err(e) => {
            report.fail(label("datacenter"), e.message(), e.hint().unwrap_or_default().to_string());
            return;
        }
    };
    let creds = ClientCredentials {
        datacenter: profile.datacenter.clone(),
        client_id: profile.profile.client_id.clone(),
        secret,
    };
    match exchange.exchange(&creds) {
        Ok(_) => report.ok(
            label("datacenter"),
            format!("{} answered; the credentials are accepted (one token exchange)", profile.datacenter),
        ),
        Err(e) => report.fail(label("datacenter"), e.message(), e.hint().unwrap_or_default().to_string()),
    }
}

/// Whether git, docker, kubectl and terraform are set up to use the helper.
/// Information only: nobody has to use every consumer.
fn check_helpers(ctx: &mut Context<'_>, report: &mut Report, profiles: &[ProfileRef]) {
    let home = ctx.env.get("HOME").map(std::path::PathBuf::from);
    for profile in profiles {
        let key = format!("credential.{}.helper", profile.datacenter);
        let git = std::process::Command::new("git")
            .args(["config", "--global", "--get-all", &key])
            .stdin(std::process::Stdio::null())
            .output();
        match git {
            Ok(out) if String::from_utf8_lossy(&out.stdout).contains("acronis") => {
                report.ok(format!("git ({})", profile.name), format!("{key} uses acronis-cred"))
            }
            Ok(_) => report.warn(
                format!("git ({})", profile.name),
                format!("git is not set up for {}", profile.datacenter),
                format!("acronis-cred{} setup git | sh", crate::error::profile_flag(&profile.name)),
            ),
            Err(_) => report.ok(format!("git ({})", profile.name), "git is not installed; nothing to set up"),
        }
    }
    let read = |path: Option<std::path::PathBuf>| {
        path.and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    };
    let docker = read(home.as_ref().map(|h| h.join(".docker/config.json")));
    let kube = read(
        ctx.env
            .get("KUBECONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".kube/config"))),
    );
    let terraform = read(
        ctx.env
            .get("TF_CLI_CONFIG_FILE")
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".terraformrc"))),
    );
    for (tool, found, fix) in [
        ("docker", docker.contains("\"acronis\""), "acronis-cred setup docker"),
        ("kubectl", kube.contains("acronis-cred"), "acronis-cred setup kubectl"),
        ("terraform", terraform.contains("credentials_helper \"acronis\""), "acronis-cred setup terraform"),
    ] {
        if found {
            report.ok(tool, "configured to use acronis-cred");
        } else {
            report.add(
                tool,
                Level::Ok,
                "not configured to use acronis-cred (fine if you do not use it)",
                Some(fix.into()),
            );
        }
    }
}

fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let level = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        let _ = writeln!(out, "{level}  {}: {}", c.name, c.detail);
        if c.level != Level::Ok
            && let Some(fix) = &c.fix
        {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    let fails = report.checks.iter().filter(|c| c.level == Level::Fail).count();
    let warns = report.checks.iter().filter(|c| c.level == Level::Warn).count();
    let _ = writeln!(out, "\n{fails} failed, {warns} warnings, {} checks", report.checks.len());
    out
}

fn render_json(report: &Report) -> String {
    let checks: Vec<_> = report
        .checks
        .iter()
        .map(|c| {
            json!({
                "check": c.name,
                "status": match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "fail" },
                "detail": c.detail,
                "fix": c.fix,
            })
        })
        .collect();
    let failed = report.checks.iter().any(|c| c.level == Level::Fail);
    let mut text = json!({ "ok": !failed, "checks": checks }).to_string();
    text.push('\n');
    text
}
