//! `acronis-cred git get|store|erase` (also run as `git-credential-acronis`).
//!
//! git ignores the exit status of helpers; "nothing to give" is silence and
//! exit 0, so git goes on to the next helper or asks the user.

use crate::app::Context;
use crate::cli::GitArgs;
use crate::error::{Error, Result};
use crate::protocol::git::{self, GitAnswer, GitRequest};

use super::helper_io::read_stdin;
use super::token::{PROTOCOL_MARGIN, forget_token, protocol_policy, token_for, write_stdout};

pub fn run(ctx: &mut Context<'_>, args: &GitArgs) -> Result<()> {
    let op = args.operation.as_str();
    if !matches!(op, "get" | "erase" | "store") {
        // Operations added to git later are not ours to fail on.
        return Ok(());
    }
    let input = read_stdin(ctx, git::MAX_REQUEST)
        .map_err(|e| Error::usage(format!("cannot read git's request: {e}")))?
        .ok_or_else(|| Error::usage("git's request is too long"))?;
    let request =
        GitRequest::parse(&input).map_err(|e| Error::usage(format!("malformed request from git: {e}")))?;
    if op == "store" {
        // git reporting that the credential worked: nothing to keep.
        return Ok(());
    }
    let (Some(protocol), Some(host)) = (request.protocol(), request.host()) else {
        return Ok(());
    };
    // https, or http to a loopback datacenter registered as such.
    if !matches!(protocol, "https" | "http") || host.is_empty() {
        return Ok(());
    }
    let Some(source) = ctx.source_for_host(Some(protocol), host)? else {
        ctx.ui.info(&format!("no profile for {protocol}://{host}; leaving it to other helpers"));
        return Ok(());
    };
    if op == "erase" {
        return forget_token(ctx, &source, request.presented_secret());
    }
    let token = token_for(ctx, &source, protocol_policy())?;
    let answer = GitAnswer {
        token: &token,
        username: source.client_id(),
        expiry: token.expires_at() - PROTOCOL_MARGIN,
    };
    let bytes = git::encode_answer(&request, &answer).map_err(|e| {
        Error::unexpected(format!("refusing to send a {} value that contains a line break", e.0))
    })?;
    write_stdout(ctx, &zeroize::Zeroizing::new(bytes))
}
