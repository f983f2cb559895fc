//! `acronis-cred token`: a valid token in the format the caller wants.

use std::rc::Rc;

use crate::app::{Context, Source, env_cache_key};
use crate::cache::{Binding, Obtained, Origin, TokenCache, TokenPolicy, obtain_token};
use crate::cli::TokenArgs;
use crate::datacenter::{ClientCredentials, DatacenterUrl};
use crate::error::{Error, Result};
use crate::protocol::plain::{self, Format};
use crate::store::SecretStore;
use crate::time::human_duration;
use crate::token::AccessToken;

pub fn run(ctx: &mut Context<'_>, args: &TokenArgs) -> Result<()> {
    let policy = TokenPolicy { min_valid: args.min_valid, refresh: args.refresh };
    let (token, datacenter) = get_token(ctx, policy)?;
    let out = plain::render(Format::from(args.format), &token, &datacenter, !args.no_newline);
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

/// A token for this invocation's credentials source, with its datacenter.
pub fn get_token(ctx: &mut Context<'_>, policy: TokenPolicy) -> Result<(AccessToken, DatacenterUrl)> {
    let lock_dir = ctx.lock_dir()?;
    let exchange = ctx.platform.exchange(ctx.clock);
    match ctx.source()? {
        Source::Profile(profile) => {
            let store: Rc<dyn SecretStore> = ctx.platform.open_store(profile.store)?;
            let cache = ctx.profile_cache(&profile, &store)?;
            let binding = Binding {
                key: &profile.name,
                datacenter: profile.datacenter.as_str(),
                client_id: &profile.profile.client_id,
            };
            let credentials = || {
                let secret = store.get(&profile.name)?.ok_or_else(|| {
                    Error::no_credentials(format!(
                        "profile '{}' has no secret in the {} store",
                        profile.name, profile.store
                    ))
                    .with_hint(format!(
                        "register it again: acronis-cred{} register --force --datacenter {} --client-id {}",
                        crate::error::profile_flag(&profile.name),
                        profile.datacenter,
                        profile.profile.client_id
                    ))
                })?;
                Ok(ClientCredentials {
                    datacenter: profile.datacenter.clone(),
                    client_id: profile.profile.client_id.clone(),
                    secret,
                })
            };
            let obtained = run_obtain(ctx, &binding, policy, &*cache, &lock_dir, &*exchange, credentials)?;
            Ok((obtained, profile.datacenter.clone()))
        }
        Source::Env(env) => {
            let cache = ctx.env_cache()?;
            let key = env_cache_key(&env);
            let binding = Binding { key: &key, datacenter: env.datacenter.as_str(), client_id: &env.client_id };
            let datacenter = env.datacenter.clone();
            let credentials = || {
                Ok(ClientCredentials {
                    datacenter: env.datacenter.clone(),
                    client_id: env.client_id.clone(),
                    secret: env.secret.clone(),
                })
            };
            let obtained = run_obtain(ctx, &binding, policy, &*cache, &lock_dir, &*exchange, credentials)?;
            Ok((obtained, datacenter))
        }
    }
}

fn run_obtain(
    ctx: &mut Context<'_>,
    binding: &Binding<'_>,
    policy: TokenPolicy,
    cache: &dyn TokenCache,
    lock_dir: &std::path::Path,
    exchange: &dyn crate::datacenter::TokenExchange,
    credentials: impl FnOnce() -> Result<ClientCredentials>,
) -> Result<AccessToken> {
    let mut cache_read_errors = Vec::new();
    let Obtained { token, origin, cache_error } = obtain_token(
        binding,
        policy,
        cache,
        lock_dir,
        ctx.clock,
        exchange,
        credentials,
        &mut |e| cache_read_errors.push(e.message().to_string()),
    )?;
    for e in cache_read_errors {
        ctx.ui.info(&format!("token cache unreadable ({e}); treating as empty"));
    }
    let left = human_duration(token.remaining(ctx.clock.now()));
    match origin {
        Origin::Cache => ctx.ui.info(&format!("cached token ({} cache), {left} left", cache.tier())),
        Origin::CacheAfterWait => {
            ctx.ui.info(&format!("token obtained by another process ({} cache), {left} left", cache.tier()))
        }
        Origin::Exchange => ctx.ui.info(&format!("new token from {}, {left} left", binding.datacenter)),
    }
    if let Some(e) = cache_error {
        ctx.ui.warn(&format!(
            "the new token could not be cached in the {} cache, so the next call will exchange again: {}",
            cache.tier(),
            e.message()
        ));
    }
    if token.remaining(ctx.clock.now()) < policy.min_valid {
        ctx.ui.warn(&format!(
            "the datacenter issued a token valid for {left}, less than --min-valid {}",
            human_duration(policy.min_valid)
        ));
    }
    Ok(token)
}
