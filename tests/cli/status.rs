use crate::support::sandbox::{Backend, CLIENT_ID, SECRET, Sandbox};

#[test]
fn status_text_and_json() {
    let sb = Sandbox::new(Backend::SecretService);
    sb.register().success();
    let token = sb.dc.last_token().unwrap();
    let text = sb.run(&["status"]);
    text.success().never_shows(SECRET).never_shows(&token);
    for needle in [
        format!("profile {}", sb.profile),
        CLIENT_ID.to_string(),
        sb.dc.url(),
        "secret-service (on disk".into(),
        "secret        present".into(),
        "kernel user keyring".into(),
        "valid until".into(),
    ] {
        assert!(text.stdout.contains(&needle), "status lacks {needle:?}:\n{}", text.stdout);
    }
    let json = sb.run(&["status", "--json"]);
    json.success().never_shows(&token);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let p = &v["profiles"][0];
    assert_eq!(p["name"], sb.profile.as_str());
    assert_eq!(p["client_id"], CLIENT_ID);
    assert_eq!(p["store"], "secret-service");
    assert_eq!(p["store_survives_reboot"], true);
    assert_eq!(p["secret_present"], true);
    assert_eq!(p["token_cache"], "kernel");
    assert_eq!(p["cached_token"]["expires_on"], sb.dc.token_expires_on(&token).unwrap());
}

#[test]
fn status_says_keyutils_does_not_survive_reboot() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let text = sb.run(&["status"]);
    text.success().never_shows(SECRET);
    assert!(text.stdout.contains("lost at reboot"), "{}", text.stdout);
    let v: serde_json::Value = serde_json::from_str(&sb.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["profiles"][0]["store_survives_reboot"], false);
}

#[test]
fn status_reports_a_missing_secret() {
    let sb = Sandbox::new(Backend::SecretService);
    sb.register().success();
    let ss = sb.ss.as_ref().unwrap();
    let out = ss.secret_tool(&["clear", "service", "acronis-cred", "username", &sb.profile]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&sb.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["profiles"][0]["secret_present"], false);
    // The cached token still serves; once it must be renewed, exit 3 says why.
    sb.run(&["token", "--refresh"]).code(3).stderr_has("has no secret").stderr_has("register");
}

#[test]
fn status_of_an_unknown_profile_is_exit_3() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.run(&["status"]).code(3).stderr_has("register");
}
