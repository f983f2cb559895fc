//! `acronis-cred rotate`: replace the client secret (or the whole API client)
//! so that some working credentials exist at every instant, and an
//! interrupted rotation can be finished (`--resume`) or undone (`--abort`).
//!
//! The order of every step is chosen so that a crash between any two leaves
//! either the old or the new credentials usable, and the journal naming
//! enough to carry on; see [`crate::rotation`].

use std::rc::Rc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::app::{Context, ProfileRef};

use crate::cli::RotateArgs;
use crate::datacenter::{AccountApi, ClientCredentials, HttpSettings};
use crate::error::{Error, ErrorKind, Result, profile_flag};
use crate::rotation::{
    self, Journal, JournalFile, Mode, PendingCredentials, Step, checkpoint, pending_account, previous_account,
};
use crate::store::SecretStore;
use crate::time::rfc3339;
use crate::token::AccessToken;

pub fn run(ctx: &mut Context<'_>, args: &RotateArgs) -> Result<()> {
    let name = ctx.profile_name()?;
    let profile = ctx.load_profile(&name)?;
    let store = ctx.platform.open_store(profile.store)?;
    let state_dir = ctx.env.state_dir().ok_or_else(|| {
        Error::usage("cannot find a state directory: HOME is not set").with_hint("set HOME or XDG_STATE_HOME")
    })?;
    let journal_file = JournalFile::new(state_dir, &name);
    // The same lock as token exchanges: no `token` call reads a half-written state.
    let _lock = ctx.lock_profile(&name)?;
    let existing = journal_file.load()?;
    let mut r = Rotation { ctx, profile, store, journal_file, verify_timeout: args.verify_timeout };
    match (args.resume, args.abort, existing) {
        (true, _, None) | (_, true, None) => {
            r.ctx.ui.note(&format!("no rotation of profile '{name}' is pending; nothing to do"));
            Ok(())
        }
        (true, _, Some(j)) => r.resume(j),
        (_, true, Some(j)) => r.abort(j),
        (false, false, Some(j)) => Err(Error::usage(format!(
            "a rotation of profile '{name}' is already pending (step {}, started {})",
            j.step.name(),
            j.started_at
        ))
        .with_hint(format!(
            "finish it with `acronis-cred{0} rotate --resume` or undo it with `acronis-cred{0} rotate --abort`",
            profile_flag(&name)
        ))),
        (false, false, None) if args.replace_client => r.replace_client(),
        (false, false, None) => {
            let secret = super::register::read_secret(r.ctx, args.secret_stdin, "New client secret")?;
            r.new_secret(secret)
        }
    }
}

struct Rotation<'c, 'a> {
    ctx: &'c mut Context<'a>,
    profile: ProfileRef,
    store: Rc<dyn SecretStore>,
    journal_file: JournalFile,
    verify_timeout: Duration,
}

impl Rotation<'_, '_> {
    fn name(&self) -> String {
        self.profile.name.clone()
    }

    fn now(&self) -> String {
        rfc3339(self.ctx.clock.now())
    }

    /// Records that `step` is done, then passes the matching test checkpoint.
    fn advance(&mut self, j: &mut Journal, step: Step) -> Result<()> {
        j.step = step;
        j.updated_at = self.now();
        self.journal_file.save(j)?;
        checkpoint(self.ctx.env, step.name());
        Ok(())
    }

    fn exchange(&self, client_id: &str, secret: &SecretString) -> Result<AccessToken> {
        let creds = ClientCredentials {
            datacenter: self.profile.datacenter.clone(),
            client_id: client_id.to_string(),
            secret: secret.clone(),
        };
        self.ctx.exchange()?.exchange(&creds)
    }

    fn api<'t>(&'t self, token: &'t AccessToken, settings: &'t HttpSettings) -> AccountApi<'t> {
        AccountApi { datacenter: &self.profile.datacenter, settings, token }
    }

    fn current_secret(&self) -> Result<SecretString> {
        self.store.get(&self.profile.name)?.ok_or_else(|| {
            Error::no_credentials(format!(
                "profile '{}' has no secret in the {} store",
                self.name(),
                self.profile.store
            ))
        })
    }

    /// Mode 1: the user brings the new secret of the same client.
    fn new_secret(&mut self, secret: SecretString) -> Result<()> {
        if let Some(current) = self.store.get(&self.profile.name)?
            && current.expose_secret() == secret.expose_secret()
        {
            return Err(Error::usage("that is already the profile's current secret; nothing changed"));
        }
        let client_id = self.profile.profile.client_id.clone();
        let mut j = self.journal(Mode::Secret, Step::Started);
        self.journal_file.save(&j)?;
        checkpoint(self.ctx.env, Step::Started.name());
        let pending = PendingCredentials { client_id: client_id.clone(), secret };
        rotation::store_pending(&*self.store, &self.profile.name, &pending)?;
        checkpoint(self.ctx.env, "pending-written");
        self.advance(&mut j, Step::PendingStored)?;
        let token = match self.exchange(&client_id, &pending.secret) {
            Ok(token) => token,
            Err(e) => {
                // Not proven: forget it, so nothing has changed.
                self.store.delete(&pending_account(&self.profile.name))?;
                self.journal_file.remove()?;
                return Err(Error::new(
                    e.kind(),
                    format!("the new secret was not accepted: {}; nothing changed", e.message()),
                )
                .with_hint(match e.kind() {
                    ErrorKind::Rejected => "check that you pasted the secret shown when it was reset",
                    _ => "the current secret is still in place; try again",
                }));
            }
        };
        self.advance(&mut j, Step::Verified)?;
        self.promote(&mut j, &pending, Some(token))?;
        self.finish(&mut j)
    }

    /// Mode 2: create a new API client in the same tenant, switch to it,
    /// delete the old one. Only documented calls.
    fn replace_client(&mut self) -> Result<()> {
        let old_id = self.profile.profile.client_id.clone();
        let current = self.current_secret()?;
        let token = self.exchange(&old_id, &current).map_err(|e| {
            Error::new(e.kind(), format!("--replace-client needs working credentials: {}", e.message())).with_hint(
                "if the secret was reset in the console, give the new one with `acronis-cred rotate` instead",
            )
        })?;
        let settings = self.ctx.http_settings()?;
        let info = self.api(&token, &settings).get_client(&old_id)?;
        let new_name =
            format!("{} (rotated {})", info.name.as_deref().unwrap_or("acronis-cred"), &self.now()[..10]);
        let mut j = self.journal(Mode::ReplaceClient, Step::Creating);
        j.tenant_id = Some(info.tenant_id.clone());
        j.new_client_name = Some(new_name.clone());
        self.journal_file.save(&j)?;
        checkpoint(self.ctx.env, Step::Creating.name());
        let created = match self.api(&token, &settings).create_client(&info.tenant_id, &new_name) {
            Ok(c) => c,
            Err(e) => {
                self.journal_file.remove()?;
                return Err(Error::new(e.kind(), format!("{}; nothing changed", e.message())));
            }
        };
        checkpoint(self.ctx.env, "created");
        let pending = PendingCredentials { client_id: created.client_id.clone(), secret: created.secret };
        if let Err(e) = rotation::store_pending(&*self.store, &self.profile.name, &pending) {
            // Without a place to keep its secret the new client is useless.
            if let Err(d) = self.api(&token, &settings).delete_client(&pending.client_id) {
                self.ctx.ui.warn(&format!(
                    "could not delete the new client {} either ({}); delete it in the console",
                    pending.client_id,
                    d.message()
                ));
            }
            self.journal_file.remove()?;
            return Err(Error::new(e.kind(), format!("{}; the old client is unchanged", e.message())));
        }
        checkpoint(self.ctx.env, "pending-written");
        j.new_client_id = Some(pending.client_id.clone());
        self.advance(&mut j, Step::PendingStored)?;
        let new_token = self.verify_with_retries(&pending)?;
        self.advance(&mut j, Step::Verified)?;
        self.promote(&mut j, &pending, Some(new_token))?;
        self.finish(&mut j)
    }

    /// A new client may take a moment to become usable: retry with backoff
    /// until `verify_timeout`.
    fn verify_with_retries(&mut self, pending: &PendingCredentials) -> Result<AccessToken> {
        let deadline = Instant::now() + self.verify_timeout;
        let mut pause = Duration::from_millis(250);
        loop {
            match self.exchange(&pending.client_id, &pending.secret) {
                Ok(token) => return Ok(token),
                Err(e) if matches!(e.kind(), ErrorKind::Rejected | ErrorKind::Unavailable) => {
                    if Instant::now() + pause > deadline {
                        return Err(Error::new(
                            e.kind(),
                            format!(
                                "the new client {} was not usable within {} s: {}",
                                pending.client_id,
                                self.verify_timeout.as_secs(),
                                e.message()
                            ),
                        )
                        .with_hint(format!(
                            "the old credentials still work; retry with `acronis-cred{0} rotate --resume` or undo with `acronis-cred{0} rotate --abort`",
                            profile_flag(&self.profile.name)
                        )));
                    }
                    self.ctx.ui.info(&format!("new client not usable yet ({}); retrying", e.message()));
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes the pending credentials the profile's: the old secret is kept
    /// aside until the end, the cached token of the old ones is dropped.
    fn promote(
        &mut self,
        j: &mut Journal,
        pending: &PendingCredentials,
        token: Option<AccessToken>,
    ) -> Result<()> {
        let name = self.name();
        if let Some(current) = self.store.get(&name)?
            && current.expose_secret() != pending.secret.expose_secret()
        {
            self.store.set(&previous_account(&name), &current)?;
        }
        checkpoint(self.ctx.env, "previous-written");
        self.store.set(&name, &pending.secret)?;
        checkpoint(self.ctx.env, "current-written");
        let now = self.now();
        let file = self.ctx.config_file()?;
        let new_id = pending.client_id.clone();
        file.update(|config| {
            let Some(p) = config.profiles.get_mut(&name) else {
                return Err(Error::no_credentials(format!(
                    "profile '{name}' disappeared during the rotation"
                )));
            };
            p.client_id = new_id.clone();
            p.rotated_at = Some(now.clone());
            p.updated_at = now.clone();
            Ok(((), true))
        })?;
        self.profile.profile.client_id = pending.client_id.clone();
        checkpoint(self.ctx.env, "config-written");
        self.advance(j, Step::Promoted)?;
        self.drop_cached_tokens(token);
        Ok(())
    }

    fn drop_cached_tokens(&mut self, fresh: Option<AccessToken>) {
        if let Err(e) = self.ctx.reset_cached_token(&self.profile, &self.store, fresh) {
            self.ctx.ui.info(&format!("could not reset the token cache: {}", e.message()));
        }
    }

    /// After promotion: delete the old client (replace-client), then clean up.
    fn finish(&mut self, j: &mut Journal) -> Result<()> {
        let name = self.name();
        if j.mode == Mode::ReplaceClient && j.step < Step::OldDeleted {
            let current = self.current_secret()?;
            let client_id = self.profile.profile.client_id.clone();
            let settings = self.ctx.http_settings()?;
            let deleted = self
                .exchange(&client_id, &current)
                .and_then(|token| self.api(&token, &settings).delete_client(&j.old_client_id));
            if let Err(e) = deleted {
                return Err(Error::new(
                    e.kind(),
                    format!(
                        "profile '{name}' now uses the new client {client_id}, but the old client {} could not be deleted: {}",
                        j.old_client_id,
                        e.message()
                    ),
                )
                .with_hint(format!("retry with `acronis-cred{} rotate --resume`", profile_flag(&name))));
            }
            self.advance(j, Step::OldDeleted)?;
        }
        self.store.delete(&pending_account(&name))?;
        checkpoint(self.ctx.env, "pending-deleted");
        self.store.delete(&previous_account(&name))?;
        self.journal_file.remove()?;
        let what = match j.mode {
            Mode::Secret => "secret".to_string(),
            Mode::ReplaceClient => {
                format!("API client: {} replaced {}", self.profile.profile.client_id, j.old_client_id)
            }
        };
        self.ctx.ui.note(&format!("rotated the {what} of profile '{name}'"));
        Ok(())
    }

    fn resume(&mut self, mut j: Journal) -> Result<()> {
        let name = self.name();
        let pending = rotation::pending_credentials(&*self.store, &name)?;
        if j.step < Step::PendingStored {
            let Some(p) = &pending else {
                self.journal_file.remove()?;
                if j.step == Step::Creating {
                    self.ctx.ui.warn(&format!(
                        "the interrupted rotation may have created an API client named {:?} before it stored anything; if the console shows it, delete it",
                        j.new_client_name.as_deref().unwrap_or("?")
                    ));
                }
                self.ctx
                    .ui
                    .note("the interrupted rotation had not stored anything; the profile is unchanged");
                return Ok(());
            };
            j.new_client_id = (j.mode == Mode::ReplaceClient).then(|| p.client_id.clone());
            self.advance(&mut j, Step::PendingStored)?;
        }
        if j.step < Step::Promoted {
            let Some(p) = pending else {
                return Err(Error::store(format!(
                    "the rotation of profile '{name}' reached step {} but its pending secret is gone",
                    j.step.name()
                ))
                .with_hint("the current secret is unchanged; undo with `acronis-cred rotate --abort`"));
            };
            let token = if j.step < Step::Verified {
                let t = self.verify_with_retries(&p)?;
                self.advance(&mut j, Step::Verified)?;
                t
            } else {
                self.exchange(&p.client_id, &p.secret)?
            };
            self.promote(&mut j, &p, Some(token))?;
        }
        self.finish(&mut j)
    }

    fn abort(&mut self, j: Journal) -> Result<()> {
        let name = self.name();
        if j.step >= Step::Promoted {
            return Err(Error::usage(format!(
                "the rotation of profile '{name}' already switched to the new credentials; there is nothing to undo"
            ))
            .with_hint(format!("finish it with `acronis-cred{} rotate --resume`", profile_flag(&name))));
        }
        let pending = rotation::pending_credentials(&*self.store, &name)?;
        let old_works =
            self.current_secret().and_then(|s| self.exchange(&self.profile.profile.client_id, &s));
        match (&old_works, &pending) {
            (Err(e), Some(_)) if e.kind() == ErrorKind::Rejected => {
                return Err(Error::usage(format!(
                    "the current credentials of profile '{name}' are rejected; the pending ones may be the only working ones, so they are kept"
                ))
                .with_hint(format!("finish the rotation with `acronis-cred{} rotate --resume`", profile_flag(&name))));
            }
            _ => {}
        }
        if j.mode == Mode::ReplaceClient
            && let Some(new_id) = j.new_client_id.clone().or(pending.as_ref().map(|p| p.client_id.clone()))
        {
            let settings = self.ctx.http_settings()?;
            let deleted = match &old_works {
                Ok(token) => self.api(token, &settings).delete_client(&new_id),
                Err(e) => Err(Error::new(e.kind(), e.message())),
            };
            if let Err(e) = deleted {
                return Err(Error::new(
                    e.kind(),
                    format!("cannot delete the new client {new_id} to undo the rotation: {}", e.message()),
                )
                .with_hint("nothing was changed; try again, or finish the rotation with --resume"));
            }
        }
        self.store.delete(&pending_account(&name))?;
        self.journal_file.remove()?;
        self.ctx
            .ui
            .note(&format!("undid the rotation of profile '{name}'; it keeps its current credentials"));
        Ok(())
    }

    fn journal(&self, mode: Mode, step: Step) -> Journal {
        let now = self.now();
        Journal {
            v: 1,
            mode,
            step,
            started_at: now.clone(),
            updated_at: now,
            old_client_id: self.profile.profile.client_id.clone(),
            new_client_id: None,
            tenant_id: None,
            new_client_name: None,
        }
    }
}
