//! `acronis-cred status`: what is registered and what is cached. Never a
//! secret or a token: only whether they exist and when the token expires.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::app::{Context, Source, env_cache_key};
use crate::cache::CacheTier;
use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::time::{human_duration, rfc3339};

struct Row {
    name: String,
    datacenter: String,
    client_id: String,
    store: Option<String>,
    store_persistence: Option<String>,
    survives_reboot: Option<bool>,
    secret: std::result::Result<bool, String>,
    cache_tier: CacheTier,
    cached_expiry: Option<i64>,
    registered_at: Option<String>,
    updated_at: Option<String>,
    rotated_at: Option<String>,
    /// Days since the secret was registered or last rotated.
    secret_age_days: Option<i64>,
    rotation: Option<crate::rotation::Journal>,
}

/// Exit status of `status --max-age` when a secret is too old.
pub const EXIT_TOO_OLD: u8 = 7;

pub fn run(ctx: &mut Context<'_>, args: &StatusArgs) -> Result<u8> {
    let file = ctx.config_file()?;
    let config = file.load()?;
    let names: Vec<String> = match ctx.explicit_profile() {
        Some(name) => {
            if !config.profiles.contains_key(&name) {
                return Err(Error::no_profile(&name, file.path()));
            }
            vec![name]
        }
        None => config.profiles.keys().cloned().collect(),
    };
    let mut rows = Vec::new();
    for name in &names {
        rows.push(profile_row(ctx, name)?);
    }
    if ctx.explicit_profile().is_none()
        && let Ok(Source::Env(env)) = ctx.source()
    {
        let cache = ctx.env_cache()?;
        let cached = cache.load(&env_cache_key(&env)).ok().flatten();
        rows.push(Row {
            name: "(environment)".into(),
            datacenter: env.datacenter.to_string(),
            client_id: env.client_id.clone(),
            store: None,
            store_persistence: None,
            survives_reboot: None,
            secret: Ok(true),
            cache_tier: cache.tier(),
            cached_expiry: cached.map(|c| c.token.expires_at()),
            registered_at: None,
            updated_at: None,
            rotated_at: None,
            secret_age_days: None,
            rotation: None,
        });
    }
    let now = ctx.clock.now();
    let out = if args.json {
        render_json(&rows, now)
    } else {
        render_text(&rows, now, &file.path().display().to_string())
    };
    if rows.is_empty() && !args.json {
        ctx.ui.note(&format!("no profiles registered in {}", file.path().display()));
        ctx.ui.note("register one: acronis-cred register --datacenter https://DC-cloud.acronis.com --client-id CLIENT_ID");
        return Ok(0);
    }
    super::token::write_stdout(ctx, out.as_bytes())?;
    if let Some(max) = args.max_age {
        let old: Vec<String> = rows
            .iter()
            .filter(|r| r.secret_age_days.is_some_and(|d| d > i64::from(max)))
            .map(|r| format!("{} ({} days)", r.name, r.secret_age_days.unwrap_or_default()))
            .collect();
        if !old.is_empty() {
            ctx.ui.warn(&format!(
                "secrets older than {max} days: {}; rotate them with `acronis-cred rotate`",
                old.join(", ")
            ));
            return Ok(EXIT_TOO_OLD);
        }
    }
    Ok(0)
}

/// Days between an RFC 3339 UTC time written by this tool and `now`.
fn age_days(at: &str, now: i64) -> Option<i64> {
    crate::time::parse_rfc3339(at).map(|t| (now - t).max(0) / 86_400)
}

fn profile_row(ctx: &mut Context<'_>, name: &str) -> Result<Row> {
    let profile = ctx.load_profile(name)?;
    let (secret, cache_tier, cached_expiry) = match ctx.platform.open_store(profile.store) {
        Ok(store) => {
            let secret = store.get(name).map(|s| s.is_some()).map_err(|e| e.message().to_string());
            let cache = ctx.profile_cache(&profile, &store)?;
            let cached = cache
                .load(name)
                .ok()
                .flatten()
                .filter(|c| c.is_for(profile.datacenter.as_str(), &profile.profile.client_id))
                .map(|c| c.token.expires_at());
            (secret, cache.tier(), cached)
        }
        Err(e) => (Err(e.message().to_string()), CacheTier::None, None),
    };
    let since = profile.profile.rotated_at.as_deref().unwrap_or(&profile.profile.registered_at);
    let rotation = ctx
        .env
        .state_dir()
        .and_then(|dir| crate::rotation::JournalFile::new(dir, name).load().ok().flatten());
    Ok(Row {
        secret_age_days: age_days(since, ctx.clock.now()),
        rotated_at: profile.profile.rotated_at.clone(),
        rotation,
        name: name.to_string(),
        datacenter: profile.datacenter.to_string(),
        client_id: profile.profile.client_id.clone(),
        store: Some(profile.store.name().to_string()),
        store_persistence: Some(profile.store.persistence()),
        survives_reboot: Some(profile.store.survives_reboot()),
        secret,
        cache_tier,
        cached_expiry,
        registered_at: Some(profile.profile.registered_at.clone()),
        updated_at: Some(profile.profile.updated_at.clone()),
    })
}

fn render_text(rows: &[Row], now: i64, config_path: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "config file     {config_path}");
    for r in rows {
        let _ = writeln!(out, "\nprofile {}", r.name);
        let _ = writeln!(out, "  datacenter    {}", r.datacenter);
        let _ = writeln!(out, "  client id     {}", r.client_id);
        match (&r.store, &r.store_persistence) {
            (Some(s), Some(p)) => {
                let _ = writeln!(out, "  secret store  {s} ({p})");
            }
            _ => {
                let _ = writeln!(out, "  secret store  environment variables (ACRONIS_CLIENT_SECRET)");
            }
        }
        let secret = match &r.secret {
            Ok(true) => "present".to_string(),
            Ok(false) => "MISSING (register again with --force)".to_string(),
            Err(e) => format!("unknown: {e}"),
        };
        let _ = writeln!(out, "  secret        {secret}");
        let _ = writeln!(out, "  token cache   {}", r.cache_tier.describe());
        let cached = match r.cached_expiry {
            Some(exp) if exp > now => {
                format!("valid until {} ({} left)", rfc3339(exp), human_duration(exp - now))
            }
            Some(exp) => format!("expired at {}", rfc3339(exp)),
            None => "none".to_string(),
        };
        let _ = writeln!(out, "  cached token  {cached}");
        if let Some(at) = &r.registered_at {
            let _ = writeln!(out, "  registered    {at}");
        }
        if let Some(at) = &r.updated_at {
            let _ = writeln!(out, "  updated       {at}");
        }
        if let Some(at) = &r.rotated_at {
            let _ = writeln!(out, "  rotated       {at}");
        }
        if let Some(days) = r.secret_age_days {
            let _ = writeln!(out, "  secret age    {days} days");
        }
        if let Some(j) = &r.rotation {
            let _ = writeln!(
                out,
                "  rotation      PENDING: {} at step {} since {} (finish: rotate --resume, undo: rotate --abort)",
                match j.mode {
                    crate::rotation::Mode::Secret => "new secret",
                    crate::rotation::Mode::ReplaceClient => "new API client",
                },
                j.step.name(),
                j.started_at
            );
        }
    }
    out
}

fn render_json(rows: &[Row], now: i64) -> String {
    let profiles: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "source": if r.store.is_some() { "profile" } else { "environment" },
                "datacenter": r.datacenter,
                "client_id": r.client_id,
                "store": r.store,
                "store_persistence": r.store_persistence,
                "store_survives_reboot": r.survives_reboot,
                "secret_present": r.secret.as_ref().ok(),
                "secret_error": r.secret.as_ref().err(),
                "token_cache": r.cache_tier.to_string(),
                "cached_token": r.cached_expiry.map(|exp| json!({
                    "expires_on": exp,
                    "expires_at": rfc3339(exp),
                    "valid": exp > now,
                })),
                "registered_at": r.registered_at,
                "updated_at": r.updated_at,
                "rotated_at": r.rotated_at,
                "secret_age_days": r.secret_age_days,
                "pending_rotation": r.rotation.as_ref().map(|j| json!({
                    "mode": j.mode,
                    "step": j.step.name(),
                    "started_at": j.started_at,
                    "old_client_id": j.old_client_id,
                    "new_client_id": j.new_client_id,
                })),
            })
        })
        .collect();
    let mut text = json!({ "profiles": profiles }).to_string();
    text.push('\n');
    text
}
