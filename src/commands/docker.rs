//! `acronis-cred docker get|store|erase|list|version` (also run as
//! `docker-credential-acronis`). docker reads answers *and* errors from
//! stdout, and expects exit status 1 for any failure.

use crate::app::{Context, Source};
use crate::cli::DockerArgs;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::docker::{self, NOT_FOUND};

use super::helper_io::read_stdin;
use super::token::{forget_token, protocol_policy, token_for, write_stdout};

pub fn run(ctx: &mut Context<'_>, args: &DockerArgs) -> Result<()> {
    match answer(ctx, args.action.as_str()) {
        Ok(bytes) => write_stdout(ctx, &bytes),
        Err(e) => {
            // docker shows stdout to the user; keep the hint on stderr.
            let line = format!("{}\n", e.message());
            let _ = write_stdout(ctx, line.as_bytes());
            if let Some(hint) = e.hint() {
                let _ = writeln!(ctx.ui.stderr, "acronis-cred: hint: {hint}");
            }
            Err(Error::new(ErrorKind::Unexpected, e.message()).reported())
        }
    }
}

fn answer(ctx: &mut Context<'_>, action: &str) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let out = |s: String| Ok(zeroize::Zeroizing::new(s.into_bytes()));
    match action {
        "get" => {
            let (raw, source) = server_source(ctx)?.ok_or_else(|| Error::no_credentials(NOT_FOUND))?;
            let token = token_for(ctx, &source, protocol_policy())?;
            out(docker::encode_get(&raw, source.client_id(), &token).to_string())
        }
        "erase" => {
            if let Some((_, source)) = server_source(ctx)? {
                forget_token(ctx, &source, None)?;
            }
            out(String::new())
        }
        "store" => {
            // Read what docker sends so it never sees a broken pipe, then refuse.
            let _ = read_stdin(ctx, docker::MAX_INPUT);
            Err(Error::usage(
                "acronis-cred does not accept credentials from docker; register the API client with `acronis-cred register`",
            ))
        }
        "list" => {
            let file = ctx.config_file()?;
            let config = file.load()?;
            let entries: Vec<(String, String)> =
                config.profiles.values().map(|p| (p.datacenter.clone(), p.client_id.clone())).collect();
            out(docker::encode_list(entries.iter().map(|(u, c)| (u.as_str(), c.as_str()))))
        }
        "version" => out(format!("docker-credential-acronis (acronis-cred) {}\n", env!("CARGO_PKG_VERSION"))),
        other => Err(Error::usage(format!(
            "Unknown credential action `{}`",
            other.chars().filter(|c| !c.is_control()).take(40).collect::<String>()
        ))),
    }
}

/// The server URL on stdin, and the source registered for it.
fn server_source(ctx: &mut Context<'_>) -> Result<Option<(String, Source)>> {
    let input = read_stdin(ctx, docker::MAX_INPUT)
        .map_err(|e| Error::usage(format!("cannot read the server URL: {e}")))?
        .ok_or_else(|| Error::usage("the server URL on standard input is too long"))?;
    let server = docker::parse_server_url(&input).map_err(Error::usage)?;
    let scheme = server.scheme.as_deref().filter(|s| matches!(*s, "http" | "https"));
    if server.scheme.is_some() && scheme.is_none() {
        return Ok(None);
    }
    Ok(ctx.source_for_host(scheme, &server.authority)?.map(|s| (server.raw, s)))
}
