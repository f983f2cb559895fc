//! `acronis-cred register`: verify, then store the secret, then the profile.
//!
//! Order matters for "lose nothing": the secret is proven with a real
//! exchange before anything is written; the previous secret (if replaced)
//! is held in memory and put back if writing the config fails.

use std::io::BufRead;
use std::rc::Rc;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::app::Context;

use crate::cli::RegisterArgs;
use crate::config::{self, Profile};
use crate::datacenter::{ClientCredentials, DatacenterUrl};
use crate::error::{Error, Result, profile_flag};
use crate::store::{SecretStore, StoreChoice, StoreKind};
use crate::time::rfc3339;

/// Longest secret accepted on stdin; platform secrets are 32-64 characters.
const MAX_SECRET: usize = 4096;

pub fn run(ctx: &mut Context<'_>, args: &RegisterArgs) -> Result<()> {
    let name = ctx.profile_name()?;
    let datacenter = DatacenterUrl::parse(&args.datacenter).map_err(Error::usage)?;
    let client_id = args.client_id.trim().to_string();
    config::check_client_id(&client_id).map_err(Error::usage)?;
    let file = ctx.config_file()?;
    // Registration, removal, rotation and exchanges of one profile never interleave.
    let _lock = ctx.lock_profile(&name)?;
    let existing = file.load()?.profiles.get(&name).cloned();

    let choice = ctx.store_override()?.unwrap_or(match &existing {
        // Re-registering keeps the profile's store unless told otherwise.
        Some(p) if !args.force => p.store.parse().map(StoreChoice::Kind).unwrap_or(StoreChoice::Auto),
        _ => StoreChoice::Auto,
    });
    let same_place = |p: &Profile| p.datacenter == datacenter.as_str() && p.client_id == client_id;
    if let Some(p) = &existing
        && !args.force
        && (!same_place(p) || matches!(choice, StoreChoice::Kind(k) if k.name() != p.store))
    {
        return Err(Error::usage(format!(
            "profile '{name}' is already registered for client {} at {} (store {})",
            p.client_id, p.datacenter, p.store
        ))
        .with_hint("to replace it, add --force; to keep both, pick another name with --profile"));
    }
    let kind = ctx.resolve_store(choice)?;
    let store = ctx.platform.open_store(kind)?;
    // Read what is there now: it proves the store works before the user is
    // asked for anything, and is put back if writing the config fails.
    let previous = store.get(&name)?;

    let secret = read_secret(ctx, args.secret_stdin, &format!("Client secret for {client_id}"))?;

    if let Some(p) = &existing
        && !args.force
    {
        // Same datacenter, client and store: a no-op if the secret is the same too.
        return match previous {
            Some(stored) if ct_eq(stored.expose_secret(), secret.expose_secret()) => {
                ctx.ui.note(&format!("profile '{name}' is already registered with these values; nothing changed"));
                Ok(())
            }
            _ => Err(Error::usage(format!(
                "profile '{name}' is already registered for client {} with a different (or missing) secret",
                p.client_id
            ))
            .with_hint(format!(
                "to store the new secret, run again with --force: acronis-cred{} register --force --datacenter {} --client-id {}",
                profile_flag(&name),
                datacenter,
                client_id
            ))),
        };
    }

    let creds = ClientCredentials { datacenter: datacenter.clone(), client_id: client_id.clone(), secret };
    let verified = if args.no_verify {
        None
    } else {
        let exchange = ctx.exchange()?;
        let token = exchange.exchange(&creds).map_err(|e| {
            let message = format!("{}; nothing was stored", e.message());
            match e.hint() {
                Some(h) if e.kind() != crate::error::ErrorKind::Rejected => Error::new(e.kind(), message).with_hint(h),
                _ => Error::new(e.kind(), message).with_hint("check the client id, the secret and the datacenter URL, or pass --no-verify to store them unchecked"),
            }
        })?;
        ctx.ui.info(&format!("the datacenter accepted the credentials of client {client_id}"));
        Some(token)
    };

    let secret_changed = previous.as_ref().is_some_and(|p| p.expose_secret() != creds.secret.expose_secret());
    store.set(&name, &creds.secret)?;
    let now = rfc3339(ctx.clock.now());
    let written = file.update(|config| {
        let (registered_at, rotated_at) = match config.profiles.get(&name) {
            Some(p) if same_place(p) => (
                p.registered_at.clone(),
                if secret_changed { Some(now.clone()) } else { p.rotated_at.clone() },
            ),
            _ => (now.clone(), None),
        };
        let old = config.profiles.insert(
            name.clone(),
            Profile {
                datacenter: datacenter.as_str().to_string(),
                client_id: client_id.clone(),
                store: kind.name().to_string(),
                token_cache: existing.as_ref().and_then(|p| p.token_cache.clone()),
                registered_at,
                updated_at: now.clone(),
                rotated_at,
                other: existing.as_ref().map(|p| p.other.clone()).unwrap_or_default(),
            },
        );
        Ok((old, true))
    });
    let old_profile = match written {
        Ok(old) => old,
        Err(e) => {
            // Put back what was there, so a failed register changes nothing.
            let restored = match &previous {
                Some(s) => store.set(&name, s),
                None => store.delete(&name).map(|_| ()),
            };
            if let Err(r) = restored {
                ctx.ui.warn(&format!("could not restore the previous secret store entry: {}", r.message()));
            }
            return Err(e);
        }
    };

    // A replaced registration in another store leaves no secret behind.
    if let Some(old) = &old_profile
        && old.store != kind.name()
        && let Ok(old_kind) = old.store.parse::<StoreKind>()
        && let Err(e) = ctx.platform.open_store(old_kind).and_then(|s| s.delete(&name))
    {
        ctx.ui.warn(&format!(
            "could not delete the old secret from the {} store: {}",
            old.store,
            e.message()
        ));
    }

    refresh_cache(ctx, &name, &store, verified);
    ctx.ui.note(&format!(
        "registered profile '{name}': client {client_id} at {datacenter}, secret in the {kind} store ({})",
        kind.persistence()
    ));
    if args.no_verify {
        ctx.ui.note("the credentials were not verified (--no-verify)");
    }
    Ok(())
}

/// Drops any token cached for the profile's previous registration and keeps
/// the one the verification obtained, so the first `token` is free.
fn refresh_cache(
    ctx: &mut Context<'_>,
    name: &str,
    store: &Rc<dyn SecretStore>,
    verified: Option<crate::token::AccessToken>,
) {
    let reset = ctx.load_profile(name).and_then(|profile| ctx.reset_cached_token(&profile, store, verified));
    if let Err(e) = reset {
        ctx.ui.info(&format!("could not reset the token cache: {}", e.message()));
    }
}

/// The secret from one line of stdin, or from a no-echo prompt on the
/// terminal. Empty means cancelled: an error, and nothing is stored.
pub fn read_secret(ctx: &mut Context<'_>, from_stdin: bool, prompt: &str) -> Result<SecretString> {
    let secret = if from_stdin {
        read_secret_line(ctx.ui.stdin)?
    } else if !ctx.interactive() {
        return Err(Error::usage("no secret given, and prompting is off (no terminal, or non-interactive)")
            .with_hint("pipe the secret in with --secret-stdin"));
    } else {
        ctx.platform.prompt_secret(&format!("{prompt}: "))?
    };
    let trimmed = secret.expose_secret().trim();
    if trimmed.is_empty() {
        return Err(Error::usage("the client secret is empty; nothing was stored"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::usage("the client secret contains control characters; nothing was stored"));
    }
    if trimmed.len() == secret.expose_secret().len() {
        Ok(secret)
    } else {
        Ok(SecretString::from(trimmed.to_string()))
    }
}

/// One line of stdin, without its line ending. Bounded, and zeroed on drop.
fn read_secret_line(stdin: &mut dyn BufRead) -> Result<SecretString> {
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_SECRET + 2));
    let mut limited = std::io::Read::take(stdin, MAX_SECRET as u64 + 2);
    limited
        .read_until(b'\n', &mut buf)
        .map_err(|e| Error::usage(format!("cannot read the secret from standard input: {e}")))?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > MAX_SECRET {
        return Err(Error::usage(format!("the secret on standard input is longer than {MAX_SECRET} bytes")));
    }
    match std::str::from_utf8(&buf) {
        Ok(text) => Ok(SecretString::from(text)),
        Err(_) => Err(Error::usage("the secret on standard input is not UTF-8 text")),
    }
}

/// Comparison whose time does not depend on where the inputs differ.
fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_line() {
        let read = |input: &[u8]| read_secret_line(&mut &input[..]).map(|s| s.expose_secret().to_string());
        assert_eq!(read(b"abc\nrest").unwrap(), "abc");
        assert_eq!(read(b"abc\r\n").unwrap(), "abc");
        assert_eq!(read(b"abc").unwrap(), "abc");
        assert_eq!(read(b"").unwrap(), "");
        assert!(read(&vec![b'a'; MAX_SECRET + 5]).is_err());
        assert_eq!(read(&vec![b'a'; MAX_SECRET]).unwrap().len(), MAX_SECRET);
        assert!(read(b"\xff\xfe\n").is_err());
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
    }
}
