//! Tampered files, a hung keychain, secrets in process listings, and load.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::sandbox::{Backend, CLIENT_ID, Run, SECRET, Sandbox};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn world_readable_config_is_made_private() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    sb.run(&["token"]).success().stderr_has("made it private");
    assert_eq!(mode(&sb.config_path()), 0o600);
}

#[test]
fn config_writable_by_others_or_owned_by_another_user_is_refused() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    sb.run(&["token"]).code(1).stdout_empty().stderr_has("writable by other users");
    std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(sb.config_path(), Some(65534), None).expect("chown needs root, as in CI");
    sb.run(&["token"]).code(1).stdout_empty().stderr_has("belongs to another user");
    std::os::unix::fs::chown(sb.config_path(), Some(0), None).unwrap();
    sb.run(&["token"]).success();
}

#[test]
fn ca_file_of_another_user_is_refused() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let ca = sb.path("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    std::os::unix::fs::chown(&ca, Some(65534), None).expect("chown needs root, as in CI");
    let ca = ca.to_string_lossy().to_string();
    sb.run(&["token", "--refresh", "--ca-file", &ca]).code(1).stderr_has("belongs to another user");
}

#[test]
fn symlinked_state_files_are_not_followed() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let victim = sb.path("victim");
    // A lock file planted as a link: the exchange path refuses to open it.
    let lock = sb.path(&format!("run/acronis-cred/{}.lock", sb.profile));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    sb.run(&["token", "--refresh"]).code(1).stderr_has("lock");
    assert!(!victim.exists(), "the link was followed");
    std::fs::remove_file(&lock).unwrap();
    // A rotation journal planted as a link is not read.
    let journal = sb.path(&format!("home/.local/state/acronis-cred/rotation/{}.json", sb.profile));
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&victim, "{}").unwrap();
    std::os::unix::fs::symlink(&victim, &journal).unwrap();
    sb.run(&["rotate", "--resume"]).code(1).stderr_has("journal");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "{}");
}

#[test]
fn hung_secret_service_times_out_with_exit_6() {
    let mut sb = Sandbox::new(Backend::SecretService);
    sb.register_with(SECRET, &["--no-verify"]).success();
    sb.set_env("ACRONIS_CRED_STORE_TIMEOUT", "1s");
    let pid = sb.ss.as_ref().unwrap().keyring_pid() as i32;
    // SAFETY: stopping and continuing a daemon this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let started = Instant::now();
    let out = sb.run(&["token"]);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    out.code(6).stdout_empty().stderr_has("did not answer within").stderr_has("hint:");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(sb.config_text().contains(CLIENT_ID), "the profile was touched");
    sb.run(&["token"]).success();
}

/// Every process's command line and environment, as text.
fn process_listing() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        for file in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(entry.path().join(file)) {
                all.push_str(&String::from_utf8_lossy(&bytes));
                all.push('\n');
            }
        }
    }
    all
}

#[test]
fn secret_never_in_argv_or_environment_of_helper_or_children() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    // A slow datacenter keeps each command alive while the listing is taken;
    // exec's child says when it runs.
    sb.dc.set_delay(Duration::from_millis(800));
    let marker = sb.path("child-running");
    let script = format!("touch {}; sleep 2", marker.display());
    let runs: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["token", "--refresh"], b""),
        (vec!["exec", "--", "sh", "-c", &script], b""),
        (vec!["rotate", "--secret-stdin"], b"not-the-new-one\n"),
    ];
    for (args, input) in runs {
        let exchanges = sb.dc.exchanges();
        let mut cmd = sb.cmd(&args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        // Wait until the command is mid-exchange (or its child is running).
        let deadline = Instant::now() + Duration::from_secs(30);
        let waiting = || if args[0] == "exec" { !marker.exists() } else { sb.dc.exchanges() == exchanges };
        while waiting() {
            assert!(Instant::now() < deadline, "{args:?} never got going");
            std::thread::sleep(Duration::from_millis(10));
        }
        let listing = process_listing();
        assert!(!listing.contains(SECRET), "{args:?}: the secret is visible in /proc");
        assert!(!listing.contains("not-the-new-one"), "{args:?}: the new secret is visible in /proc");
        let _ = child.wait();
    }
}

#[test]
fn two_hundred_concurrent_cold_calls_across_four_profiles() {
    let sb = Sandbox::new(Backend::Keyutils);
    let profiles: Vec<String> = (0..4).map(|i| format!("{}-{i}", sb.profile)).collect();
    for p in &profiles {
        let mut cmd = sb.cmd(&[
            "register",
            "--no-verify",
            "--datacenter",
            &sb.dc.url(),
            "--client-id",
            CLIENT_ID,
            "--secret-stdin",
        ]);
        cmd.env("ACRONIS_PROFILE", p);
        crate::support::sandbox::run_with_stdin(cmd, format!("{SECRET}\n").as_bytes()).success();
    }
    sb.dc.set_delay(Duration::from_millis(500));
    let children: Vec<_> = (0..200)
        .map(|i| {
            let mut cmd = sb.cmd(&["token"]);
            cmd.env("ACRONIS_PROFILE", &profiles[i % 4]).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut per_profile = vec![std::collections::HashSet::new(); 4];
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        per_profile[i % 4].insert(out.stdout);
    }
    assert_eq!(sb.dc.exchanges(), 4, "one exchange per profile");
    assert!(per_profile.iter().all(|tokens| tokens.len() == 1), "a profile's callers got different tokens");
    for p in &profiles {
        let mut cmd = sb.cmd(&["remove"]);
        cmd.env("ACRONIS_PROFILE", p);
        Run::from(cmd.output().unwrap()).success();
    }
}

#[test]
fn a_killed_lock_holder_releases_the_lock() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register_with(SECRET, &["--no-verify"]).success();
    sb.dc.set_delay(Duration::from_secs(3));
    let mut holder = sb.cmd(&["token"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Wait until it is inside the exchange, holding the lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sb.dc.exchanges() == 0 {
        assert!(Instant::now() < deadline, "the first caller never reached the datacenter");
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().unwrap();
    let _ = holder.wait();
    sb.dc.set_delay(Duration::ZERO);
    let started = Instant::now();
    sb.run(&["token"]).success();
    assert!(started.elapsed() < Duration::from_secs(10), "the lock stayed held after its holder died");
}

#[test]
fn register_remove_and_token_racing_leave_a_consistent_state() {
    let sb = Sandbox::new(Backend::SecretService);
    let url = sb.dc.url();
    let racer = |args: Vec<&'static str>| {
        let mut cmd = sb.cmd(&args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    };
    let mut children = Vec::new();
    for round in 0..12 {
        let mut reg =
            racer(vec!["register", "--force", "--no-verify", "--client-id", CLIENT_ID, "--secret-stdin"]);
        reg.args(["--datacenter", &url]);
        let mut child = reg.spawn().unwrap();
        {
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(format!("{SECRET}\n").as_bytes());
        }
        children.push(child);
        children.push(racer(vec!["token"]).spawn().unwrap());
        if round % 2 == 0 {
            children.push(racer(vec!["remove"]).spawn().unwrap());
        }
    }
    for mut c in children {
        let _ = c.wait();
    }
    // The config parses, and a profile exists exactly when its secret does.
    let status = sb.run(&["status", "--json"]);
    let registered = status.code == 0 && status.stdout.contains(&sb.profile);
    let secrets = sb.ss.as_ref().unwrap().secret_tool(&[
        "search",
        "--all",
        "service",
        "acronis-cred",
        "username",
        &sb.profile,
    ]);
    let listing =
        String::from_utf8_lossy(&secrets.stdout).to_string() + &String::from_utf8_lossy(&secrets.stderr);
    let has_secret = listing.contains(&format!("username = {}", sb.profile));
    assert_eq!(
        registered, has_secret,
        "profile present: {registered}, secret present: {has_secret}\n{listing}"
    );
    if !registered {
        // An unknown profile is exit 3 (not a corrupt config, exit 1).
        sb.run(&["token"]).code(3);
    }
    let _ = Command::new("true").status();
}

#[test]
fn kernel_keyring_denied_by_seccomp() {
    use crate::support::seccomp::deny_keyring_syscalls;
    let sb = Sandbox::new(Backend::SecretService);
    let url = sb.dc.url();
    // Proof that the filter bites: keyctl itself is refused.
    let mut probe = Command::new("keyctl");
    probe.args(["show", "@u"]);
    deny_keyring_syscalls(&mut probe);
    let probe = probe.output().expect("keyctl must be installed (apt-get install keyutils)");
    assert!(!probe.status.success(), "the seccomp filter did not deny keyctl");
    let denied = |args: &[&str], stdin: &str| {
        let mut cmd = sb.cmd(args);
        deny_keyring_syscalls(&mut cmd);
        crate::support::sandbox::run_with_stdin(cmd, stdin.as_bytes())
    };
    // The keyutils store: exit 6, the fix named, nothing written.
    denied(
        &[
            "--store",
            "keyutils",
            "register",
            "--datacenter",
            &url,
            "--client-id",
            CLIENT_ID,
            "--secret-stdin",
        ],
        &format!("{SECRET}\n"),
    )
    .code(6)
    .stdout_empty()
    .stderr_has("seccomp");
    assert!(!sb.config_path().exists());
    // A Secret Service profile works, caching tokens in the store instead.
    denied(
        &["register", "--datacenter", &url, "--client-id", CLIENT_ID, "--secret-stdin"],
        &format!("{SECRET}\n"),
    )
    .success();
    denied(&["token", "-v"], "").success().stderr_has("(store cache)");
    let status = denied(&["status"], "");
    assert!(status.stdout.contains("token cache   secret store"), "{}", status.stdout);
    assert_eq!(sb.dc.exchanges(), 1, "the store cache served the token");
}
