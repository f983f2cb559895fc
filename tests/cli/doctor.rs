//! `doctor` on a healthy machine and on the broken ones users meet, plus the
//! first-run and help experience.

use std::process::Stdio;

use crate::support::sandbox::{Backend, CLIENT_ID, Run, SECRET, Sandbox};

fn doctor(sb: &Sandbox, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["doctor", "--json"];
    args.extend_from_slice(extra);
    let out = sb.run(&args);
    let v =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", out.stdout));
    (out, v)
}

fn status_of(v: &serde_json::Value, check: &str) -> String {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().is_some_and(|n| n.starts_with(check)))
        .unwrap_or_else(|| panic!("no check {check:?} in {v}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn healthy_machine() {
    let sb = Sandbox::new(Backend::SecretService);
    sb.register().success();
    let (out, v) = doctor(&sb, &[]);
    out.success().never_shows(SECRET);
    assert_eq!(v["ok"], true, "{v}");
    for check in ["config file", "store secret-service", "store keyutils", "token cache"] {
        assert_eq!(status_of(&v, check), "ok", "{check}: {v}");
    }
    let profile = format!("profile {}: datacenter", sb.profile);
    assert_eq!(status_of(&v, &profile), "ok");
    // Text form: one line a check, and the summary.
    let text = sb.run(&["doctor"]);
    text.success();
    assert!(text.stdout.contains("0 failed"), "{}", text.stdout);
    // No throwaway entry is left in the keychain.
    let left = sb.ss.as_ref().unwrap().secret_tool(&["search", "--all", "service", "acronis-cred"]);
    assert!(!String::from_utf8_lossy(&left.stdout).contains("doctor-"), "doctor left its test entry");
}

#[test]
fn no_bus() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    sb.set_env("DBUS_SESSION_BUS_ADDRESS", &format!("unix:path={}/none", sb.dir.path().display()));
    sb.register().success();
    let (out, v) = doctor(&sb, &["--offline"]);
    // The Secret Service is unusable but this profile does not need it: a warning.
    out.success();
    assert_eq!(status_of(&v, "store secret-service"), "warn");
    assert_eq!(status_of(&v, "store keyutils"), "ok");
    // A profile that does use it fails, with the fix.
    let url = sb.dc.url();
    let mut reg = sb.cmd(&[
        "register",
        "--store",
        "secret-service",
        "--datacenter",
        &url,
        "--client-id",
        CLIENT_ID,
        "--secret-stdin",
    ]);
    reg.env("ACRONIS_PROFILE", format!("{}-ss", sb.profile));
    crate::support::sandbox::run_with_stdin(reg, format!("{SECRET}\n").as_bytes()).code(6);
}

#[test]
fn locked_collection() {
    let sb = Sandbox::new(Backend::SecretService);
    sb.register().success();
    sb.ss.as_ref().unwrap().lock_default_collection();
    let (out, v) = doctor(&sb, &["--offline"]);
    out.code(1);
    assert_eq!(status_of(&v, "store secret-service"), "warn");
    assert_eq!(status_of(&v, &format!("profile {}: store", sb.profile)), "fail");
    let text = sb.run(&["doctor", "--offline"]);
    assert!(text.stdout.contains("locked") && text.stdout.contains("fix:"), "{}", text.stdout);
}

#[test]
fn missing_profile() {
    let sb = Sandbox::new(Backend::Keyutils);
    let (out, v) = doctor(&sb, &["--offline"]);
    out.code(1);
    assert_eq!(status_of(&v, "profile"), "fail");
    assert!(v.to_string().contains("acronis-cred --profile"), "{v}");
}

#[test]
fn datacenter_down() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    sb.dc.set_behavior(crate::support::fake_dc::Behavior::Status {
        status: 503,
        body: "{}".into(),
        content_type: "application/json",
        headers: vec![],
    });
    let (out, v) = doctor(&sb, &["--retries", "1"]);
    out.code(1);
    assert_eq!(status_of(&v, &format!("profile {}: datacenter", sb.profile)), "fail");
    // --offline does not contact it.
    let before = sb.dc.exchanges();
    doctor(&sb, &["--offline"]).0.success();
    assert_eq!(sb.dc.exchanges(), before);
}

#[test]
fn first_run_says_what_to_do() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.run(&["token"]).code(3).stdout_empty().stderr_has("register");
    let status = sb.run(&["status"]);
    assert_eq!(status.code, 3);
    status.stderr_has("acronis-cred --profile").stderr_has("register --datacenter");
}

#[test]
fn non_interactive_never_prompts() {
    let sb = Sandbox::new(Backend::Keyutils);
    let url = sb.dc.url();
    let args = ["register", "--datacenter", url.as_str(), "--client-id", CLIENT_ID];
    // On a terminal, --non-interactive and the variable still refuse to prompt.
    let mut cmd = sb.cmd(&[&["--non-interactive"][..], &args].concat());
    let out = crate::support::pty::run_on_pty(
        {
            cmd.stdin(Stdio::null());
            cmd
        },
        b"",
        std::time::Duration::from_secs(20),
    );
    let text = out.text();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("--secret-stdin") && !text.contains("Client secret for"), "{text}");
    let mut cmd = sb.cmd(&args);
    cmd.env("ACRONIS_CRED_NONINTERACTIVE", "1");
    let out = crate::support::pty::run_on_pty(cmd, b"", std::time::Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(!sb.config_path().exists());
}

#[test]
fn colour_follows_no_color_and_the_flag() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    // Not a terminal: no colour by default, colour when forced.
    sb.run(&["token"]).code(3);
    assert!(!sb.run(&["token"]).stderr.contains('\u{1b}'));
    assert!(sb.run(&["--color", "always", "token"]).stderr.contains("\u{1b}[1;31merror:"));
    assert!(!sb.run(&["--color", "never", "token"]).stderr.contains('\u{1b}'));
    // On a terminal: colour, unless NO_COLOR.
    let on_tty = |sb: &Sandbox| {
        crate::support::pty::run_on_pty(sb.cmd(&["token"]), b"", std::time::Duration::from_secs(20)).text()
    };
    assert!(on_tty(&sb).contains('\u{1b}'), "no colour on a terminal");
    sb.set_env("NO_COLOR", "1");
    assert!(!on_tty(&sb).contains('\u{1b}'), "colour despite NO_COLOR");
}

#[test]
fn every_command_has_help_with_an_example_and_docs_generate() {
    let sb = Sandbox::new(Backend::Keyutils);
    for cmd in [
        "register",
        "token",
        "status",
        "remove",
        "rotate",
        "url",
        "git",
        "docker",
        "kubectl",
        "terraform",
        "exec",
        "setup",
        "doctor",
        "completions",
        "man",
    ] {
        let out = sb.run(&[cmd, "--help"]);
        out.success();
        assert!(out.stdout.contains("Example"), "{cmd} --help has no example:\n{}", out.stdout);
    }
    let version = sb.run(&["--version"]);
    assert!(version.stdout.starts_with("acronis-cred 0."), "{}", version.stdout);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = sb.run(&["completions", shell]);
        out.success();
        assert!(out.stdout.contains("acronis-cred") && out.stdout.contains("register"), "{shell}");
    }
    let dir = sb.path("man");
    sb.run(&["man", "--dir", &dir.to_string_lossy()]).success();
    let page = std::fs::read_to_string(dir.join("acronis-cred-token.1")).unwrap();
    assert!(page.contains(".TH") && page.contains("min\\-valid"), "{page}");
    assert!(dir.join("acronis-cred.1").exists());
}
