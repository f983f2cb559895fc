//! Command-line definitions. Every flag is documented here; `--help`, and
//! later the man page and completions, come from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::protocol::plain::Format;
use crate::store::StoreChoice;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  unexpected error (I/O, corrupt config file, nonsensical answer)
  2  usage error or bad input
  3  no such profile, or no credentials for it
  4  credentials rejected by the datacenter
  5  datacenter unreachable or failing
  6  secret store unavailable or locked
  7  status --max-age: a secret is older than allowed

Environment:
  ACRONIS_PROFILE          profile to use (like --profile)
  ACRONIS_CRED_CONFIG      config file (like --config)
  ACRONIS_CRED_STORE       secret store (like --store)
  ACRONIS_CRED_TOKEN_CACHE token cache: auto, kernel, store or none
  ACRONIS_CRED_TIMEOUT, ACRONIS_CRED_RETRIES, ACRONIS_CRED_CA_FILE
                           like --timeout, --retries, --ca-file
  ACRONIS_CLIENT_ID, ACRONIS_CLIENT_SECRET, ACRONIS_DATACENTER_URL
                           all three set and no profile named: use these
                           instead of a registered profile (for CI; weaker
                           than a keychain, see the README)";

#[derive(Parser)]
#[command(
    name = "acronis-cred",
    version = env!("ACRONIS_CRED_VERSION"),
    about = "Credential helper for the Acronis Cyber Protect Cloud API",
    long_about = "Keeps an Acronis API client's secret in the OS keychain and prints bearer tokens \
                  for scripts and tools, cached until shortly before they expire.",
    after_help = EXIT_CODES,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone, Debug, Default)]
pub struct GlobalArgs {
    /// Profile to use [default: default; env: ACRONIS_PROFILE]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Config file [default: $XDG_CONFIG_HOME/acronis-cred/config.toml; env: ACRONIS_CRED_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Secret store: auto, secret-service, keyutils, macos, windows [env: ACRONIS_CRED_STORE]
    #[arg(long, global = true, value_name = "STORE", value_parser = parse_store)]
    pub store: Option<StoreChoice>,

    /// Overall time limit of one HTTP request, e.g. 30s [env: ACRONIS_CRED_TIMEOUT]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_std)]
    pub timeout: Option<std::time::Duration>,

    /// Attempts for a request that failed in a retryable way (connection, 429, 5xx) [env: ACRONIS_CRED_RETRIES]
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,

    /// Also trust the CA certificates in this PEM file [env: ACRONIS_CRED_CA_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Say more on stderr (cache hits, exchanges, store used)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Say nothing on stderr except errors
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Never prompt; fail (exit 2) where input would be needed [env: ACRONIS_CRED_NONINTERACTIVE=1]
    #[arg(long, global = true)]
    pub non_interactive: bool,

    /// Colour on stderr messages: auto (a terminal, and NO_COLOR unset), always, never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

fn parse_store(s: &str) -> Result<StoreChoice, String> {
    s.parse()
}

#[derive(Subcommand)]
pub enum Command {
    /// Register an API client: secret into the keychain, the rest into the config file
    #[command(
        after_help = "Example:\n  acronis-cred register --datacenter https://eu2-cloud.acronis.com --client-id 3fa85f64-5717-4562-b3fc-2c963f66afa6\n\nThe secret is asked for on the terminal, without echo; --secret-stdin reads it from one line of standard input instead. It is never taken from the command line."
    )]
    Register(RegisterArgs),

    /// Print a valid bearer token (cached, or from one exchange)
    #[command(
        after_help = "Examples:\n  acronis-cred token\n  curl -H @<(acronis-cred token --format header) \"$(acronis-cred url)/clients/$CLIENT_ID\"\n  eval \"$(acronis-cred token --format env)\""
    )]
    Token(TokenArgs),

    /// Show profiles, their stores and cached tokens (never a secret or token)
    #[command(
        after_help = "Examples:\n  acronis-cred status\n  acronis-cred status --json\n  acronis-cred status --max-age 90    (cron: exit 7 when a secret is older)"
    )]
    Status(StatusArgs),

    /// Delete a profile's secret, cached token and configuration
    #[command(visible_aliases = ["logout", "unregister"], after_help = "Example:\n  acronis-cred --profile old remove")]
    Remove,

    /// Replace the client secret (or the whole API client) without ever losing a working one
    #[command(
        after_help = "Examples:\n  acronis-cred rotate                     (after resetting the secret in the console)\n  acronis-cred rotate --replace-client    (create a new API client, switch to it, delete the old)\n  acronis-cred rotate --resume            (finish an interrupted rotation)\n  acronis-cred rotate --abort             (undo an interrupted rotation)"
    )]
    Rotate(RotateArgs),

    /// Print the base URL of an API for the profile's datacenter
    #[command(
        after_help = "Example:\n  curl -H @<(acronis-cred token --format header) \"$(acronis-cred url --api agent-manager)/agents\""
    )]
    Url(UrlArgs),

    /// git credential helper (also runs as git-credential-acronis)
    #[command(
        after_help = "Example (what git runs):\n  printf 'protocol=https\\nhost=eu2-cloud.acronis.com\\n\\n' | acronis-cred git get\n\nSet up with: acronis-cred setup git"
    )]
    Git(GitArgs),

    /// docker credential helper (also runs as docker-credential-acronis)
    #[command(
        after_help = "Example (what docker runs):\n  printf https://eu2-cloud.acronis.com | docker-credential-acronis get\n\nSet up with: acronis-cred setup docker"
    )]
    Docker(DockerArgs),

    /// kubectl / client-go exec credential plugin (reads KUBERNETES_EXEC_INFO)
    #[command(
        after_help = "Example (what kubectl runs):\n  acronis-cred --profile default kubectl\n\nSet up with: acronis-cred setup kubectl"
    )]
    Kubectl,

    /// Terraform credentials helper (also runs as terraform-credentials-acronis)
    #[command(
        after_help = "Example (what terraform runs):\n  terraform-credentials-acronis get eu2-cloud.acronis.com\n\nSet up with: acronis-cred setup terraform"
    )]
    Terraform(TerraformArgs),

    /// Run a command with ACRONIS_TOKEN and the API URLs in its environment
    #[command(
        after_help = "Example:\n  acronis-cred exec -- sh -c 'curl -H \"Authorization: Bearer $ACRONIS_TOKEN\" \"$ACRONIS_API_URL/clients/$ID\"'\n\nThe command replaces this process: its exit status is the command's own; 127 if it was not found, 126 if it could not be run."
    )]
    Exec(ExecArgs),

    /// Print the configuration that makes git, docker, kubectl or terraform use this helper
    #[command(after_help = "Example:\n  acronis-cred setup git | sh")]
    Setup(SetupArgs),

    /// Check this machine's setup and say how to fix what is wrong
    #[command(
        after_help = "Examples:\n  acronis-cred doctor\n  acronis-cred doctor --offline --json\n\nExit status 0 when nothing failed (warnings allowed), 1 otherwise."
    )]
    Doctor(DoctorArgs),

    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  acronis-cred completions bash > ~/.local/share/bash-completion/completions/acronis-cred"
    )]
    Completions(CompletionsArgs),

    /// Write man pages for the command and every subcommand
    #[command(after_help = "Example:\n  acronis-cred man --dir ./man && man -l ./man/acronis-cred.1")]
    Man(ManArgs),
}

#[derive(Args)]
pub struct DoctorArgs {
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,

    /// Skip the checks that contact the datacenter (DNS, TLS, a token exchange)
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Directory to write acronis-cred.1 and acronis-cred-<command>.1 into
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct GitArgs {
    /// get, store or erase (other operations are ignored, as git expects)
    pub operation: String,
}

#[derive(Args)]
pub struct DockerArgs {
    /// get, store, erase, list or version
    pub action: String,
}

#[derive(Args)]
pub struct TerraformArgs {
    /// [HELPER ARGS...] get|store|forget HOSTNAME
    #[arg(required = true, num_args = 2.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args)]
pub struct ExecArgs {
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Args)]
pub struct SetupArgs {
    pub target: SetupTarget,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SetupTarget {
    Git,
    Docker,
    Kubectl,
    Terraform,
}

/// Names under which the binary acts as one protocol's helper.
pub const HELPER_NAMES: [(&str, &str); 3] = [
    ("git-credential-acronis", "git"),
    ("docker-credential-acronis", "docker"),
    ("terraform-credentials-acronis", "terraform"),
];

/// Turns `git-credential-acronis ARGS` into `acronis-cred git ARGS` (and the
/// same for the other helper names); other invocations pass through.
pub fn dispatch_argv0(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(first) = args.first() else {
        return args;
    };
    let name = std::path::Path::new(first).file_stem().and_then(|n| n.to_str()).unwrap_or_default();
    match HELPER_NAMES.iter().find(|(helper, _)| *helper == name) {
        Some((_, sub)) => {
            let mut out = Vec::with_capacity(args.len() + 1);
            out.push(std::ffi::OsString::from("acronis-cred"));
            out.push(std::ffi::OsString::from(*sub));
            out.extend(args.into_iter().skip(1));
            out
        }
        None => args,
    }
}

#[derive(Args)]
pub struct RegisterArgs {
    /// Datacenter URL, e.g. https://eu2-cloud.acronis.com
    #[arg(long, value_name = "URL")]
    pub datacenter: String,

    /// The API client's id
    #[arg(long, value_name = "ID")]
    pub client_id: String,

    /// Read the secret from the first line of standard input instead of prompting
    #[arg(long)]
    pub secret_stdin: bool,

    /// Store the secret without first checking it with a token exchange
    #[arg(long)]
    pub no_verify: bool,

    /// Replace an existing profile of the same name
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct RotateArgs {
    /// Read the new secret from the first line of standard input instead of prompting
    #[arg(long, conflicts_with_all = ["replace_client", "resume", "abort"])]
    pub secret_stdin: bool,

    /// Create a new API client in the same tenant, switch to it, delete the old one
    #[arg(long, conflicts_with_all = ["resume", "abort"])]
    pub replace_client: bool,

    /// Finish an interrupted rotation
    #[arg(long, conflicts_with = "abort")]
    pub resume: bool,

    /// Undo an interrupted rotation (before it switched to the new credentials)
    #[arg(long)]
    pub abort: bool,

    /// How long a new API client may take to become usable
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration_std)]
    pub verify_timeout: std::time::Duration,
}

fn parse_duration_std(s: &str) -> Result<std::time::Duration, String> {
    crate::time::parse_duration(s)
}

#[derive(Args)]
pub struct TokenArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = FormatArg::Raw)]
    pub format: FormatArg,

    /// Replace a cached token with less validity left than this (e.g. 90s, 5m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration_secs)]
    pub min_valid: i64,

    /// Exchange for a new token even if a cached one is valid
    #[arg(long)]
    pub refresh: bool,

    /// Leave out the final newline
    #[arg(long, short = 'n')]
    pub no_newline: bool,
}

fn parse_duration_secs(s: &str) -> Result<i64, String> {
    let d = crate::time::parse_duration(s)?;
    if d.as_secs() > 7 * 86_400 {
        return Err("at most 7d".into());
    }
    Ok(d.as_secs() as i64)
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// The token and a newline
    Raw,
    /// `Authorization: Bearer <token>`
    Header,
    /// {"access_token","token_type","expires_on","expires_at"}
    Json,
    /// `export ACRONIS_TOKEN=...` and the API URLs, for eval
    Env,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Raw => Format::Raw,
            FormatArg::Header => Format::Header,
            FormatArg::Json => Format::Json,
            FormatArg::Env => Format::Env,
        }
    }
}

#[derive(Args)]
pub struct StatusArgs {
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,

    /// Exit with status 7 if a shown profile's secret is older than this many days (for cron)
    #[arg(long, value_name = "DAYS")]
    pub max_age: Option<u32>,
}

#[derive(Args)]
pub struct UrlArgs {
    /// Which API
    #[arg(long, value_enum, default_value_t = ApiArg::Account)]
    pub api: ApiArg,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ApiArg {
    /// Account Management API, {dc}/api/2
    Account,
    /// Agent Manager API, {dc}/api/agent_manager/v2
    AgentManager,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("acronis-cred").chain(args.iter().copied()))
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn globals_anywhere() {
        let cli = parse(&["token", "--profile", "p", "--store", "keyutils", "-v"]).unwrap();
        assert_eq!(cli.global.profile.as_deref(), Some("p"));
        assert_eq!(cli.global.store, Some(StoreChoice::Kind(crate::store::StoreKind::Keyutils)));
        assert_eq!(cli.global.verbose, 1);
        assert!(parse(&["--store", "plaintext", "token"]).is_err());
        assert!(parse(&["-v", "-q", "token"]).is_err());
    }

    #[test]
    fn token_defaults_and_durations() {
        let Command::Token(t) = parse(&["token"]).unwrap().command else { panic!() };
        assert_eq!(t.min_valid, 300);
        assert!(!t.refresh);
        let Command::Token(t) =
            parse(&["token", "--min-valid", "1h30m", "--format", "json"]).unwrap().command
        else {
            panic!()
        };
        assert_eq!(t.min_valid, 5400);
        assert!(parse(&["token", "--min-valid", "soon"]).is_err());
        assert!(parse(&["token", "--format", "xml"]).is_err());
    }

    #[test]
    fn secret_is_never_an_argument() {
        // There is no flag that takes the secret: passing one is a usage error.
        assert!(
            parse(&["register", "--datacenter", "https://a.b", "--client-id", "c", "--secret", "x"]).is_err()
        );
        assert!(parse(&["register", "--datacenter", "https://a.b", "--client-id", "c", "x"]).is_err());
    }

    #[test]
    fn helper_names_dispatch() {
        let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            dispatch_argv0(os(&["/usr/bin/git-credential-acronis", "get"])),
            os(&["acronis-cred", "git", "get"])
        );
        assert_eq!(
            dispatch_argv0(os(&["docker-credential-acronis", "list"])),
            os(&["acronis-cred", "docker", "list"])
        );
        assert_eq!(
            dispatch_argv0(os(&["/p/terraform-credentials-acronis", "--profile", "x", "get", "h"])),
            os(&["acronis-cred", "terraform", "--profile", "x", "get", "h"])
        );
        assert_eq!(dispatch_argv0(os(&["acronis-cred", "token"])), os(&["acronis-cred", "token"]));
        let Command::Terraform(t) = parse(&["terraform", "--profile", "x", "get", "h"]).unwrap().command
        else {
            panic!()
        };
        assert_eq!(t.args, vec!["get", "h"]);
        let Command::Git(g) = parse(&["git", "frobnicate"]).unwrap().command else { panic!() };
        assert_eq!(g.operation, "frobnicate");
        let Command::Exec(e) = parse(&["exec", "--", "curl", "-s", "--fail"]).unwrap().command else {
            panic!()
        };
        assert_eq!(e.command.len(), 3);
    }

    #[test]
    fn remove_aliases() {
        for alias in ["remove", "logout", "unregister"] {
            assert!(matches!(parse(&[alias]).unwrap().command, Command::Remove));
        }
    }

    #[test]
    fn help_lists_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("6  secret store unavailable or locked"), "{help}");
    }
}
