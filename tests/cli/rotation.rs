//! Rotation end to end: the admin resets the secret in the console and gives
//! the new one (mode 1), or the helper replaces the whole API client (mode
//! 2); faults and SIGKILL at every step must leave working credentials.

use crate::both_stores;
use crate::support::sandbox::{Backend, CLIENT_ID, Run, SECRET, Sandbox, run_with_stdin};

pub const NEW_SECRET: &str = "n3w-Secret_value_9876543210zyxw";

fn rotate(sb: &Sandbox, secret: &str, kill_at: Option<&str>) -> Run {
    let mut cmd = sb.cmd(&["rotate", "--secret-stdin"]);
    if let Some(point) = kill_at {
        cmd.env("ACRONIS_CRED_TEST_KILL_AT", point);
    }
    run_with_stdin(cmd, format!("{secret}\n").as_bytes())
}

fn journal_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.path(&format!("home/.local/state/acronis-cred/rotation/{}.json", sb.profile))
}

fn status_json(sb: &Sandbox) -> serde_json::Value {
    let out = sb.run(&["status", "--json"]);
    out.success();
    serde_json::from_str(&out.stdout).unwrap()
}

both_stores!(rotate_after_console_reset);

fn rotate_after_console_reset(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    // The secret is reset in the console: the stored one stops working.
    sb.dc.set_secret(CLIENT_ID, NEW_SECRET);
    sb.run(&["token", "--refresh"]).code(4).stderr_has("acronis-cred rotate");
    rotate(&sb, NEW_SECRET, None)
        .success()
        .stdout_empty()
        .never_shows(NEW_SECRET)
        .stderr_has("rotated the secret");
    let t = sb.run(&["token"]);
    t.success();
    assert!(sb.dc.token_is_valid(t.stdout.trim_end()));
    assert!(!journal_path(&sb).exists());
    let v = status_json(&sb);
    assert!(v["profiles"][0]["rotated_at"].is_string());
    assert!(v["profiles"][0]["pending_rotation"].is_null());
    if let Some(ss) = &sb.ss {
        let got = ss.secret_tool(&["lookup", "service", "acronis-cred", "username", &sb.profile]);
        assert_eq!(String::from_utf8_lossy(&got.stdout), NEW_SECRET);
        let all = ss.secret_tool(&["search", "--all", "service", "acronis-cred"]);
        let listing =
            String::from_utf8_lossy(&all.stdout).to_string() + &String::from_utf8_lossy(&all.stderr);
        assert!(!listing.contains(":pending") && !listing.contains(":previous"), "leftovers: {listing}");
    }
}

#[test]
fn wrong_new_secret_changes_nothing() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let before = sb.config_text();
    rotate(&sb, "not-the-new-secret", None)
        .code(4)
        .stderr_has("nothing changed")
        .never_shows("not-the-new-secret");
    assert_eq!(sb.config_text(), before);
    assert!(!journal_path(&sb).exists());
    // The old secret is still the one in use.
    sb.run(&["token", "--refresh"]).success();
    rotate(&sb, SECRET, None).code(2).stderr_has("already the profile's current secret");
}

#[test]
fn datacenter_down_during_verify_changes_nothing() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    sb.dc.set_behavior(crate::support::fake_dc::Behavior::Status {
        status: 503,
        body: "{}".into(),
        content_type: "application/json",
        headers: vec![],
    });
    rotate(&sb, NEW_SECRET, None).code(5).stderr_has("nothing changed");
    assert!(!journal_path(&sb).exists());
    sb.dc.set_behavior(crate::support::fake_dc::Behavior::Normal);
    sb.run(&["token", "--refresh"]).success();
}

/// Every point where mode 1 can die, in order.
const SECRET_POINTS: [&str; 9] = [
    "started",
    "pending-written",
    "pending-stored",
    "verified",
    "previous-written",
    "current-written",
    "config-written",
    "promoted",
    "pending-deleted",
];

#[test]
fn sigkill_at_every_step_of_a_secret_rotation_is_recoverable() {
    for point in SECRET_POINTS {
        let sb = Sandbox::new(Backend::Keyutils);
        sb.register().success();
        sb.dc.set_secret(CLIENT_ID, NEW_SECRET);
        let killed = rotate(&sb, NEW_SECRET, Some(point));
        assert_eq!(killed.code, -1, "{point}: the rotation was not killed: {}", killed.stderr);
        assert!(journal_path(&sb).exists(), "{point}: no journal after the kill");
        let pending_stored = point != "started";
        if pending_stored {
            // Half-done: token already works, with whichever secret is valid.
            sb.run(&["token", "--refresh"]).success();
            let v = status_json(&sb);
            assert!(
                v["profiles"][0]["pending_rotation"].is_object(),
                "{point}: status does not show the rotation"
            );
        }
        // A second rotation refuses and points to --resume/--abort.
        rotate(&sb, NEW_SECRET, None).code(2).stderr_has("--resume");
        sb.run(&["rotate", "--resume"]).success();
        assert!(!journal_path(&sb).exists(), "{point}: journal left after --resume");
        if !pending_stored {
            // Nothing had been stored: the rotation simply runs again.
            rotate(&sb, NEW_SECRET, None).success();
        }
        let t = sb.run(&["token", "--refresh"]);
        t.success();
        assert!(sb.dc.token_is_valid(t.stdout.trim_end()), "{point}");
        let again = sb.run(&["rotate", "--resume"]);
        again.success().stderr_has("nothing to do");
    }
}

#[test]
fn abort_before_promotion_keeps_the_current_secret() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    // The new secret is not active at the platform yet: the old one still works.
    let killed = rotate(&sb, NEW_SECRET, Some("pending-stored"));
    assert_eq!(killed.code, -1);
    sb.run(&["rotate", "--abort"]).success().stderr_has("undid");
    assert!(!journal_path(&sb).exists());
    sb.run(&["token", "--refresh"]).success();
    // After promotion there is nothing to undo.
    sb.dc.set_secret(CLIENT_ID, NEW_SECRET);
    assert_eq!(rotate(&sb, NEW_SECRET, Some("promoted")).code, -1);
    sb.run(&["rotate", "--abort"]).code(2).stderr_has("--resume");
    sb.run(&["rotate", "--resume"]).success();
    sb.run(&["token", "--refresh"]).success();
}

#[test]
fn abort_refuses_to_drop_the_only_working_secret() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    sb.dc.set_secret(CLIENT_ID, NEW_SECRET);
    assert_eq!(rotate(&sb, NEW_SECRET, Some("verified")).code, -1);
    sb.run(&["rotate", "--abort"]).code(2).stderr_has("only working");
    sb.run(&["rotate", "--resume"]).success();
    sb.run(&["token", "--refresh"]).success();
}

#[test]
fn status_max_age_for_cron() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    sb.run(&["status", "--max-age", "30"]).success();
    // Pretend the registration is old by editing the config file.
    let aged = sb.config_text().replace(
        &format!(
            "registered_at = \"{}",
            &status_json(&sb)["profiles"][0]["registered_at"].as_str().unwrap()[..4]
        ),
        "registered_at = \"2020",
    );
    std::fs::write(sb.config_path(), aged).unwrap();
    let out = sb.run(&["status", "--max-age", "30"]);
    out.code(7).stderr_has("older than 30 days");
    assert!(status_json(&sb)["profiles"][0]["secret_age_days"].as_i64().unwrap() > 365);
}

mod replace_client {
    use std::time::Duration;

    use super::{journal_path, status_json};
    use crate::both_stores;
    use crate::support::fake_dc::Endpoint;
    use crate::support::sandbox::{Backend, CLIENT_ID, Run, Sandbox};

    fn replace(sb: &Sandbox, extra: &[&str], kill_at: Option<&str>) -> Run {
        let mut args = vec!["rotate", "--replace-client"];
        args.extend_from_slice(extra);
        let mut cmd = sb.cmd(&args);
        if let Some(point) = kill_at {
            cmd.env("ACRONIS_CRED_TEST_KILL_AT", point);
        }
        Run::from(cmd.output().unwrap())
    }

    fn config_client_id(sb: &Sandbox) -> String {
        status_json(sb)["profiles"][0]["client_id"].as_str().unwrap().to_string()
    }

    both_stores!(end_to_end);

    fn end_to_end(b: Backend) {
        let sb = Sandbox::new(b);
        sb.register().success();
        let old_token = sb.dc.last_token().unwrap();
        replace(&sb, &[], None).success().stdout_empty().stderr_has("replaced");
        let created = sb.dc.created_clients();
        assert_eq!(created.len(), 1);
        let new_id = &created[0];
        assert_eq!(&config_client_id(&sb), new_id);
        assert_eq!(sb.dc.deleted_clients(), vec![CLIENT_ID.to_string()]);
        assert!(!sb.dc.client_exists(CLIENT_ID));
        assert!(!sb.dc.token_is_valid(&old_token), "tokens of the deleted client still work");
        let t = sb.run(&["token"]);
        t.success();
        assert!(sb.dc.token_is_valid(t.stdout.trim_end()));
        assert!(!journal_path(&sb).exists());
        assert!(sb.dc.violations().is_empty(), "{:?}", sb.dc.violations());
    }

    #[test]
    fn create_failure_changes_nothing() {
        let sb = Sandbox::new(Backend::Keyutils);
        sb.register().success();
        sb.dc.fail_next(Endpoint::CreateClient, 1, 500);
        replace(&sb, &[], None).code(5).stderr_has("nothing changed");
        assert!(!journal_path(&sb).exists());
        assert_eq!(config_client_id(&sb), CLIENT_ID);
        sb.run(&["token", "--refresh"]).success();
    }

    #[test]
    fn new_client_not_usable_at_first_is_retried() {
        let sb = Sandbox::new(Backend::Keyutils);
        sb.register().success();
        sb.dc.set_new_client_rejections(3);
        replace(&sb, &["--verify-timeout", "30s"], None).success();
        assert_ne!(config_client_id(&sb), CLIENT_ID);
        sb.run(&["token", "--refresh"]).success();
    }

    #[test]
    fn new_client_never_usable_then_abort_deletes_it() {
        let sb = Sandbox::new(Backend::Keyutils);
        sb.register().success();
        sb.dc.set_new_client_rejections(1000);
        replace(&sb, &["--verify-timeout", "2s"], None).code(4).stderr_has("--resume").stderr_has("--abort");
        assert!(journal_path(&sb).exists());
        // Half-done: the old credentials keep working, status shows it.
        assert_eq!(config_client_id(&sb), CLIENT_ID);
        sb.run(&["token", "--refresh"]).success();
        assert!(status_json(&sb)["profiles"][0]["pending_rotation"]["new_client_id"].is_string());
        let new_id = sb.dc.created_clients()[0].clone();
        sb.run(&["rotate", "--abort"]).success();
        assert!(!sb.dc.client_exists(&new_id), "abort left the new client behind");
        assert!(sb.dc.client_exists(CLIENT_ID));
        assert!(!journal_path(&sb).exists());
        sb.run(&["token", "--refresh"]).success();
    }

    #[test]
    fn delete_failure_is_finished_by_resume() {
        let sb = Sandbox::new(Backend::Keyutils);
        sb.register().success();
        sb.dc.fail_next(Endpoint::DeleteClient, 1, 503);
        replace(&sb, &[], None).code(5).stderr_has("could not be deleted").stderr_has("--resume");
        // The profile already works with the new client.
        let new_id = config_client_id(&sb);
        assert_ne!(new_id, CLIENT_ID);
        sb.run(&["token", "--refresh"]).success();
        assert!(sb.dc.client_exists(CLIENT_ID));
        sb.run(&["rotate", "--resume"]).success();
        assert!(!sb.dc.client_exists(CLIENT_ID));
        assert!(!journal_path(&sb).exists());
    }

    #[test]
    fn store_failure_after_create_deletes_the_new_client() {
        let sb = Sandbox::new(Backend::SecretService);
        sb.register().success();
        // The keychain goes away while the new client is being created.
        sb.dc.delay_endpoint(Endpoint::CreateClient, Duration::from_millis(800));
        let mut cmd = sb.cmd(&["rotate", "--replace-client"]);
        cmd.env("ACRONIS_CRED_STORE_TIMEOUT", "2s");
        let child =
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        // Stop the keychain once the create request is in flight.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while sb.dc.endpoint_calls(Endpoint::CreateClient) == 0 {
            assert!(std::time::Instant::now() < deadline, "rotate never asked to create a client");
            std::thread::sleep(Duration::from_millis(10));
        }
        sb.ss.as_ref().unwrap().stop_daemon();
        let out = Run::from(child.wait_with_output().unwrap());
        out.code(6).stderr_has("old client is unchanged");
        let created = sb.dc.created_clients();
        assert_eq!(created.len(), 1);
        assert!(!sb.dc.client_exists(&created[0]), "the useless new client was left behind");
        assert!(sb.dc.client_secret_is(CLIENT_ID, crate::support::sandbox::SECRET));
        assert!(!journal_path(&sb).exists());
    }

    const POINTS: [&str; 11] = [
        "creating",
        "created",
        "pending-written",
        "pending-stored",
        "verified",
        "previous-written",
        "current-written",
        "config-written",
        "promoted",
        "old-deleted",
        "pending-deleted",
    ];

    #[test]
    fn sigkill_at_every_step_is_recoverable() {
        for point in POINTS {
            let sb = Sandbox::new(Backend::Keyutils);
            sb.register().success();
            let killed = replace(&sb, &[], Some(point));
            assert_eq!(killed.code, -1, "{point}: not killed: {}", killed.stderr);
            assert!(journal_path(&sb).exists(), "{point}: no journal");
            // Whatever the step, some credentials work right now.
            sb.run(&["token", "--refresh"]).success();
            let resumed = sb.run(&["rotate", "--resume"]);
            resumed.success();
            if point == "created" {
                // Killed between the platform's answer and storing it: the
                // new client's secret is gone with the process. Said clearly.
                resumed.stderr_has("may have created an API client");
            }
            assert!(!journal_path(&sb).exists(), "{point}: journal left");
            let t = sb.run(&["token", "--refresh"]);
            t.success();
            assert!(sb.dc.token_is_valid(t.stdout.trim_end()), "{point}");
            let id = config_client_id(&sb);
            assert!(sb.dc.client_exists(&id), "{point}: profile points to a missing client");
            let live: Vec<_> = sb.dc.clients();
            let expected = if point == "created" { 2 } else { 1 };
            assert_eq!(live.len(), expected, "{point}: clients left: {live:?}");
        }
    }
}
