use std::time::Duration;

use crate::both_stores;
use crate::support::sandbox::{Backend, CLIENT_ID, Sandbox};

both_stores!(
    cache_hit_costs_no_exchange,
    refresh_forces_exchange,
    store_cache_tier,
    thirty_two_concurrent_cold_calls_one_exchange
);

fn cache_hit_costs_no_exchange(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register_with(crate::support::sandbox::SECRET, &["--no-verify"]).success();
    let first = sb.run(&["token"]);
    first.success();
    for _ in 0..5 {
        assert_eq!(sb.run(&["token"]).stdout, first.stdout);
    }
    assert_eq!(sb.dc.exchanges(), 1);
    sb.run(&["token", "-v"]).success().stderr_has("cached token (kernel cache)");
}

fn refresh_forces_exchange(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    let before = sb.dc.last_token().unwrap();
    let r = sb.run(&["token", "--refresh"]);
    r.success();
    assert_ne!(r.stdout.trim_end(), before);
    assert_eq!(sb.dc.exchanges(), 2);
    // The refreshed token is the one cached now.
    assert_eq!(sb.run(&["token"]).stdout, r.stdout);
    assert_eq!(sb.dc.exchanges(), 2);
}

fn store_cache_tier(b: Backend) {
    let mut sb = Sandbox::new(b);
    sb.set_env("ACRONIS_CRED_TOKEN_CACHE", "store");
    sb.register().success();
    let t = sb.run(&["token", "-v"]);
    t.success().stderr_has("(store cache)");
    assert_eq!(sb.dc.exchanges(), 1);
    sb.run(&["status"]).success();
    if let Some(ss) = &sb.ss {
        let out = ss.secret_tool(&[
            "lookup",
            "service",
            "acronis-cred",
            "username",
            &format!("{}:token", sb.profile),
        ]);
        let cached = String::from_utf8_lossy(&out.stdout);
        assert!(cached.contains(t.stdout.trim_end()), "token not in the store: {cached}");
    }
    sb.run(&["remove"]).success();
    if let Some(ss) = &sb.ss {
        let out = ss.secret_tool(&["search", "--all", "service", "acronis-cred"]);
        assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty(), "{out:?}");
    }
}

fn thirty_two_concurrent_cold_calls_one_exchange(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register_with(crate::support::sandbox::SECRET, &["--no-verify"]).success();
    // A slow datacenter makes sure the callers really overlap.
    sb.dc.set_delay(Duration::from_millis(500));
    let children: Vec<_> = (0..32)
        .map(|_| {
            let mut cmd = sb.cmd(&["token"]);
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for o in &outputs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(sb.dc.exchanges(), 1, "32 concurrent cold calls must cause exactly one exchange");
    let first = &outputs[0].stdout;
    assert!(outputs.iter().all(|o| &o.stdout == first), "callers got different tokens");
}

#[test]
fn margin_replaces_a_token_about_to_expire() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.dc.set_token_lifetime(200);
    sb.register().success();
    // 200 s left is less than the default 5 minutes: exchange again (and warn
    // that the new token is short too).
    sb.run(&["token"]).success().stderr_has("less than --min-valid");
    assert_eq!(sb.dc.exchanges(), 2);
    // With a smaller margin the cached token is good.
    sb.run(&["token", "--min-valid", "1m"]).success();
    assert_eq!(sb.dc.exchanges(), 2);
    sb.run(&["token", "--min-valid", "190"]).success();
    assert_eq!(sb.dc.exchanges(), 2);
    sb.run(&["token", "--min-valid", "4m"]).success();
    assert_eq!(sb.dc.exchanges(), 3);
}

#[test]
fn cache_is_tied_to_the_client() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let first = sb.dc.last_token().unwrap();
    // Re-register the profile for another client of the same datacenter.
    sb.dc.add_client("second-client", "second-secret");
    let url = sb.dc.url();
    sb.run_with_stdin(
        &[
            "register",
            "--force",
            "--no-verify",
            "--datacenter",
            &url,
            "--client-id",
            "second-client",
            "--secret-stdin",
        ],
        b"second-secret\n",
    )
    .success();
    let t = sb.run(&["token"]);
    t.success();
    assert_ne!(t.stdout.trim_end(), first, "a token of the previous client was served");
    assert_eq!(sb.dc.exchanges(), 2);
    let _ = CLIENT_ID;
}

#[test]
fn cache_entry_of_another_client_in_the_kernel_keyring_is_ignored() {
    // Plant a well-formed entry for another client under this profile's key.
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register_with(crate::support::sandbox::SECRET, &["--no-verify"]).success();
    let planted = format!(
        "{{\"v\":1,\"datacenter\":\"{}\",\"client_id\":\"intruder\",\"access_token\":\"planted\",\"expires_at\":4000000000,\"obtained_at\":1}}",
        sb.dc.url()
    );
    let out = std::process::Command::new("keyctl")
        .args(["add", "user", &format!("acronis-cred:token:{}", sb.profile), &planted, "@u"])
        .output()
        .expect("keyctl must be installed (apt-get install keyutils)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t = sb.run(&["token"]);
    t.success();
    assert_ne!(t.stdout.trim_end(), "planted");
    assert_eq!(sb.dc.exchanges(), 1);
}

#[test]
fn kernel_key_carries_the_token_expiry() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let out = std::process::Command::new("keyctl")
        .args(["search", "@u", "user", &format!("acronis-cred:token:{}", sb.profile)])
        .output()
        .expect("keyctl must be installed (apt-get install keyutils)");
    assert!(out.status.success(), "no kernel key: {}", String::from_utf8_lossy(&out.stderr));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let desc = std::process::Command::new("keyctl").args(["rdescribe", &id]).output().unwrap();
    assert!(desc.status.success());
    // The kernel reports the remaining timeout in /proc/keys.
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    let hex = format!("{:08x}", id.parse::<u32>().unwrap());
    let line =
        keys.lines().find(|l| l.starts_with(&hex)).unwrap_or_else(|| panic!("{hex} not in /proc/keys"));
    let timeout = line.split_whitespace().nth(3).unwrap();
    assert!(timeout.ends_with('h') || timeout.ends_with('m'), "no expiry on the kernel key: {line}");
}
