//! `acronis-cred token`, and the token path every helper protocol shares.

use std::rc::Rc;

use crate::app::{Context, ProfileRef, Source, env_cache_key, http_settings_from};
use crate::cache::{Binding, Obtained, Origin, TokenCache, TokenPolicy, obtain_token};
use crate::cli::TokenArgs;
use crate::datacenter::{ClientCredentials, TokenExchange};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::plain::{self, Format};
use crate::store::SecretStore;
use crate::time::human_duration;
use crate::token::AccessToken;

/// Validity a helper protocol asks for, and the amount its reported expiry
/// is shortened by (client-go and git apply no margin of their own).
pub const PROTOCOL_MARGIN: i64 = 300;

pub fn run(ctx: &mut Context<'_>, args: &TokenArgs) -> Result<()> {
    let policy = TokenPolicy { min_valid: args.min_valid, refresh: args.refresh };
    let source = ctx.source()?;
    let token = token_for(ctx, &source, policy)?;
    let out = plain::render(Format::from(args.format), &token, source.datacenter(), !args.no_newline);
    write_stdout(ctx, out.as_bytes())
}

/// Writes the requested output. A reader that went away is not our failure.
pub fn write_stdout(ctx: &mut Context<'_>, bytes: &[u8]) -> Result<()> {
    match ctx.ui.stdout.write_all(bytes).and_then(|()| ctx.ui.stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::unexpected(format!("cannot write to standard output: {e}"))),
    }
}

/// The default policy of helper protocols.
pub fn protocol_policy() -> TokenPolicy {
    TokenPolicy { min_valid: PROTOCOL_MARGIN, refresh: false }
}

/// A token for `source`: from the cache, or from one exchange.
pub fn token_for(ctx: &mut Context<'_>, source: &Source, policy: TokenPolicy) -> Result<AccessToken> {
    let lock_dir = ctx.lock_dir()?;
    // Everything the exchange needs, taken now but used only on a cache miss:
    // the cached path builds no HTTP client and reads no more files.
    let (platform, clock, vars, global) = (ctx.platform, ctx.clock, ctx.env, ctx.global.clone());
    match source {
        Source::Profile(profile) => {
            let store: Rc<dyn SecretStore> = ctx.platform.open_store(profile.store)?;
            let cache = ctx.profile_cache(profile, &store)?;
            let binding = Binding {
                key: &profile.name,
                datacenter: profile.datacenter.as_str(),
                client_id: &profile.profile.client_id,
            };
            let mut fallback_note = None;
            let fetch = || {
                let settings = http_settings_from(&global, vars, profile.http.as_ref())?;
                let exchange = platform.exchange(clock, &settings);
                exchange_for_profile(profile, &*store, &*exchange, &mut fallback_note)
            };
            let token = run_obtain(ctx, &binding, policy, &*cache, &lock_dir, fetch)?;
            if let Some(note) = fallback_note {
                ctx.ui.warn(&note);
            }
            Ok(token)
        }
        Source::Env(env) => {
            let cache = ctx.env_cache()?;
            let key = env_cache_key(env);
            let binding =
                Binding { key: &key, datacenter: env.datacenter.as_str(), client_id: &env.client_id };
            let config_file = ctx.config_file().ok();
            let fetch = || {
                // The env source may still have network settings in a config file.
                let file = config_file.as_ref().and_then(|f| f.load().ok()).and_then(|c| c.http);
                let settings = http_settings_from(&global, vars, file.as_ref())?;
                let exchange = platform.exchange(clock, &settings);
                let creds = ClientCredentials {
                    datacenter: env.datacenter.clone(),
                    client_id: env.client_id.clone(),
                    secret: env.secret.clone(),
                };
                exchange.exchange(&creds).map(|t| (t, env.client_id.clone()))
            };
            run_obtain(ctx, &binding, policy, &*cache, &lock_dir, fetch)
        }
    }
}

/// Exchanges the profile's secret. While a rotation is half-done and the
/// current secret is rejected, the pending one (already in the store) is
/// tried: whichever is valid keeps scripts working.
fn exchange_for_profile(
    profile: &ProfileRef,
    store: &dyn SecretStore,
    exchange: &dyn TokenExchange,
    note: &mut Option<String>,
) -> Result<(AccessToken, String)> {
    let secret = store.get(&profile.name)?;
    let current = match secret {
        Some(secret) => exchange.exchange(&ClientCredentials {
            datacenter: profile.datacenter.clone(),
            client_id: profile.profile.client_id.clone(),
            secret,
        }),
        None => Err(Error::no_credentials(format!(
            "profile '{}' has no secret in the {} store",
            profile.name, profile.store
        ))
        .with_hint(format!(
            "register it again: acronis-cred{} register --force --datacenter {} --client-id {}",
            crate::error::profile_flag(&profile.name),
            profile.datacenter,
            profile.profile.client_id
        ))),
    };
    match current {
        Ok(token) => Ok((token, profile.profile.client_id.clone())),
        Err(e) if matches!(e.kind(), ErrorKind::Rejected | ErrorKind::NoCredentials) => {
            let Some(pending) = crate::rotation::pending_credentials(store, &profile.name)? else {
                return Err(e);
            };
            let creds = ClientCredentials {
                datacenter: profile.datacenter.clone(),
                client_id: pending.client_id.clone(),
                secret: pending.secret,
            };
            match exchange.exchange(&creds) {
                Ok(token) => {
                    *note = Some(format!(
                        "profile '{}' is in the middle of a rotation and its current secret was refused; \
                         used the pending one. Finish with: acronis-cred{} rotate --resume",
                        profile.name,
                        crate::error::profile_flag(&profile.name)
                    ));
                    Ok((token, pending.client_id))
                }
                Err(_) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Drops the cached token of `source` (the caller was told it was rejected).
/// With `only` set, drops it only if it is that token: a token another
/// process refreshed meanwhile is kept.
pub fn forget_token(ctx: &mut Context<'_>, source: &Source, only: Option<&str>) -> Result<()> {
    let (key, caches): (String, Vec<Rc<dyn TokenCache>>) = match source {
        Source::Profile(profile) => {
            let store: Rc<dyn SecretStore> = ctx.platform.open_store(profile.store)?;
            (profile.name.clone(), vec![ctx.profile_cache(profile, &store)?])
        }
        Source::Env(env) => (env_cache_key(env), vec![ctx.env_cache()?]),
    };
    for cache in caches {
        let cached = cache.load(&key).ok().flatten();
        let matches = match (only, &cached) {
            (Some(presented), Some(c)) => c.token.expose() == presented,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if matches {
            cache.remove(&key)?;
            ctx.ui.info(&format!("dropped the cached token ({} cache)", cache.tier()));
        }
    }
    Ok(())
}

fn run_obtain(
    ctx: &mut Context<'_>,
    binding: &Binding<'_>,
    policy: TokenPolicy,
    cache: &dyn TokenCache,
    lock_dir: &std::path::Path,
    fetch: impl FnOnce() -> Result<(AccessToken, String)>,
) -> Result<AccessToken> {
    let mut cache_read_errors = Vec::new();
    let Obtained { token, origin, cache_error } =
        obtain_token(binding, policy, cache, lock_dir, ctx.clock, fetch, &mut |e| {
            cache_read_errors.push(e.message().to_string())
        })?;
    for e in cache_read_errors {
        ctx.ui.info(&format!("token cache unreadable ({e}); treating as empty"));
    }
    let left = human_duration(token.remaining(ctx.clock.now()));
    match &origin {
        Origin::Cache => ctx.ui.info(&format!("cached token ({} cache), {left} left", cache.tier())),
        Origin::CacheAfterWait => {
            ctx.ui.info(&format!("token obtained by another process ({} cache), {left} left", cache.tier()))
        }
        Origin::Exchange => ctx.ui.info(&format!("new token from {}, {left} left", binding.datacenter)),
        Origin::Stale(reason) => {
            ctx.ui.warn(&format!("{reason}; serving the cached token, which expires in {left}"))
        }
    }
    if let Some(e) = cache_error {
        ctx.ui.warn(&format!(
            "the new token could not be cached in the {} cache, so the next call will exchange again: {}",
            cache.tier(),
            e.message()
        ));
    }
    if token.remaining(ctx.clock.now()) < policy.min_valid && !matches!(origin, Origin::Stale(_)) {
        ctx.ui.warn(&format!(
            "the datacenter issued a token valid for {left}, less than --min-valid {}",
            human_duration(policy.min_valid)
        ));
    }
    Ok(token)
}
