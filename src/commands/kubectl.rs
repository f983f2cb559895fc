//! `acronis-cred kubectl`: a client-go exec credential plugin. Never reads
//! stdin (kubectl may hand it the user's terminal); any failure is a
//! non-zero exit with the reason on stderr, which kubectl shows.

use crate::app::Context;
use crate::error::{Error, Result};
use crate::protocol::kubectl;

use super::token::{PROTOCOL_MARGIN, protocol_policy, token_for, write_stdout};

pub fn run(ctx: &mut Context<'_>) -> Result<()> {
    let api_version =
        kubectl::requested_api_version(ctx.env.get("KUBERNETES_EXEC_INFO")).map_err(Error::usage)?;
    let source = ctx.source()?;
    let token = token_for(ctx, &source, protocol_policy())?;
    // client-go refreshes only once the expiry has passed: report it early.
    let out = kubectl::encode(api_version, &token, token.expires_at() - PROTOCOL_MARGIN);
    write_stdout(ctx, out.as_bytes())
}
