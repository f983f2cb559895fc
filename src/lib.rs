//! acronis-cred: a credential helper for the Acronis Cyber Protect Cloud API.
//!
//! Data flows one way: command line -> profile ([`config`]) -> credentials
//! ([`store`] or the environment) -> token ([`cache`], then one exchange with
//! the [`datacenter`]) -> [`protocol`] writer -> stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod alloc;
pub mod app;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod datacenter;
pub mod env;
pub mod error;
pub mod fsutil;
pub mod hygiene;
pub mod platform;
pub mod protocol;
pub mod rotation;
pub mod stdio;
pub mod store;
pub mod time;
pub mod token;
pub mod ui;

use std::ffi::OsString;
use std::io::{BufRead, Write};

use clap::Parser;

use crate::app::Context;
use crate::cli::{Cli, Command};
use crate::env::Env;
use crate::error::ExitCode;
use crate::platform::Platform;
use crate::time::Clock;
use crate::ui::{Ui, Verbosity};

/// Runs one invocation: parse `args`, dispatch, report an error once on
/// stderr, and return the exit code. Never panics on bad input.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    env: &Env,
    clock: &dyn Clock,
    platform: &dyn Platform,
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let args = cli::dispatch_argv0(args.into_iter().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            // Help and version are what the caller asked for: stdout, exit 0.
            // Everything else, including help shown for a missing subcommand,
            // is a usage error on stderr.
            return if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
                let _ = stdout.write_all(e.render().to_string().as_bytes());
                ExitCode::Ok.code()
            } else {
                let _ = stderr.write_all(e.render().to_string().as_bytes());
                ExitCode::Usage.code()
            };
        }
    };
    let color = match cli.global.color {
        cli::ColorChoice::Always => true,
        cli::ColorChoice::Never => false,
        cli::ColorChoice::Auto => {
            use std::io::IsTerminal;
            !env.is_set("NO_COLOR") && env.get("TERM") != Some("dumb") && std::io::stderr().is_terminal()
        }
    };
    let verbosity = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        _ => Verbosity::Verbose,
    };
    let mut ctx = Context {
        ui: Ui { stdin, stdout, stderr, verbosity, color },
        env,
        clock,
        platform,
        global: cli.global.clone(),
    };
    if let Err(e) = ctx.check_config_file() {
        ctx.ui.error(&e);
        return e.exit_code().code();
    }
    let ok = |r: error::Result<()>| r.map(|()| ExitCode::Ok.code());
    let result = match &cli.command {
        Command::Register(a) => ok(commands::register::run(&mut ctx, a)),
        Command::Token(a) => ok(commands::token::run(&mut ctx, a)),
        Command::Status(a) => commands::status::run(&mut ctx, a),
        Command::Remove => ok(commands::remove::run(&mut ctx)),
        Command::Url(a) => ok(commands::url::run(&mut ctx, a)),
        Command::Rotate(a) => ok(commands::rotate::run(&mut ctx, a)),
        Command::Git(a) => ok(commands::git::run(&mut ctx, a)),
        Command::Docker(a) => ok(commands::docker::run(&mut ctx, a)),
        Command::Kubectl => ok(commands::kubectl::run(&mut ctx)),
        Command::Terraform(a) => ok(commands::terraform::run(&mut ctx, a)),
        Command::Exec(a) => commands::exec::run(&mut ctx, a),
        Command::Setup(a) => ok(commands::setup::run(&mut ctx, a)),
        Command::Doctor(a) => commands::doctor::run(&mut ctx, a),
        Command::Completions(a) => ok(commands::docs::completions(&mut ctx, a)),
        Command::Man(a) => ok(commands::docs::man(&mut ctx, a)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if !e.is_reported() {
                ctx.ui.error(&e);
            }
            e.exit_code().code()
        }
    }
}
