//! `acronis-cred remove`: secret, cached token, then the profile. Idempotent.
//!
//! The secret goes first: if the store cannot be reached nothing is changed,
//! and a profile is never dropped while its secret stays behind.

use crate::app::Context;
use crate::error::Result;

pub fn run(ctx: &mut Context<'_>) -> Result<()> {
    let name = ctx.profile_name()?;
    let file = ctx.config_file()?;
    let _lock = ctx.lock_profile(&name)?;
    if !file.load()?.profiles.contains_key(&name) {
        // Nothing registered; still clear a secret left in an explicitly named store.
        if let Some(choice) = ctx.store_override()? {
            let kind = ctx.resolve_store(choice)?;
            if ctx.platform.open_store(kind)?.delete(&name)? {
                ctx.ui.note(&format!("deleted a leftover secret for '{name}' from the {kind} store"));
                return Ok(());
            }
        }
        ctx.ui.note(&format!("no profile named '{name}'; nothing to remove"));
        return Ok(());
    }
    let profile = ctx.load_profile(&name)?;
    let store = ctx.platform.open_store(profile.store)?;
    let had_secret = store.delete(&name)?;
    ctx.reset_cached_token(&profile, &store, None)?;
    // An unfinished rotation of this profile goes too.
    store.delete(&crate::rotation::pending_account(&name))?;
    store.delete(&crate::rotation::previous_account(&name))?;
    if let Some(dir) = ctx.env.state_dir() {
        crate::rotation::JournalFile::new(dir, &name).remove()?;
    }
    file.update(|config| Ok(((), config.profiles.remove(&name).is_some())))?;
    ctx.ui.note(&format!(
        "removed profile '{name}'{}",
        if had_secret { "" } else { " (its secret was already gone from the store)" }
    ));
    Ok(())
}
