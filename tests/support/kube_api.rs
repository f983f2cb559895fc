//! A fake Kubernetes API server over TLS, for running the real kubectl
//! against the helper acting as its exec credential plugin.
//!
//! It answers just enough for `kubectl get --raw /version`, API discovery and
//! `kubectl get pods` in the default namespace. Every request must carry a
//! bearer token the test's `is_valid` accepts; anything else gets the 401
//! Status a real API server sends, which is what makes kubectl re-run its
//! credential plugin. Each request is answered on its own connection
//! (`Connection: close`), so a plugin run is never hidden behind a reused
//! connection.

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use serde_json::{Value, json};

use super::tls::{ReadWrite, TestCa, serve_tls};

const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Decides whether a bearer token is accepted; called for every request.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// One request as the fake received it.
pub type RecordedRequest = (
    String,         // method
    String,         // path, without the query string
    Option<String>, // bearer token presented
);

/// The server; dropping it stops it and waits for its threads.
pub struct KubeApi {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

impl KubeApi {
    /// Listens on 127.0.0.1 at a random port, with a certificate from `ca`
    /// for both `127.0.0.1` and `localhost`.
    pub fn start(ca: &TestCa, is_valid: TokenCheck) -> KubeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .expect("fake kube-apiserver: bind a TCP listener on 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake kube-apiserver: read the listener's local address");
        let config = ca.server_config(&["127.0.0.1", "localhost"]);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = {
            let requests = Arc::clone(&requests);
            Arc::new(move |stream: &mut dyn ReadWrite| serve_request(stream, addr, &requests, &*is_valid))
        };
        let server = serve_tls(listener, config, handler, Arc::clone(&stop));
        KubeApi { addr, requests, stop, server: Some(server) }
    }

    /// `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request that could be parsed, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    /// A kubeconfig with one cluster (this server, verified against
    /// `ca_file`), one user whose credentials come from the exec plugin
    /// `exec_command`, and a current context joining the two. `api_version`
    /// is the exec API version, such as `client.authentication.k8s.io/v1`
    /// or `client.authentication.k8s.io/v1beta1`.
    pub fn kubeconfig(
        &self,
        ca_file: &Path,
        exec_command: &Path,
        exec_args: &[&str],
        exec_env: &[(&str, &str)],
        api_version: &str,
    ) -> String {
        let mut out = String::new();
        out.push_str("apiVersion: v1\n");
        out.push_str("kind: Config\n");
        out.push_str("clusters:\n");
        out.push_str("- name: fake-kube\n");
        out.push_str("  cluster:\n");
        out.push_str(&format!("    server: {}\n", yaml_str(&self.url())));
        out.push_str(&format!("    certificate-authority: {}\n", yaml_str(path_str(ca_file))));
        out.push_str("users:\n");
        out.push_str("- name: acronis\n");
        out.push_str("  user:\n");
        out.push_str("    exec:\n");
        out.push_str(&format!("      apiVersion: {}\n", yaml_str(api_version)));
        out.push_str(&format!("      command: {}\n", yaml_str(path_str(exec_command))));
        if exec_args.is_empty() {
            out.push_str("      args: []\n");
        } else {
            out.push_str("      args:\n");
            for arg in exec_args {
                out.push_str(&format!("      - {}\n", yaml_str(arg)));
            }
        }
        if exec_env.is_empty() {
            out.push_str("      env: []\n");
        } else {
            out.push_str("      env:\n");
            for (name, value) in exec_env {
                out.push_str(&format!("      - name: {}\n", yaml_str(name)));
                out.push_str(&format!("        value: {}\n", yaml_str(value)));
            }
        }
        // `Never`: the plugin gets no terminal, as under automation; the v1
        // exec API also requires the field to be present.
        out.push_str("      interactiveMode: Never\n");
        out.push_str("      provideClusterInfo: false\n");
        out.push_str("contexts:\n");
        out.push_str("- name: fake-kube\n");
        out.push_str("  context:\n");
        out.push_str("    cluster: fake-kube\n");
        out.push_str("    user: acronis\n");
        out.push_str("current-context: fake-kube\n");
        out
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// A double-quoted YAML scalar. JSON string syntax is a subset of YAML's
/// double-quoted style, so any path, argument or value survives exactly,
/// including ones YAML would otherwise read as numbers, booleans or null.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("fake kube-apiserver: a string always serialises")
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap_or_else(|| {
        panic!("fake kube-apiserver: a kubeconfig cannot hold the non-UTF-8 path {}", path.display())
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a connection thread panicked; its panic message
    // is the report, and the recorded requests are still worth showing.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------
// One request per connection

struct Request {
    method: String,
    /// Without the query string.
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The token of a single `Authorization: Bearer` header.
    fn bearer_token(&self) -> Option<String> {
        let [value] = self.header_values("authorization")[..] else {
            return None;
        };
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                let token = token.trim();
                (!token.is_empty()).then(|| token.to_string())
            }
            _ => None,
        }
    }
}

fn serve_request(
    stream: &mut dyn ReadWrite,
    addr: SocketAddr,
    requests: &Mutex<Vec<RecordedRequest>>,
    is_valid: &(dyn Fn(&str) -> bool + Send + Sync),
) {
    let request = match read_request(stream) {
        Ok(Some(request)) => request,
        // The client went away (or the server is stopping): nobody to answer.
        Ok(None) => return,
        Err(message) => {
            let _ = write_response(stream, 400, &status_body(400, "BadRequest", &message));
            return;
        }
    };
    let token = request.bearer_token();
    lock(requests).push((request.method.clone(), request.path.clone(), token.clone()));

    // Like the real API server: authentication comes before routing, so an
    // unknown path with a bad token is a 401, not a 404.
    if !token.as_deref().is_some_and(is_valid) {
        let _ = write_response(stream, 401, &status_body(401, "Unauthorized", "Unauthorized"));
        return;
    }
    let (status, body) = route(&request, addr);
    let _ = write_response(stream, status, &body);
}

fn route(request: &Request, addr: SocketAddr) -> (u16, Value) {
    let body = match request.path.as_str() {
        "/version" => json!({
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.0",
            "gitCommit": "60a317eadfcb839692a68eab88b2096f4d708f4f",
            "gitTreeState": "clean",
            "buildDate": "2025-04-23T13:00:00Z",
            "goVersion": "go1.24.2",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
        // Legacy discovery: kubectl asks for the aggregated form first and
        // falls back to these when the answer is plain application/json.
        "/api" => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                { "clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string() },
            ],
        }),
        "/apis" => json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": [] }),
        "/api/v1" => json!({
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [{
                "name": "pods",
                "singularName": "pod",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get", "list"],
                "shortNames": ["po"],
                "categories": ["all"],
            }],
        }),
        "/api/v1/namespaces/default/pods" => json!({
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": { "resourceVersion": "1" },
            "items": [],
        }),
        path => {
            return (
                404,
                status_body(
                    404,
                    "NotFound",
                    &format!("the server could not find the requested resource ({path})"),
                ),
            );
        }
    };
    if request.method != "GET" {
        return (
            405,
            status_body(405, "MethodNotAllowed", &format!("{} is not supported here", request.method)),
        );
    }
    (200, body)
}

/// A `metav1.Status` failure, the body every API server error carries.
fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

/// Reads one request head and discards any body. `Ok(None)` if the stream
/// ends (or fails) before a complete head: there is no one to answer.
fn read_request(stream: &mut dyn ReadWrite) -> Result<Option<Request>, String> {
    let mut buf = Vec::new();
    let head_len = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err("request head exceeds 64 KiB".to_string());
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = std::str::from_utf8(&buf[..head_len - 4])
        .map_err(|_| "request head is not valid UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let [method, target, version] = request_line.split(' ').collect::<Vec<_>>()[..] else {
        return Err(format!("bad request line {request_line:?}"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(format!("bad request line {request_line:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("header line without a colon: {line:?}"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let request = Request { method: method.to_string(), path: path.to_string(), headers };

    if !request.header_values("transfer-encoding").is_empty() {
        return Err("chunked request bodies are not supported".to_string());
    }
    let body_len = match request.header_values("content-length")[..] {
        [] => 0,
        [value] => value
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= MAX_BODY_BYTES)
            .ok_or_else(|| format!("bad or too large Content-Length {value:?}"))?,
        _ => return Err("repeated Content-Length".to_string()),
    };
    // Consume the body so closing the connection does not reset it while
    // the client may still be reading the response.
    let mut remaining = body_len.saturating_sub(buf.len() - head_len);
    let mut chunk = [0u8; 8192];
    while remaining > 0 {
        match stream.read(&mut chunk[..remaining.min(8192)]) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => remaining -= n,
        }
    }
    Ok(Some(request))
}

fn write_response(stream: &mut dyn ReadWrite, status: u16, body: &Value) -> io::Result<()> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Unknown",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: application/json\r\n\
         Cache-Control: no-cache, private\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}
