use crate::both_stores;
use crate::support::sandbox::{Backend, CLIENT_ID, SECRET, Sandbox};

both_stores!(all_formats, url_command);

fn all_formats(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    let token = sb.dc.last_token().unwrap();
    let expires = sb.dc.token_expires_on(&token).unwrap();
    let dc = sb.dc.url();

    let raw = sb.run(&["token"]);
    raw.success().never_shows(SECRET);
    assert_eq!(raw.stdout, format!("{token}\n"));
    assert!(raw.stderr.is_empty(), "stderr on success: {}", raw.stderr);

    assert_eq!(sb.run(&["token", "--no-newline"]).stdout, token);
    assert_eq!(sb.run(&["token", "-n", "--format", "raw"]).stdout, token);
    assert_eq!(sb.run(&["token", "--format", "header"]).stdout, format!("Authorization: Bearer {token}\n"));

    let json = sb.run(&["token", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["access_token"], token.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_on"], expires);
    let at = v["expires_at"].as_str().unwrap();
    assert!(at.ends_with('Z') && at.len() == 20, "{at}");

    let env = sb.run(&["token", "--format", "env"]);
    assert_eq!(
        env.stdout,
        format!(
            "export ACRONIS_TOKEN='{token}'\nexport ACRONIS_DATACENTER_URL='{dc}'\nexport ACRONIS_API_URL='{dc}/api/2'\nexport ACRONIS_AGENT_MANAGER_URL='{dc}/api/agent_manager/v2'\n"
        )
    );
    // And the env output really works in a shell.
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{}printf %s \"$ACRONIS_TOKEN|$ACRONIS_API_URL\"", env.stdout))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shell.stdout), format!("{token}|{dc}/api/2"));
    assert_eq!(sb.dc.exchanges(), 1, "every format came from the cache");
}

fn url_command(b: Backend) {
    let sb = Sandbox::new(b);
    sb.register().success();
    let dc = sb.dc.url();
    assert_eq!(sb.run(&["url"]).stdout, format!("{dc}/api/2\n"));
    assert_eq!(sb.run(&["url", "--api", "account"]).stdout, format!("{dc}/api/2\n"));
    assert_eq!(sb.run(&["url", "--api", "agent-manager"]).stdout, format!("{dc}/api/agent_manager/v2\n"));
}

#[test]
fn token_works_with_curl_against_the_account_api() {
    // The README's quick start: the header comes from a file descriptor, so the
    // token never appears in curl's argv.
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let script = format!(
        "set -e; curl -sS --fail -H @<({bin} token --format header) \"$({bin} url)/clients/{CLIENT_ID}\"",
        bin = crate::support::sandbox::bin().display()
    );
    let mut cmd = sb.cmd_at(std::path::Path::new("bash"), &["-c", &script]);
    cmd.stdin(std::process::Stdio::null());
    let out = cmd.output().expect("bash and curl must be installed (apt-get install curl)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["client_id"], CLIENT_ID);
}
