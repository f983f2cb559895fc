//! `acronis-cred url`: the base URL of an API for the profile's datacenter.

use crate::app::{Context, Source};
use crate::cli::{ApiArg, UrlArgs};
use crate::datacenter::Api;
use crate::error::Result;

pub fn run(ctx: &mut Context<'_>, args: &UrlArgs) -> Result<()> {
    let datacenter = match ctx.source()? {
        Source::Profile(p) => p.datacenter,
        Source::Env(e) => e.datacenter,
    };
    let api = match args.api {
        ApiArg::Account => Api::Account,
        ApiArg::AgentManager => Api::AgentManager,
    };
    let line = format!("{}\n", datacenter.api_base(api));
    super::token::write_stdout(ctx, line.as_bytes())
}
