//! `acronis-cred exec -- COMMAND [ARGS...]`: run a command with a token in its
//! environment. On Unix the process is replaced, so signals and the exit
//! status are the command's own.

use std::process::Command;

use crate::app::{Context, ENV_CLIENT_SECRET};
use crate::cli::ExecArgs;
use crate::datacenter::Api;
use crate::error::{Error, ErrorKind, Result};

use super::token::{protocol_policy, token_for};

/// Exit statuses of a command that could not be started, as shells use them.
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_RUN: u8 = 126;

pub fn run(ctx: &mut Context<'_>, args: &ExecArgs) -> Result<u8> {
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::usage("no command given").with_hint("acronis-cred exec -- COMMAND [ARGS...]"));
    };
    let source = ctx.source()?;
    let token = token_for(ctx, &source, protocol_policy())?;
    let dc = source.datacenter();
    let mut cmd = Command::new(program);
    cmd.args(rest)
        // The client secret never reaches a child, even when it came from there.
        .env_remove(ENV_CLIENT_SECRET)
        .env("ACRONIS_TOKEN", token.expose())
        .env("ACRONIS_DATACENTER_URL", dc.as_str())
        .env("ACRONIS_API_URL", dc.api_base(Api::Account))
        .env("ACRONIS_AGENT_MANAGER_URL", dc.api_base(Api::AgentManager));
    crate::hygiene::restore_for_child();
    let shown = program.to_string_lossy().into_owned();
    let failed = |e: std::io::Error| {
        let code = if e.kind() == std::io::ErrorKind::NotFound { EXIT_NOT_FOUND } else { EXIT_CANNOT_RUN };
        (code, Error::new(ErrorKind::Usage, format!("cannot run {shown}: {e}")))
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let (code, err) = failed(cmd.exec());
        ctx.ui.error(&err);
        Ok(code)
    }
    #[cfg(not(unix))]
    {
        match cmd.status() {
            Ok(status) => Ok(status.code().map(|c| c as u8).unwrap_or(1)),
            Err(e) => {
                let (code, err) = failed(e);
                ctx.ui.error(&err);
                Ok(code)
            }
        }
    }
}
