use crate::support::sandbox::{Backend, CLIENT_ID, SECRET, Sandbox};

fn env_sandbox() -> Sandbox {
    let mut sb = Sandbox::new(Backend::Keyutils);
    let url = sb.dc.url();
    sb.set_env("ACRONIS_CLIENT_ID", CLIENT_ID);
    sb.set_env("ACRONIS_CLIENT_SECRET", SECRET);
    sb.set_env("ACRONIS_DATACENTER_URL", &url);
    sb
}

/// The env source applies when no profile is named.
fn without_profile(sb: &Sandbox, args: &[&str]) -> std::process::Command {
    let mut cmd = sb.cmd(args);
    cmd.env_remove("ACRONIS_PROFILE");
    cmd
}

#[test]
fn token_from_environment_without_any_profile() {
    let sb = env_sandbox();
    let r = crate::support::sandbox::Run::from(without_profile(&sb, &["token"]).output().unwrap());
    r.success().never_shows(SECRET);
    assert_eq!(r.stdout.trim_end(), sb.dc.last_token().unwrap());
    assert!(!sb.config_path().exists(), "the env source wrote a config");
    // Cached in the kernel keyring: a second call does not exchange.
    let again = crate::support::sandbox::Run::from(without_profile(&sb, &["token"]).output().unwrap());
    assert_eq!(again.stdout, r.stdout);
    assert_eq!(sb.dc.exchanges(), 1);
    let url = crate::support::sandbox::Run::from(without_profile(&sb, &["url"]).output().unwrap());
    assert_eq!(url.stdout, format!("{}/api/2\n", sb.dc.url()));
}

#[test]
fn a_different_secret_in_the_environment_is_not_served_a_cached_token() {
    let sb = env_sandbox();
    crate::support::sandbox::Run::from(without_profile(&sb, &["token"]).output().unwrap()).success();
    let mut wrong = without_profile(&sb, &["token"]);
    wrong.env("ACRONIS_CLIENT_SECRET", "wrong-secret");
    crate::support::sandbox::Run::from(wrong.output().unwrap())
        .code(4)
        .stdout_empty()
        .never_shows("wrong-secret");
    assert_eq!(sb.dc.exchanges(), 2);
}

#[test]
fn partial_environment_is_a_usage_error() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    sb.set_env("ACRONIS_CLIENT_ID", CLIENT_ID);
    let r = crate::support::sandbox::Run::from(without_profile(&sb, &["token"]).output().unwrap());
    r.code(2).stderr_has("ACRONIS_CLIENT_SECRET").stdout_empty();
}

#[test]
fn a_named_profile_wins_over_the_environment() {
    let sb = env_sandbox();
    // ACRONIS_PROFILE is set by the sandbox and names no registered profile.
    sb.run(&["token"]).code(3).stderr_has("no profile named");
    assert_eq!(sb.dc.exchanges(), 0);
}
