//! `acronis-cred url`: the base URL of an API for the profile's datacenter.

use crate::app::Context;
use crate::cli::{ApiArg, UrlArgs};
use crate::datacenter::Api;
use crate::error::Result;

pub fn run(ctx: &mut Context<'_>, args: &UrlArgs) -> Result<()> {
    let source = ctx.source()?;
    let api = match args.api {
        ApiArg::Account => Api::Account,
        ApiArg::AgentManager => Api::AgentManager,
    };
    let line = format!("{}\n", source.datacenter().api_base(api));
    super::token::write_stdout(ctx, line.as_bytes())
}
