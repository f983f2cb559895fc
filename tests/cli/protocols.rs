//! The helper protocols driven by their real clients where this machine has
//! them (git 2.47 and 2.39, curl), and byte-exact through the helper names
//! otherwise (docker, terraform).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::sandbox::{Backend, CLIENT_ID, Run, SECRET, Sandbox, bin, run_with_stdin};

const GIT_NEW: &str = "/usr/local/bin/git";
const GIT_OLD: &str = "/usr/bin/git";

fn require(path: &str, package: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: install {package}");
}

/// A directory on PATH with the binary linked under its helper names.
fn helper_links(sb: &Sandbox) -> PathBuf {
    let dir = sb.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["git-credential-acronis", "docker-credential-acronis", "terraform-credentials-acronis"] {
        let link = dir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(bin(), &link).unwrap();
        }
    }
    dir
}

fn git(sb: &Sandbox, git: &str, args: &[&str]) -> Command {
    let mut cmd = sb.cmd_at(Path::new(git), args);
    let path = format!("{}:{}", helper_links(sb).display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

fn fill(sb: &Sandbox, git_bin: &str, input: &str) -> Run {
    run_with_stdin(git(sb, git_bin, &["credential", "fill"]), input.as_bytes())
}

fn host(sb: &Sandbox) -> String {
    sb.dc.url().trim_start_matches("http://").to_string()
}

/// Applies what `setup git` prints, as a user would: `acronis-cred setup git | sh`.
fn apply_setup_git(sb: &Sandbox) {
    let setup = sb.run(&["setup", "git"]);
    setup.success();
    let mut sh = sb.cmd_at(Path::new("sh"), &[]);
    sh.env("GIT_CONFIG_NOSYSTEM", "1");
    run_with_stdin(sh, setup.stdout.as_bytes()).success();
}

#[test]
fn git_credential_fill_bearer_with_git_2_47() {
    require(GIT_NEW, "git 2.46 or later in /usr/local/bin");
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    apply_setup_git(&sb);
    let token = sb.dc.last_token().unwrap();
    let out = fill(&sb, GIT_NEW, &format!("capability[]=authtype\nprotocol=http\nhost={}\n\n", host(&sb)));
    out.success();
    assert!(out.stdout.contains("authtype=Bearer\n"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("credential={token}\n")), "{}", out.stdout);
    assert!(!out.stdout.contains("password="), "{}", out.stdout);
    assert_eq!(sb.dc.exchanges(), 1, "served from the cache");
}

#[test]
fn git_credential_fill_legacy_with_git_2_39() {
    require(GIT_OLD, "Debian's git");
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    apply_setup_git(&sb);
    let token = sb.dc.last_token().unwrap();
    // An old git never advertises authtype: it gets username and password.
    let out = fill(&sb, GIT_OLD, &format!("protocol=http\nhost={}\n\n", host(&sb)));
    out.success();
    assert!(out.stdout.contains(&format!("username={CLIENT_ID}\n")), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("password={token}\n")), "{}", out.stdout);
    // A new git whose caller did not advertise the capability: legacy too.
    let out = fill(&sb, GIT_NEW, &format!("protocol=http\nhost={}\n\n", host(&sb)));
    assert!(out.stdout.contains(&format!("password={token}\n")), "{}", out.stdout);
}

#[test]
fn git_helper_by_name_answers_only_its_datacenter() {
    require(GIT_NEW, "git 2.46 or later in /usr/local/bin");
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let token = sb.dc.last_token().unwrap();
    let config = |args: &[&str]| {
        let mut all = vec!["config", "--global"];
        all.extend_from_slice(args);
        Run::from(git(&sb, GIT_NEW, &all).output().unwrap()).success();
    };
    // Registered for every host: the helper must pick what is its own.
    config(&["credential.helper", "acronis"]);
    let out = fill(&sb, GIT_NEW, &format!("capability[]=authtype\nprotocol=http\nhost={}\n\n", host(&sb)));
    out.success();
    assert!(out.stdout.contains(&token), "{}", out.stdout);
    for other in [
        "protocol=https\nhost=example.com\n\n",
        "protocol=http\nhost=127.0.0.2:1\n\n",
        "protocol=ftp\nhost=x\n\n",
    ] {
        let out = fill(&sb, GIT_NEW, other);
        assert_ne!(out.code, 0, "git should have had nothing for {other:?}: {}", out.stdout);
        assert!(
            !out.stdout.contains(&token) && !out.stderr.contains(&token),
            "token given away for {other:?}"
        );
    }
    assert_eq!(sb.dc.exchanges(), 1);
}

#[test]
fn git_erase_drops_only_the_rejected_token() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let first = sb.dc.last_token().unwrap();
    let links = helper_links(&sb);
    let helper = links.join("git-credential-acronis");
    // `erase` with some other token: the cached one stays.
    let erase = |token: &str| {
        let input = format!("protocol=http\nhost={}\nusername={CLIENT_ID}\npassword={token}\n\n", host(&sb));
        run_with_stdin(sb.cmd_at(&helper, &["erase"]), input.as_bytes()).success().stdout_empty();
    };
    erase("some-older-token");
    let get = format!("protocol=http\nhost={}\n\n", host(&sb));
    let out = run_with_stdin(sb.cmd_at(&helper, &["get"]), get.as_bytes());
    assert!(out.stdout.contains(&first));
    assert_eq!(sb.dc.exchanges(), 1);
    // `erase` with the cached token: gone, and the next `get` exchanges.
    erase(&first);
    let out = run_with_stdin(sb.cmd_at(&helper, &["get"]), get.as_bytes());
    out.success();
    assert!(!out.stdout.contains(&first));
    assert_eq!(sb.dc.exchanges(), 2);
    // `store` and unknown operations: silent success.
    run_with_stdin(sb.cmd_at(&helper, &["store"]), get.as_bytes()).success().stdout_empty();
    run_with_stdin(sb.cmd_at(&helper, &["frobnicate"]), get.as_bytes()).success().stdout_empty();
}

#[test]
fn git_bad_input_never_panics_or_answers() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let helper = helper_links(&sb).join("git-credential-acronis");
    for input in [
        b"protocol=http\nhost=h\0x\n\n".to_vec(),
        b"no equals sign\n".to_vec(),
        vec![b'a'; 1024 * 1024],
        b"\xff\xfe\n".to_vec(),
        format!("protocol=http\nhost={}\nhost=\n\n", host(&sb)).into_bytes(),
    ] {
        let out = run_with_stdin(sb.cmd_at(&helper, &["get"]), &input);
        assert!(out.code == 0 || out.code == 2, "exit {}: {}", out.code, out.stderr);
        out.stdout_empty();
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

fn docker(sb: &Sandbox, action: &str, stdin: &str) -> Run {
    let helper = helper_links(sb).join("docker-credential-acronis");
    run_with_stdin(sb.cmd_at(&helper, &[action]), stdin.as_bytes())
}

#[test]
fn docker_helper_protocol() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let token = sb.dc.last_token().unwrap();
    let url = sb.dc.url();
    // docker runs the helper without a profile in the environment.
    sb.set_env("ACRONIS_PROFILE", "");
    let got = docker(&sb, "get", &url);
    got.success();
    assert_eq!(
        got.stdout,
        format!("{{\"ServerURL\":\"{url}\",\"Username\":\"{CLIENT_ID}\",\"Secret\":\"{token}\"}}\n")
    );
    let v: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(v["Secret"], token.as_str());

    let missing = docker(&sb, "get", "https://registry.example.com");
    assert_eq!((missing.code, missing.stdout.as_str()), (1, "credentials not found in native keychain\n"));

    let list = docker(&sb, "list", "unused");
    list.success();
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(v[&url], CLIENT_ID);

    let store = docker(
        &sb,
        "store",
        &format!("{{\"ServerURL\":\"{url}\",\"Username\":\"u\",\"Secret\":\"new-secret\"}}"),
    );
    assert_eq!(store.code, 1);
    assert!(store.stdout.contains("does not accept credentials"), "{}", store.stdout);
    assert!(docker(&sb, "get", &url).stdout.contains(&token), "store changed something");

    docker(&sb, "erase", &url).success();
    let after = docker(&sb, "get", &url);
    after.success();
    assert!(!after.stdout.contains(&token), "erase kept the token");

    let version = docker(&sb, "version", "");
    version.success();
    assert!(version.stdout.starts_with("docker-credential-acronis"), "{}", version.stdout);
    let unknown = docker(&sb, "frobnicate", "");
    assert_eq!(unknown.code, 1);
    assert!(unknown.stdout.contains("Unknown credential action"), "{}", unknown.stdout);
    let garbage = docker(&sb, "get", "\u{1}\u{2}");
    assert_eq!(garbage.code, 1);
    assert!(!garbage.stdout.is_empty());
}

#[test]
fn terraform_helper_protocol() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    sb.set_env("ACRONIS_PROFILE", "");
    let token = sb.dc.last_token().unwrap();
    let helper = helper_links(&sb).join("terraform-credentials-acronis");
    let tf = |args: &[&str], stdin: &str| run_with_stdin(sb.cmd_at(&helper, args), stdin.as_bytes());
    let host = host(&sb);
    assert_eq!(tf(&["get", &host], "").stdout, format!("{{\"token\":\"{token}\"}}\n"));
    let nothing = tf(&["get", "app.terraform.io"], "");
    nothing.success();
    assert_eq!(nothing.stdout, "{}\n");
    tf(&["store", &host], "{\"token\":\"x\"}").code(2).stdout_empty().stderr_has("does not store");
    tf(&["forget", &host], "").success().stdout_empty();
    tf(&["forget", "app.terraform.io"], "").success();
    let after = tf(&["get", &host], "");
    assert!(!after.stdout.contains(&token), "forget kept the token");
    // Helper args from the CLI config come first.
    let named = tf(&["--profile", &sb.profile, "get", &host], "");
    named.success();
    tf(&["get"], "").code(2).stdout_empty();
}

#[test]
fn exec_runs_curl_with_the_token() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    // The header reaches curl on stdin, so the token is not in curl's argv.
    let script = format!(
        "printf 'Authorization: Bearer %s' \"$ACRONIS_TOKEN\" | curl -sS --fail -H @- \"$ACRONIS_API_URL/clients/{CLIENT_ID}\""
    );
    let out = Run::from(sb.cmd(&["exec", "--", "sh", "-c", &script]).output().unwrap());
    out.success();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("curl printed the client record");
    assert_eq!(v["client_id"], CLIENT_ID);
}

#[test]
fn exec_passes_exit_status_and_hides_the_secret() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    let url = sb.dc.url();
    sb.set_env("ACRONIS_PROFILE", "");
    sb.set_env("ACRONIS_CLIENT_ID", CLIENT_ID);
    sb.set_env("ACRONIS_CLIENT_SECRET", SECRET);
    sb.set_env("ACRONIS_DATACENTER_URL", &url);
    let out = Run::from(
        sb.cmd(&["exec", "--", "sh", "-c", "env; exit 7"]).stdout(Stdio::piped()).output().unwrap(),
    );
    out.code(7).never_shows(SECRET);
    assert!(out.stdout.contains("ACRONIS_TOKEN="), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("ACRONIS_AGENT_MANAGER_URL={url}/api/agent_manager/v2")));
    assert!(!out.stdout.contains("ACRONIS_CLIENT_SECRET"), "the secret variable reached the child");
    Run::from(sb.cmd(&["exec", "--", "/nonexistent/program"]).output().unwrap())
        .code(127)
        .stderr_has("cannot run");
    Run::from(sb.cmd(&["exec"]).output().unwrap()).code(2);
}

#[test]
fn several_profiles_for_one_host_need_a_choice() {
    let mut sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let mut other =
        sb.cmd(&["register", "--datacenter", &sb.dc.url(), "--client-id", CLIENT_ID, "--secret-stdin"]);
    other.env("ACRONIS_PROFILE", format!("{}-b", sb.profile));
    run_with_stdin(other, format!("{SECRET}\n").as_bytes()).success();
    sb.set_env("ACRONIS_PROFILE", "");
    let helper = helper_links(&sb).join("git-credential-acronis");
    let input = format!("protocol=http\nhost={}\n\n", host(&sb));
    let out = run_with_stdin(sb.cmd_at(&helper, &["get"]), input.as_bytes());
    out.code(2).stdout_empty().stderr_has("several profiles").stderr_has("--profile");
    let named = run_with_stdin(sb.cmd_at(&helper, &["--profile", &sb.profile, "get"]), input.as_bytes());
    named.success();
    let mut cleanup = sb.cmd(&["remove"]);
    cleanup.env("ACRONIS_PROFILE", format!("{}-b", sb.profile));
    Run::from(cleanup.output().unwrap()).success();
}

#[test]
fn terraform_init_uses_the_helper_for_a_registry() {
    const TERRAFORM: &str = "/usr/local/bin/terraform";
    require(TERRAFORM, "terraform");
    use crate::support::tf_registry::{MODULE_GREETING, TfRegistry, module_tar_gz, root_module};
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let registry = TfRegistry::start(sb.dc.validator(), module_tar_gz());
    // The registry is reached under the datacenter's host name, so the helper
    // answers for it; a `host` block skips HTTPS service discovery.
    let hostname = host(&sb);
    let setup = sb.run(&["setup", "terraform"]);
    setup.success();
    let cli_config = format!(
        "{}\nhost \"{hostname}\" {{\n  services = {{\n    \"modules.v1\" = \"{}\"\n  }}\n}}\n",
        setup.stdout,
        registry.modules_url()
    );
    let config_path = sb.path("terraform.rc");
    std::fs::write(&config_path, cli_config).unwrap();
    let plugins = sb.path("home/.terraform.d/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(bin(), plugins.join("terraform-credentials-acronis")).unwrap();
    let work = sb.path("tf");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("main.tf"), root_module(&hostname)).unwrap();

    let terraform = |args: &[&str]| {
        let mut cmd = sb.cmd_at(Path::new(TERRAFORM), args);
        cmd.current_dir(&work)
            .env("TF_CLI_CONFIG_FILE", &config_path)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("ACRONIS_PROFILE");
        Run::from(cmd.output().unwrap())
    };
    terraform(&["init", "-input=false", "-no-color"]).success();
    let token = sb.dc.last_token().unwrap();
    let authorized: Vec<_> =
        registry.requests().into_iter().filter(|(_, path, _)| path.starts_with("/v1/")).collect();
    assert!(!authorized.is_empty(), "terraform never reached the registry");
    for (method, path, bearer) in &authorized {
        assert_eq!(bearer.as_deref(), Some(token.as_str()), "{method} {path} without the helper's token");
    }
    let apply = terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.success();
    assert!(apply.stdout.contains(MODULE_GREETING), "{}", apply.stdout);
    assert_eq!(sb.dc.exchanges(), 1, "the helper served terraform from the cache");
}

fn kubeconfig(
    sb: &Sandbox,
    api: &crate::support::kube_api::KubeApi,
    ca: &Path,
    api_version: &str,
) -> PathBuf {
    // The user stanza is exactly what `setup kubectl` prints.
    let setup = sb.run(&["setup", "kubectl"]);
    setup.success();
    let users = setup.stdout.replace("client.authentication.k8s.io/v1\n", &format!("{api_version}\n"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: acronis-{}\ncurrent-context: fake\n{users}",
        api.url(),
        ca.display(),
        sb.profile
    );
    let path = sb.path(&format!("kubeconfig-{}", api_version.rsplit('/').next().unwrap_or("x")));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn kubectl_runs_the_exec_plugin_over_tls() {
    use crate::support::kube_api::KubeApi;
    use crate::support::tls::TestCa;
    const KUBECTL_1_33: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
    require(KUBECTL_1_33, "google-cloud-cli-kubectl (kubectl 1.33)");
    require("/usr/bin/kubectl", "kubectl");
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let token = sb.dc.last_token().unwrap();
    let ca = TestCa::new("acronis-cred test CA");
    let ca_file = sb.path("ca.pem");
    ca.write_cert(&ca_file);
    let api = KubeApi::start(&ca, sb.dc.validator());
    for (kubectl, api_version) in [
        (KUBECTL_1_33, "client.authentication.k8s.io/v1"),
        (KUBECTL_1_33, "client.authentication.k8s.io/v1beta1"),
        ("/usr/bin/kubectl", "client.authentication.k8s.io/v1"),
    ] {
        let config = kubeconfig(&sb, &api, &ca_file, api_version);
        let mut cmd = sb.cmd_at(
            Path::new(kubectl),
            &["--kubeconfig", &config.to_string_lossy(), "get", "--raw", "/version"],
        );
        cmd.env("KUBECACHEDIR", sb.path("kubecache")).env_remove("ACRONIS_PROFILE");
        let out = Run::from(cmd.output().unwrap());
        out.success();
        assert!(out.stdout.contains("gitVersion"), "{kubectl} {api_version}: {}", out.stdout);
    }
    let seen = api.requests();
    assert!(!seen.is_empty());
    for (method, path, bearer) in seen {
        assert_eq!(bearer.as_deref(), Some(token.as_str()), "{method} {path}");
    }
    assert_eq!(sb.dc.exchanges(), 1, "every kubectl run was served from the cache");
}

#[test]
fn kubectl_plugin_answers_in_the_requested_version_with_early_expiry() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let token = sb.dc.last_token().unwrap();
    let expires = sb.dc.token_expires_on(&token).unwrap();
    for (info, version) in [
        (None, "client.authentication.k8s.io/v1"),
        (
            Some(
                r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#,
            ),
            "client.authentication.k8s.io/v1beta1",
        ),
    ] {
        let mut cmd = sb.cmd(&["kubectl"]);
        if let Some(info) = info {
            cmd.env("KUBERNETES_EXEC_INFO", info);
        }
        let out = Run::from(cmd.output().unwrap());
        out.success();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["apiVersion"], version);
        assert_eq!(v["kind"], "ExecCredential");
        assert_eq!(v["status"]["token"], token.as_str());
        // client-go has no margin of its own: the expiry is 5 minutes early.
        assert_eq!(v["status"]["expirationTimestamp"], acronis_cred::time::rfc3339(expires - 300));
    }
    let mut bad = sb.cmd(&["kubectl"]);
    bad.env("KUBERNETES_EXEC_INFO", r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#);
    Run::from(bad.output().unwrap()).code(2).stdout_empty().stderr_has("v1alpha1");
}

/// A git host that is also the datacenter: git requests are served by
/// `git http-backend`, `/api/...` is relayed to the fake datacenter.
fn git_host(sb: &Sandbox) -> (crate::support::git_server::GitServer, tempfile::TempDir) {
    use crate::support::git_server::{GitServer, make_bare_repo};
    let root = tempfile::tempdir().unwrap();
    make_bare_repo(root.path(), "demo.git");
    let server = GitServer::start(root.path(), sb.dc.validator());
    server.proxy_api_to(&sb.dc.url());
    (server, root)
}

fn register_at(sb: &Sandbox, url: &str) {
    let mut cmd = sb.cmd(&["register", "--datacenter", url, "--client-id", CLIENT_ID, "--secret-stdin"]);
    cmd.stdin(Stdio::piped());
    run_with_stdin(cmd, format!("{SECRET}\n").as_bytes()).success();
}

fn clone(sb: &Sandbox, git_bin: &str, url: &str, dest: &str) -> Run {
    let target = sb.path(dest);
    Run::from(git(sb, git_bin, &["clone", "--quiet", url, &target.to_string_lossy()]).output().unwrap())
}

#[test]
fn git_clone_with_bearer_and_recovery_after_401() {
    require(GIT_NEW, "git 2.46 or later in /usr/local/bin");
    let sb = Sandbox::new(Backend::Keyutils);
    let (server, _root) = git_host(&sb);
    register_at(&sb, &server.url());
    apply_setup_git(&sb);
    let first = sb.dc.last_token().unwrap();

    clone(&sb, GIT_NEW, &server.repo_url("demo.git"), "c1").success();
    assert!(sb.path("c1/README.md").exists() || sb.path("c1/.git").exists());
    let served: Vec<_> = server.requests().into_iter().filter(|r| r.status != 401).collect();
    assert!(!served.is_empty());
    for r in &served {
        assert_eq!(
            (r.scheme.as_deref(), r.credential.as_deref()),
            (Some("Bearer"), Some(first.as_str())),
            "{r:?}"
        );
    }

    // The platform revokes every token of the client (the secret stays).
    sb.dc.set_secret(CLIENT_ID, SECRET);
    assert!(!sb.dc.token_is_valid(&first));
    // git tries the cached token, gets 401, says `erase`: this clone fails...
    let failed = clone(&sb, GIT_NEW, &server.repo_url("demo.git"), "c2");
    assert_ne!(failed.code, 0, "a revoked token was accepted");
    assert!(!failed.stderr.contains(&first), "token in git's messages");
    // ...and the next one gets a fresh token.
    clone(&sb, GIT_NEW, &server.repo_url("demo.git"), "c3").success();
    let fresh = sb.dc.last_token().unwrap();
    assert_ne!(fresh, first);
    assert_eq!(sb.dc.exchanges(), 2);
    assert_eq!(server.requests().last().and_then(|r| r.credential.clone()), Some(fresh));
}

#[test]
fn git_clone_legacy_basic_with_git_2_39() {
    require(GIT_OLD, "Debian's git");
    let sb = Sandbox::new(Backend::Keyutils);
    let (server, _root) = git_host(&sb);
    register_at(&sb, &server.url());
    apply_setup_git(&sb);
    let token = sb.dc.last_token().unwrap();
    clone(&sb, GIT_OLD, &server.repo_url("demo.git"), "old").success();
    let served: Vec<_> = server.requests().into_iter().filter(|r| r.status != 401).collect();
    assert!(!served.is_empty());
    for r in &served {
        assert_eq!(
            (r.scheme.as_deref(), r.credential.as_deref()),
            (Some("Basic"), Some(token.as_str())),
            "{r:?}"
        );
    }
}
