use std::time::Duration;

use crate::both_stores;
use crate::support::pty::run_on_pty;
use crate::support::sandbox::{Backend, CLIENT_ID, SECRET, Sandbox, bin};

both_stores!(
    register_verifies_then_stores,
    wrong_secret_stores_nothing,
    no_verify_stores_unchecked,
    reregister_same_values_is_a_noop,
    existing_profile_needs_force,
    remove_is_complete_and_idempotent,
);

fn register_verifies_then_stores(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success().stdout_empty().never_shows(SECRET).stderr_has("registered profile");
    assert_eq!(sb.dc.exchanges(), 1, "register verifies with one exchange");
    assert!(sb.dc.violations().is_empty(), "{:?}", sb.dc.violations());
    let config = sb.config_text();
    assert!(config.contains(CLIENT_ID) && config.contains(&sb.dc.url()), "{config}");
    assert!(config.contains(&format!("store = \"{}\"", b.name())), "{config}");
    assert!(!config.contains(SECRET), "secret in the config file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.config_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The verification token is cached: the first `token` costs nothing.
    let t = sb.run(&["token"]);
    t.success();
    assert_eq!(t.stdout.trim_end(), sb.dc.last_token().unwrap());
    assert_eq!(sb.dc.exchanges(), 1);
}

fn wrong_secret_stores_nothing(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register_with("not-the-secret", &[])
        .code(4)
        .stdout_empty()
        .never_shows("not-the-secret")
        .stderr_has("rejected")
        .stderr_has("nothing was stored");
    assert!(!sb.config_path().exists(), "config written after a failed register");
    // Nothing in the store either: --no-verify would not find a previous entry to
    // compare against, and `token` says there is no profile.
    sb.run(&["token"]).code(3);
    if let Some(ss) = &sb.ss {
        let found = ss.secret_tool(&["search", "--all", "service", "acronis-cred"]);
        assert!(
            String::from_utf8_lossy(&found.stdout).trim().is_empty()
                && String::from_utf8_lossy(&found.stderr).trim().is_empty(),
            "an entry was stored: {found:?}"
        );
    }
}

fn no_verify_stores_unchecked(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register_with(SECRET, &["--no-verify"]).success().stderr_has("not verified");
    assert_eq!(sb.dc.exchanges(), 0);
    sb.run(&["token"]).success();
    assert_eq!(sb.dc.exchanges(), 1);
}

fn reregister_same_values_is_a_noop(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    let before = sb.config_text();
    sb.register().success().stderr_has("nothing changed");
    assert_eq!(sb.config_text(), before);
    assert_eq!(sb.dc.exchanges(), 1, "a no-op re-register does not exchange");
}

fn existing_profile_needs_force(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    let before = sb.config_text();
    // Another secret for the same client: refused without --force, nothing changes.
    sb.dc.set_secret(CLIENT_ID, "rotated-secret-value");
    sb.register_with("rotated-secret-value", &[])
        .code(2)
        .stderr_has("--force")
        .never_shows("rotated-secret-value");
    assert_eq!(sb.config_text(), before);
    // Another client id: refused too.
    let url = sb.dc.url();
    sb.run_with_stdin(&["register", "--datacenter", &url, "--client-id", "other", "--secret-stdin"], b"x\n")
        .code(2)
        .stderr_has("already registered");
    // With --force the new secret replaces the old, and the old token is not served.
    let old_token = sb.dc.last_token().unwrap();
    sb.register_with("rotated-secret-value", &["--force"]).success();
    let t = sb.run(&["token"]);
    t.success();
    assert_ne!(t.stdout.trim_end(), old_token);
    assert!(sb.dc.token_is_valid(t.stdout.trim_end()));
}

fn remove_is_complete_and_idempotent(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    sb.run(&["token"]).success();
    sb.run(&["remove"]).success().stderr_has("removed profile");
    assert!(!sb.config_text().contains(CLIENT_ID));
    sb.run(&["token"]).code(3);
    sb.run(&["remove"]).success().stderr_has("nothing to remove");
    sb.run(&["logout"]).success();
    if let Some(ss) = &sb.ss {
        let found = ss.secret_tool(&["search", "--all", "service", "acronis-cred"]);
        assert!(String::from_utf8_lossy(&found.stdout).trim().is_empty(), "{found:?}");
    }
    // Registering again after removal works from scratch.
    sb.register().success();
}

#[test]
fn secret_service_entry_is_findable_with_secret_tool() {
    let sb = Sandbox::new(Backend::SecretService);
    sb.register().success();
    let ss = sb.ss.as_ref().unwrap();
    let out = ss.secret_tool(&["lookup", "service", "acronis-cred", "username", &sb.profile]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), SECRET);
}

#[test]
fn register_prompts_on_the_terminal_without_echo() {
    let sb = Sandbox::new(Backend::Keyutils);
    let url = sb.dc.url();
    let cmd = sb.cmd(&["register", "--datacenter", &url, "--client-id", CLIENT_ID]);
    let out = run_on_pty(cmd, format!("{SECRET}\n").as_bytes(), Duration::from_secs(30));
    let text = out.text();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Client secret for"), "no prompt: {text}");
    assert!(!text.contains(SECRET), "the secret was echoed: {text}");
    sb.run(&["token"]).success();
    assert_eq!(sb.dc.exchanges(), 1);
}

#[test]
fn register_without_terminal_or_stdin_flag_fails_cleanly() {
    let sb = Sandbox::new(Backend::Keyutils);
    let url = sb.dc.url();
    let mut cmd = sb.cmd(&["register", "--datacenter", &url, "--client-id", CLIENT_ID]);
    // No controlling terminal at all.
    unsafe_setsid(&mut cmd);
    let r = crate::support::sandbox::Run::from(cmd.output().unwrap());
    r.code(2).stderr_has("--secret-stdin");
    assert!(!sb.config_path().exists());
}

fn unsafe_setsid(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}

#[test]
fn empty_secret_is_refused() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register_with("", &[]).code(2).stderr_has("empty");
    sb.register_with("   ", &[]).code(2).stderr_has("empty");
    assert!(!sb.config_path().exists());
    assert_eq!(sb.dc.exchanges(), 0);
}

#[test]
fn bad_datacenter_urls_are_refused_before_anything() {
    let sb = Sandbox::new(Backend::Keyutils);
    for (url, needle) in [
        ("http://eu2-cloud.acronis.com", "plain http"),
        ("https://eu2-cloud.acronis.com/api/2", "path"),
        ("eu2-cloud.acronis.com", "https://"),
        ("https://u:p@eu2-cloud.acronis.com", "user name"),
    ] {
        sb.run_with_stdin(
            &["register", "--datacenter", url, "--client-id", CLIENT_ID, "--secret-stdin"],
            b"x\n",
        )
        .code(2)
        .stderr_has(needle);
    }
    assert!(!sb.config_path().exists());
}

#[test]
fn corrupt_config_is_reported_never_overwritten() {
    let sb = Sandbox::new(Backend::Keyutils);
    std::fs::create_dir_all(sb.config_path().parent().unwrap()).unwrap();
    std::fs::write(sb.config_path(), "[profiles.x\nbroken").unwrap();
    sb.register().code(1).stderr_has("is not valid").stderr_has("never overwrites");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), "[profiles.x\nbroken");
    assert_eq!(sb.dc.exchanges(), 0);
}

#[test]
fn secret_never_in_argv_or_child_environment() {
    // While register runs (held up by a slow datacenter), look at every
    // process's command line and environment.
    let sb = Sandbox::new(Backend::Keyutils);
    sb.dc.set_delay(Duration::from_millis(700));
    let url = sb.dc.url();
    let mut cmd = sb.cmd(&["register", "--datacenter", &url, "--client-id", CLIENT_ID, "--secret-stdin"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(format!("{SECRET}\n").as_bytes()).unwrap();
    }
    // Scan while it is verifying the secret with the (slow) datacenter.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sb.dc.exchanges() == 0 {
        assert!(std::time::Instant::now() < deadline, "register never reached the datacenter");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut seen = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        for file in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(entry.path().join(file)) {
                seen += 1;
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(SECRET),
                    "secret found in {}",
                    entry.path().join(file).display()
                );
            }
        }
    }
    assert!(seen > 2, "could not read /proc");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = bin();
}
