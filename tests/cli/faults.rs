//! The fault matrix: each broken answer a datacenter (or the network in
//! between) can give. Every case asserts the exit code, a message a user can
//! act on, an upper bound on the time taken, and that neither the stored
//! secret nor the cached token was touched.

use std::time::{Duration, Instant};

use crate::support::fake_dc::Behavior;
use crate::support::sandbox::{Backend, CLIENT_ID, Run, SECRET, Sandbox};

fn status(status: u16, body: &str, content_type: &'static str, headers: &[(&str, &str)]) -> Behavior {
    Behavior::Status {
        status,
        body: body.into(),
        content_type,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

struct Case {
    name: &'static str,
    behavior: Behavior,
    code: i32,
    says: &'static str,
    within: Duration,
    /// Token requests the helper should make for this case (retries).
    attempts: Option<usize>,
}

fn cases() -> Vec<Case> {
    let far = 4_000_000_000u64;
    let json = "application/json";
    let s = Duration::from_secs;
    vec![
        Case {
            name: "500",
            behavior: status(500, "{\"error\":\"server_error\"}", json, &[]),
            code: 5,
            says: "HTTP 500",
            within: s(10),
            attempts: Some(3),
        },
        Case {
            name: "502",
            behavior: status(502, "", "text/plain", &[]),
            code: 5,
            says: "HTTP 502",
            within: s(15),
            attempts: Some(4),
        },
        Case {
            name: "503 Retry-After 1",
            behavior: status(503, "{}", json, &[("Retry-After", "1")]),
            code: 5,
            says: "HTTP 503",
            within: s(15),
            attempts: Some(4),
        },
        Case {
            name: "503 Retry-After too long",
            behavior: status(503, "{}", json, &[("Retry-After", "3600")]),
            code: 5,
            says: "HTTP 503",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "429",
            behavior: status(429, "{\"error\":\"slow_down\"}", json, &[]),
            code: 5,
            says: "throttling",
            within: s(15),
            attempts: Some(4),
        },
        Case {
            name: "accept then hang",
            behavior: Behavior::Hang,
            code: 5,
            says: "timed out",
            within: s(15),
            attempts: Some(1),
        },
        Case {
            name: "slow body",
            behavior: Behavior::SlowBody {
                body: format!("{{\"access_token\":\"abc\",\"expires_on\":{far},\"token_type\":\"bearer\"}}"),
                interval: Duration::from_millis(300),
            },
            code: 5,
            says: "timed out",
            within: s(15),
            attempts: Some(1),
        },
        Case {
            name: "truncated JSON",
            behavior: Behavior::RawBody("{\"access_token\":\"abc\",\"expires_on\":".into()),
            code: 5,
            says: "truncated",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "HTML error page",
            behavior: status(502, "<html><body>Bad Gateway</body></html>", "text/html", &[]),
            code: 5,
            says: "HTTP 502",
            within: s(15),
            attempts: None,
        },
        Case {
            name: "HTML with 200",
            behavior: Behavior::RawBody("<html>maintenance</html>".into()),
            code: 5,
            says: "not JSON",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "10 MB body",
            behavior: Behavior::RawBody("x".repeat(10 * 1024 * 1024)),
            code: 5,
            says: "larger than 1 MiB",
            within: s(10),
            attempts: Some(1),
        },
        Case {
            name: "no access_token",
            behavior: Behavior::RawBody(format!("{{\"expires_on\":{far}}}")),
            code: 5,
            says: "no access_token",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "no expiry",
            behavior: Behavior::RawBody("{\"access_token\":\"abc\"}".into()),
            code: 5,
            says: "no expiry",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "already expired",
            behavior: Behavior::RawBody("{\"access_token\":\"abc\",\"expires_on\":1000}".into()),
            code: 5,
            says: "expired",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "newline in token",
            behavior: Behavior::RawBody(format!("{{\"access_token\":\"ab\\ncd\",\"expires_on\":{far}}}")),
            code: 5,
            says: "characters",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "redirect",
            behavior: status(302, "", "text/plain", &[("Location", "http://127.0.0.1:9/steal")]),
            code: 1,
            says: "redirect",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "401",
            behavior: status(401, "{\"error\":\"invalid_client\"}", json, &[]),
            code: 4,
            says: "acronis-cred rotate",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "403",
            behavior: status(403, "{}", json, &[]),
            code: 4,
            says: "rejected",
            within: s(5),
            attempts: Some(1),
        },
        Case {
            name: "400 invalid_client",
            behavior: status(400, "{\"error\":\"invalid_client\"}", json, &[]),
            code: 4,
            says: "rejected",
            within: s(5),
            attempts: Some(1),
        },
    ]
}

/// Stored secret and cached token, as seen from outside.
fn snapshot(sb: &Sandbox) -> (String, serde_json::Value) {
    let token = sb.run(&["token", "--format", "json"]);
    token.success();
    let status: serde_json::Value = serde_json::from_str(&sb.run(&["status", "--json"]).stdout).unwrap();
    (token.stdout, status["profiles"][0].clone())
}

#[test]
fn fault_matrix() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let before = snapshot(&sb);
    assert_eq!(before.1["secret_present"], true);
    for case in cases() {
        sb.dc.set_behavior(case.behavior);
        let calls_before = sb.dc.exchanges();
        let started = Instant::now();
        let out = sb.run(&["token", "--refresh", "--timeout", "2s"]);
        let took = started.elapsed();
        sb.dc.set_behavior(Behavior::Normal);
        eprintln!(
            "fault {:<28} exit {} after {:>5} ms, {} attempt(s)",
            case.name,
            out.code,
            took.as_millis(),
            sb.dc.exchanges() - calls_before
        );
        assert_eq!(out.code, case.code, "{}: exit {}\n{}", case.name, out.code, out.stderr);
        assert!(out.stdout.is_empty(), "{}: stdout {:?}", case.name, out.stdout);
        assert!(
            out.stderr.contains(case.says),
            "{}: stderr lacks {:?}:\n{}",
            case.name,
            case.says,
            out.stderr
        );
        assert!(out.stderr.contains("hint:"), "{}: no hint:\n{}", case.name, out.stderr);
        assert!(!out.stderr.contains(SECRET) && !out.stderr.contains("abc") && !out.stderr.contains("cd\""));
        assert!(took < case.within, "{}: took {took:?}", case.name);
        if let Some(n) = case.attempts {
            assert_eq!(sb.dc.exchanges() - calls_before, n, "{}: attempts", case.name);
        }
        // Nothing lost: the same cached token, the secret still there.
        let calls = sb.dc.exchanges();
        assert_eq!(snapshot(&sb), before, "{}: state changed", case.name);
        assert_eq!(sb.dc.exchanges(), calls, "{}: the cached token was dropped", case.name);
    }
    assert!(sb.dc.violations().is_empty(), "{:?}", sb.dc.violations());
    // And the secret still works.
    sb.run(&["token", "--refresh"]).success();
}

#[test]
fn connection_refused() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let before = snapshot(&sb);
    let config = sb.config_text();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(sb.config_path(), config.replace(&sb.dc.url(), &format!("http://127.0.0.1:{closed}")))
        .unwrap();
    let started = Instant::now();
    let out = sb.run(&["token", "--refresh"]);
    out.code(5).stdout_empty().stderr_has("connection failed").stderr_has("hint:").stderr_has("attempts");
    assert!(started.elapsed() < Duration::from_secs(20));
    std::fs::write(sb.config_path(), config).unwrap();
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn datacenter_down_serves_a_token_inside_the_margin_with_a_warning() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.dc.set_token_lifetime(200);
    sb.register().success();
    let cached = sb.dc.last_token().unwrap();
    sb.dc.set_behavior(status(503, "{}", "application/json", &[]));
    // 200 s left is inside the 5-minute margin: a refresh is due, fails, and
    // the still-valid token is served rather than nothing.
    let out = sb.run(&["token", "--retries", "1"]);
    out.success().stderr_has("serving the cached token");
    assert_eq!(out.stdout.trim_end(), cached);
    // --refresh means "a new one or nothing".
    sb.run(&["token", "--refresh", "--retries", "1"]).code(5);
}

#[test]
fn tls_trust_and_host_names() {
    use crate::support::tls::TestCa;
    use crate::support::tls_front::TlsFront;
    let sb = Sandbox::new(Backend::Keyutils);
    let ca = TestCa::new("acronis-cred fault CA");
    let ca_file = sb.path("ca.pem");
    ca.write_cert(&ca_file);
    let front = TlsFront::start(&ca, &["127.0.0.1"], &sb.dc.url());
    let url = front.url_for("127.0.0.1");
    let register = |extra: &[&str]| {
        let mut args =
            vec!["register", "--force", "--datacenter", &url, "--client-id", CLIENT_ID, "--secret-stdin"];
        args.extend_from_slice(extra);
        sb.run_with_stdin(&args, format!("{SECRET}\n").as_bytes())
    };
    // Untrusted certificate: refused, nothing stored, and the hint names --ca-file.
    register(&[]).code(5).stderr_has("certificate").stderr_has("--ca-file").stderr_has("nothing was stored");
    assert!(!sb.config_path().exists());
    // Trusted through --ca-file: works end to end over TLS.
    let ca_arg = ca_file.to_string_lossy().to_string();
    register(&["--ca-file", &ca_arg]).success();
    let mut with_ca = sb.cmd(&["token", "--refresh"]);
    with_ca.env("ACRONIS_CRED_CA_FILE", &ca_arg);
    Run::from(with_ca.output().unwrap()).success();
    // The certificate is for 127.0.0.1 only: another name for the same server fails.
    let wrong = TlsFront::start(&ca, &["other.example"], &sb.dc.url());
    let wrong_url = wrong.url_for("127.0.0.1");
    let out = sb.run_with_stdin(
        &[
            "register",
            "--force",
            "--ca-file",
            &ca_arg,
            "--datacenter",
            &wrong_url,
            "--client-id",
            CLIENT_ID,
            "--secret-stdin",
        ],
        format!("{SECRET}\n").as_bytes(),
    );
    out.code(5).stderr_has("certificate");
    // Plain http to a non-loopback host is never even tried.
    sb.run_with_stdin(
        &[
            "register",
            "--force",
            "--datacenter",
            "http://192.0.2.1",
            "--client-id",
            CLIENT_ID,
            "--secret-stdin",
        ],
        b"x\n",
    )
    .code(2)
    .stderr_has("plain http");
}

#[test]
fn proxies_from_the_environment() {
    use crate::support::proxy::Proxy;
    use crate::support::tls::TestCa;
    use crate::support::tls_front::TlsFront;
    let mut sb = Sandbox::new(Backend::Keyutils);
    let ca = TestCa::new("proxy test CA");
    let ca_file = sb.path("ca.pem");
    ca.write_cert(&ca_file);
    let front = TlsFront::start(&ca, &["127.0.0.1"], &sb.dc.url());
    let url = front.url_for("127.0.0.1");
    let proxy = Proxy::start();
    sb.set_env("HTTPS_PROXY", &proxy.url());
    sb.set_env("ACRONIS_CRED_CA_FILE", &ca_file.to_string_lossy());
    // https through the proxy: a CONNECT tunnel, TLS end to end.
    sb.run_with_stdin(
        &["register", "--datacenter", &url, "--client-id", CLIENT_ID, "--secret-stdin"],
        format!("{SECRET}\n").as_bytes(),
    )
    .success();
    let tunnel = format!("CONNECT 127.0.0.1:{} HTTP/1.1", front.port());
    assert!(proxy.seen().contains(&tunnel), "no CONNECT through the proxy: {:?}", proxy.seen());
    // NO_PROXY sends it direct.
    let before = proxy.seen().len();
    let mut direct = sb.cmd(&["token", "--refresh"]);
    direct.env("NO_PROXY", "127.0.0.1");
    Run::from(direct.output().unwrap()).success();
    assert_eq!(proxy.seen().len(), before, "NO_PROXY was not honoured");
    // A proxy that is down: exit 5, not a hang.
    let mut dead = sb.cmd(&["token", "--refresh", "--retries", "1"]);
    dead.env("HTTPS_PROXY", "http://127.0.0.1:9");
    Run::from(dead.output().unwrap()).code(5).stderr_has("hint:");
}
