//! A fake Terraform module registry for the credentials-helper end-to-end test.
//!
//! It is a real HTTP/1.1 server on 127.0.0.1 that speaks just enough of the
//! module registry protocol (`modules.v1`) for a real `terraform init` to
//! install one module from it, and it answers 401 to every registry call that
//! does not carry `Authorization: Bearer <token>` with a token that
//! `is_valid` accepts. So a successful `terraform init` proves that terraform
//! ran the credentials helper and sent the token it printed.
//!
//! Endpoints:
//!
//! - `GET /.well-known/terraform.json`: the discovery document (no auth, as on
//!   real registries). Terraform does not fetch it when the CLI config has a
//!   `host` block for the hostname, which is how [`TfRegistry::cli_config`]
//!   sets it up: discovery would otherwise go to `https://HOSTNAME/` (DNS and
//!   TLS), which a test cannot serve.
//! - `GET /v1/modules/NS/NAME/PROVIDER/versions`: bearer token required;
//!   lists [`MODULE_VERSION`] for any NS/NAME/PROVIDER.
//! - `GET /v1/modules/NS/NAME/PROVIDER/VERSION/download`: bearer token
//!   required; 204 with `X-Terraform-Get: /archive/NS/NAME/PROVIDER/VERSION.tar.gz`
//!   (terraform resolves it against the download URL, so it fetches it from
//!   this same server).
//! - `HEAD`/`GET /archive/...tar.gz`: the module archive. No auth: terraform
//!   fetches the package with a plain HTTP getter that never sends registry
//!   credentials; it sends a HEAD first, then the GET (terraform 1.11.4).
//!
//! Every request is recorded as (method, path without query, bearer token).
//! A successful `terraform init` of [`root_module`] makes exactly four:
//! `GET .../versions` and `GET .../1.0.0/download` with the token, then
//! `HEAD` and `GET /archive/...` without one.
//!
//! Recipe (checked with terraform 1.11.4; `terraform init` takes ~0.1 s):
//! write [`TfRegistry::cli_config`] to a file named by `TF_CLI_CONFIG_FILE`,
//! put the helper at `$HOME/.terraform.d/plugins/terraform-credentials-NAME`
//! (a symlink to the binary is fine), write [`root_module`] as `main.tf` in an
//! empty directory, and run `terraform init -input=false -no-color` there with
//! an environment built from nothing: `PATH`, `HOME`, `TF_CLI_CONFIG_FILE`,
//! `CHECKPOINT_DISABLE=1`, `TF_IN_AUTOMATION=1`, and no `TF_TOKEN_*` (even an
//! empty `TF_TOKEN_<host>` pre-empts the helper).

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The only version the fake registry offers for any module.
pub const MODULE_VERSION: &str = "1.0.0";
/// What the module in [`module_tar_gz`] puts in its `greeting` output.
pub const MODULE_GREETING: &str = "hello from the fake registry";
/// The registry path (NS/NAME/PROVIDER) that [`root_module`] asks for.
pub const MODULE_PATH: &str = "acronis/demo/null";

const MAX_HEAD_BYTES: usize = 64 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Decides whether a bearer token is accepted.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// One request as the registry saw it: method, path (query stripped) and the
/// bearer token of its `Authorization` header, if it had one.
pub type SeenRequest = (String, String, Option<String>);

pub struct TfRegistry {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    is_valid: TokenCheck,
    archive: Vec<u8>,
    requests: Mutex<Vec<SeenRequest>>,
    shutdown: AtomicBool,
}

impl TfRegistry {
    /// Starts the registry on an ephemeral port of 127.0.0.1. Registry calls
    /// need a bearer token for which `is_valid` returns true; the archive
    /// endpoint serves `module_archive` (a `.tar.gz`, see [`module_tar_gz`]).
    pub fn start(is_valid: TokenCheck, module_archive: Vec<u8>) -> TfRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake registry");
        let addr = listener.local_addr().expect("fake registry address");
        let shared = Arc::new(Shared {
            is_valid,
            archive: module_archive,
            requests: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("tf-registry".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn the fake registry")
        };
        TfRegistry { addr, shared, acceptor: Some(acceptor) }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The `modules.v1` service URL to put in the CLI config's `host` block.
    pub fn modules_url(&self) -> String {
        format!("{}/v1/modules/", self.url())
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A terraform CLI config that runs credentials helper `helper` (the
    /// executable `terraform-credentials-<helper>` in
    /// `$HOME/.terraform.d/plugins/`) with `args` before `get HOSTNAME`, and
    /// points `hostname`'s module registry at this server without service
    /// discovery. `hostname` must contain a dot (terraform rejects
    /// `localhost`); `registry.example.test` and `127.0.0.1:PORT` both work.
    pub fn cli_config(&self, hostname: &str, helper: &str, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| hcl_string(a)).collect();
        format!(
            "credentials_helper {helper} {{\n  args = [{args}]\n}}\n\n\
             host {host} {{\n  services = {{\n    \"modules.v1\" = {url}\n  }}\n}}\n",
            helper = hcl_string(helper),
            args = args.join(", "),
            host = hcl_string(hostname),
            url = hcl_string(&self.modules_url()),
        )
    }
}

impl Drop for TfRegistry {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A root module (`main.tf`) that installs [`MODULE_PATH`] version
/// [`MODULE_VERSION`] from `hostname` and re-exports its greeting.
pub fn root_module(hostname: &str) -> String {
    format!(
        "module \"m\" {{\n  source  = \"{hostname}/{MODULE_PATH}\"\n  version = \"{MODULE_VERSION}\"\n}}\n\n\
         output \"greeting\" {{\n  value = module.m.greeting\n}}\n"
    )
}

/// A tiny module package: a `.tar.gz` with one `main.tf` whose `greeting`
/// output is [`MODULE_GREETING`]. Built with the system `tar`.
pub fn module_tar_gz() -> Vec<u8> {
    let dir =
        tempfile::Builder::new().prefix("tf-module-").tempdir().expect("create a temp dir for the module");
    let main_tf = format!("output \"greeting\" {{\n  value = \"{MODULE_GREETING}\"\n}}\n");
    std::fs::write(dir.path().join("main.tf"), main_tf).expect("write the module's main.tf");
    tar_gz(dir.path())
}

fn tar_gz(dir: &Path) -> Vec<u8> {
    let out =
        Command::new("tar").arg("-czf").arg("-").arg("-C").arg(dir).arg("main.tf").output().expect("run tar");
    assert!(out.status.success(), "tar failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn hcl_string(s: &str) -> String {
    // JSON string syntax is valid HCL for the characters tests use; escape
    // HCL's template introducers too.
    serde_json::to_string(s).expect("encode a string").replace("${", "$${").replace("%{", "%%{")
}

// ---------------------------------------------------------------------------
// HTTP

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        workers.retain(|w| !w.is_finished());
        workers.push(thread::spawn(move || {
            let _ = serve(&shared, stream);
        }));
    }
    for worker in workers {
        let _ = worker.join();
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn bearer(&self) -> Option<String> {
        let (scheme, token) = self.header("authorization")?.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
    }
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, value: serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    fn errors(status: u16, message: &str) -> Response {
        // The registry protocol's error shape.
        Response::json(status, serde_json::json!({ "errors": [message] }))
    }
}

/// One request per connection: every answer says `Connection: close`, which
/// Go's HTTP client (terraform) handles by opening a new connection.
fn serve(shared: &Shared, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let Some(request) = read_head(&mut stream)? else {
        return Ok(());
    };
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push((
        request.method.clone(),
        request.path.clone(),
        request.bearer(),
    ));
    let response = route(shared, &request);
    write_response(&mut stream, &response, request.method == "HEAD")?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// Reads the request head; None for a connection that closed before sending
/// one (such as the wake-up connection at shutdown) or sent garbage.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p).to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Some(Request { method: method.to_string(), path, headers }))
}

fn route(shared: &Shared, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::errors(405, "method not allowed");
    }
    let path = request.path.as_str();
    if path == "/.well-known/terraform.json" {
        return Response::json(200, serde_json::json!({ "modules.v1": "/v1/modules/" }));
    }
    if let Some(rest) = path.strip_prefix("/archive/") {
        if rest.ends_with(".tar.gz") {
            return Response {
                status: 200,
                headers: vec![("Content-Type", "application/x-gzip".into())],
                body: shared.archive.clone(),
            };
        }
        return Response::errors(404, "not found");
    }
    let Some(rest) = path.strip_prefix("/v1/modules/") else {
        return Response::errors(404, "not found");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Response::errors(404, "not found");
    }
    let authorized = request.bearer().is_some_and(|token| !token.is_empty() && (shared.is_valid)(&token));
    match segments[..] {
        [_, _, _, "versions"] => {
            if !authorized {
                return Response::errors(401, "unauthorized");
            }
            Response::json(
                200,
                serde_json::json!({ "modules": [ { "versions": [ { "version": MODULE_VERSION } ] } ] }),
            )
        }
        [ns, name, provider, version, "download"] => {
            if !authorized {
                return Response::errors(401, "unauthorized");
            }
            if version != MODULE_VERSION {
                return Response::errors(404, "no such version");
            }
            Response {
                status: 204,
                headers: vec![(
                    "X-Terraform-Get",
                    format!("/archive/{ns}/{name}/{provider}/{version}.tar.gz"),
                )],
                body: Vec::new(),
            }
        }
        _ => Response::errors(404, "not found"),
    }
}

fn write_response(stream: &mut TcpStream, response: &Response, head_only: bool) -> io::Result<()> {
    let reason = match response.status {
        200 => "OK",
        204 => "No Content",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Unknown",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if response.status != 204 {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    if response.status != 204 && !head_only {
        bytes.extend_from_slice(&response.body);
    }
    stream.write_all(&bytes)?;
    stream.flush()
}
