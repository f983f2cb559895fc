//! `acronis-cred terraform get|store|forget HOSTNAME` (also run as
//! `terraform-credentials-acronis`).

use crate::app::Context;
use crate::cli::TerraformArgs;
use crate::error::{Error, Result};
use crate::protocol::terraform::{self, Operation};

use super::helper_io::read_stdin;
use super::token::{forget_token, protocol_policy, token_for, write_stdout};

pub fn run(ctx: &mut Context<'_>, args: &TerraformArgs) -> Result<()> {
    let (op, host) = terraform::parse_args(&args.args).map_err(Error::usage)?;
    match op {
        // Terraform names hosts without a scheme.
        Operation::Get => match ctx.source_for_host(None, &host)? {
            Some(source) => {
                let token = token_for(ctx, &source, protocol_policy())?;
                write_stdout(ctx, terraform::encode_token(&token).as_bytes())
            }
            None => write_stdout(ctx, terraform::NOTHING.as_bytes()),
        },
        Operation::Store => {
            // Read to the end as the protocol asks, then refuse: the secret
            // is registered with `register`, never through terraform.
            let _ = read_stdin(ctx, terraform::MAX_STORE_INPUT);
            Err(Error::usage("acronis-cred does not store credentials given by terraform")
                .with_hint("register the API client with `acronis-cred register`"))
        }
        Operation::Forget => {
            if let Some(source) = ctx.source_for_host(None, &host)? {
                forget_token(ctx, &source, None)?;
            }
            Ok(())
        }
    }
}
