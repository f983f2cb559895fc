//! One test per documented exit code, each checking that stdout stays empty
//! and stderr says what to do.

use std::time::Duration;

use crate::support::fake_dc::Behavior;
use crate::support::sandbox::{Backend, Run, SECRET, Sandbox};

#[test]
fn exit_2_usage() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.run(&["token", "--format", "xml"]).code(2).stdout_empty();
    sb.run(&["frobnicate"]).code(2).stdout_empty();
    sb.run(&[]).code(2).stdout_empty();
    sb.run(&["--profile", "../etc", "token"]).code(2).stderr_has("invalid profile name");
    let mut bad_store = sb.cmd(&["token"]);
    bad_store.env("ACRONIS_CRED_STORE", "plaintext");
    Run::from(bad_store.output().unwrap()).code(2).stderr_has("ACRONIS_CRED_STORE");
}

#[test]
fn help_and_version_go_to_stdout() {
    let sb = Sandbox::new(Backend::Keyutils);
    let help = sb.run(&["--help"]);
    help.success();
    assert!(help.stdout.contains("Exit codes:") && help.stdout.contains("register"), "{}", help.stdout);
    let version = sb.run(&["--version"]);
    version.success();
    assert!(version.stdout.starts_with("acronis-cred "), "{}", version.stdout);
    sb.run(&["token", "--help"]).success();
}

#[test]
fn exit_3_no_profile() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.run(&["token"])
        .code(3)
        .stdout_empty()
        .stderr_has("no profile named")
        .stderr_has("acronis-cred --profile");
    sb.run(&["url"]).code(3).stdout_empty();
}

#[test]
fn exit_4_rejected_keeps_secret_and_cache() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let cached = sb.run(&["token"]).stdout;
    // The secret was reset in the console: old tokens die, the stored secret is refused.
    sb.dc.set_secret(crate::support::sandbox::CLIENT_ID, "new-secret");
    sb.run(&["token", "--refresh"])
        .code(4)
        .stdout_empty()
        .stderr_has("rejected")
        .stderr_has("acronis-cred rotate");
    // Nothing deleted: status still shows the secret.
    let v: serde_json::Value = serde_json::from_str(&sb.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["profiles"][0]["secret_present"], true);
    assert!(!cached.is_empty());
}

#[test]
fn exit_5_unavailable() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register_with(SECRET, &["--no-verify"]).success();
    for status in [500, 502, 503, 429] {
        sb.dc.set_behavior(Behavior::Status {
            status,
            body: "{\"error\":\"server_error\"}".into(),
            content_type: "application/json",
            headers: vec![],
        });
        sb.run(&["token"]).code(5).stdout_empty().stderr_has(&format!("HTTP {status}"));
    }
    sb.dc.set_behavior(Behavior::RawBody("{\"access_token\":\"t\"}".into()));
    sb.run(&["token"]).code(5).stderr_has("no expiry");
    sb.dc.set_behavior(Behavior::DropConnection);
    sb.run(&["token"]).code(5).stderr_has("cannot reach");
    // Nothing listening at all.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}");
    let mut cmd =
        sb.cmd(&["register", "--force", "--datacenter", &url, "--client-id", "x", "--secret-stdin"]);
    cmd.env("ACRONIS_PROFILE", format!("{}-closed", sb.profile));
    crate::support::sandbox::run_with_stdin(cmd, b"x\n").code(5).stderr_has("nothing was stored");
}

#[test]
fn exit_5_hanging_datacenter_times_out() {
    // Not a timing assertion: the run must end (the harness would hang otherwise).
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register_with(SECRET, &["--no-verify"]).success();
    sb.dc.set_behavior(Behavior::Hang);
    let started = std::time::Instant::now();
    sb.run(&["token"]).code(5).stderr_has("timed out");
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn exit_6_store_unavailable() {
    // Secret Service requested, but no bus at all.
    let mut sb = Sandbox::new(Backend::Keyutils);
    sb.set_env("ACRONIS_CRED_STORE", "secret-service");
    sb.set_env("DBUS_SESSION_BUS_ADDRESS", &format!("unix:path={}/no-bus", sb.dir.path().display()));
    sb.register().code(6).stdout_empty().stderr_has("--store keyutils");
    assert!(!sb.config_path().exists());
    // auto with no Secret Service fails closed and lists the alternatives.
    let mut auto = sb.cmd(&["register", "--datacenter", &sb.dc.url(), "--client-id", "c", "--secret-stdin"]);
    auto.env("ACRONIS_CRED_STORE", "auto");
    let r = crate::support::sandbox::run_with_stdin(auto, b"x\n");
    r.code(6)
        .stderr_has("no Secret Service answered")
        .stderr_has("--store keyutils")
        .stderr_has("ACRONIS_CLIENT_ID");
    assert!(!sb.config_path().exists());
}

#[test]
fn exit_6_locked_collection() {
    let sb = Sandbox::new(Backend::SecretService);
    let ss = sb.ss.as_ref().unwrap();
    ss.lock_default_collection();
    sb.register().code(6).stdout_empty().stderr_has("locked");
    assert!(!sb.config_path().exists());
}

#[test]
fn exit_6_secret_service_stopped_after_register() {
    let sb = Sandbox::new(Backend::SecretService);
    sb.register_with(SECRET, &["--no-verify"]).success();
    sb.ss.as_ref().unwrap().stop_daemon();
    sb.run(&["token"]).code(6).stdout_empty();
    // The profile is untouched.
    assert!(sb.config_text().contains(&sb.profile));
}
