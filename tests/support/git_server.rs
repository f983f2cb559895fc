//! A git server speaking the smart HTTP protocol, for integration tests.
//!
//! It is a real HTTP/1.1 server on 127.0.0.1 that runs `git http-backend` as
//! a CGI program for every request, the way Apache or nginx+fcgiwrap host
//! git. A real `git clone`, `fetch` or `push` against it therefore goes
//! through everything it would against a hosted server: the unauthenticated
//! first request, the 401 challenge, the credential helper, the retry with
//! credentials, protocol v2, gzip-compressed and chunked request bodies.
//!
//! Authentication is checked in front of the CGI on every request (the
//! `info/refs` discovery and the `git-upload-pack`/`git-receive-pack` POSTs
//! alike), because a hosted server does too, and a helper whose token is
//! only good for the first request must fail here as it would there. Accepted
//! are `Authorization: Bearer <token>` and `Authorization: Basic` with any
//! user name, the token as the password, when the `is_valid` callback given
//! to [`GitServer::start`] accepts the token. Anything else is answered 401
//! with both a Bearer and a Basic challenge: git from 2.46 on can answer the
//! Bearer one through a helper that supports `authtype`, older git only ever
//! sends Basic, and only when a challenge offers it.
//!
//! Every request is recorded ([`GitServer::requests`]) with the scheme and
//! the token it presented, so tests can check which token reached the server.
//!
//! What git does against it (2.39 and 2.47 alike, unless noted):
//!
//! - The first request of every git command carries no credentials; only
//!   its 401 makes git call the helper. With a user name and password, curl
//!   then spends one more unauthenticated request learning which scheme to
//!   use, so a Basic run starts with two 401s, a Bearer run with one.
//! - A 401 to credentials from a helper is final, on the discovery request
//!   (`fatal: Authentication failed for '<url>/'`) as on a later POST
//!   (`error: RPC failed; HTTP 401`): git calls `erase` with them and fails
//!   without asking the helper again. The next git command starts over with
//!   `get`.
//! - Before a POST larger than `http.postBuffer` (1 MiB; in practice a push
//!   with a sizeable pack) git sends a small probe POST to check the
//!   credentials, then the real one with a chunked body. git 2.47 leaves the
//!   Authorization header it builds from `authtype`/`credential` off that
//!   probe, so such a push fails with a Bearer helper; Basic works.

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The git whose `http-backend` serves requests unless
/// [`GitServer::start_with_git`] names another.
pub const DEFAULT_GIT: &str = "/usr/local/bin/git";

/// Realm of both challenges in a 401.
pub const REALM: &str = "acronis";

/// Decides whether a token (a Bearer token, or a Basic password) is accepted.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

const MAX_HEAD_BYTES: usize = 64 * 1024;
/// A push carries a whole pack; this is far above anything a test sends but
/// keeps a framing bug from eating all memory.
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;
const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;
/// How often blocked connection threads look at the shutdown flag; bounds how
/// long dropping the server takes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Generous because git may be slow to read a large response (it indexes the
/// pack as it arrives) and a test machine may be loaded.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
const IO_CHUNK: usize = 64 * 1024;

/// One request as the server answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRequest {
    pub method: String,
    /// The request target as sent, query string included
    /// (`/demo.git/info/refs?service=git-upload-pack`).
    pub path: String,
    /// `Some("Bearer")` or `Some("Basic")` whatever the case it was sent in,
    /// any other scheme verbatim, `None` without an `Authorization` header.
    pub scheme: Option<String>,
    /// The Bearer token, or the Basic password, whether valid or not. `None`
    /// without credentials or when they could not be decoded.
    pub credential: Option<String>,
    pub status: u16,
}

/// A smart HTTP git server on 127.0.0.1 at a random port, serving the bare
/// repositories under a root directory. Dropping it stops the server, kills
/// every running `git http-backend` (with the `upload-pack`/`receive-pack`
/// it started) and closes every connection.
pub struct GitServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

struct Shared {
    root: PathBuf,
    git: PathBuf,
    is_valid: TokenCheck,
    url: String,
    port: u16,
    shutdown: AtomicBool,
    requests: Mutex<Vec<GitRequest>>,
    /// Process group ids of the CGI processes not yet reaped. Each CGI leads
    /// its own group so that killing the group also kills the upload-pack or
    /// receive-pack it runs. A group leaves this set before its leader is
    /// reaped, so the id cannot have been reused when it is killed.
    cgi_groups: Mutex<HashSet<u32>>,
    /// Where `/api/...` requests go instead of git, so that one origin can
    /// be both an (Acronis) datacenter and a git host.
    api_upstream: Mutex<Option<SocketAddr>>,
}

impl GitServer {
    /// Serves the repositories under `root` (`root/NAME` at
    /// `url()/NAME`) with the `http-backend` of [`DEFAULT_GIT`].
    pub fn start(root: &Path, is_valid: TokenCheck) -> GitServer {
        GitServer::start_with_git(root, Path::new(DEFAULT_GIT), is_valid)
    }

    /// Like [`GitServer::start`], with the `http-backend` of `git`.
    pub fn start_with_git(root: &Path, git: &Path, is_valid: TokenCheck) -> GitServer {
        // GIT_PROJECT_ROOT must be absolute, and the CGI runs in another
        // working directory anyway.
        let root = fs::canonicalize(root)
            .unwrap_or_else(|err| panic!("git server: canonicalize the root {}: {err}", root.display()));
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("git server: bind a TCP listener on 127.0.0.1:0");
        let addr = listener.local_addr().expect("git server: read the listener's local address");
        let shared = Arc::new(Shared {
            root,
            git: git.to_path_buf(),
            is_valid,
            url: format!("http://127.0.0.1:{}", addr.port()),
            port: addr.port(),
            shutdown: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            cgi_groups: Mutex::new(HashSet::new()),
            api_upstream: Mutex::new(None),
        });
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept_thread = {
            let shared = Arc::clone(&shared);
            let connections = Arc::clone(&connections);
            thread::Builder::new()
                .name(format!("git-server-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared, connections))
                .expect("git server: spawn the accept thread")
        };
        GitServer { shared, addr, accept_thread: Some(accept_thread), connections }
    }

    /// Forwards every request under `/api/` to the HTTP server at
    /// `upstream_url` (`http://127.0.0.1:PORT`), unauthenticated by this
    /// server: that is how a test makes the git host its datacenter too.
    pub fn proxy_api_to(&self, upstream_url: &str) {
        let authority = upstream_url.trim_start_matches("http://").trim_end_matches('/');
        let addr: SocketAddr = authority.parse().expect("git server: upstream must be http://IP:PORT");
        *lock(&self.shared.api_upstream) = Some(addr);
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// The URL of the repository `root/name`, e.g. `repo_url("demo.git")`.
    pub fn repo_url(&self, name: &str) -> String {
        format!("{}/{}", self.shared.url, name.trim_start_matches('/'))
    }

    /// Every request whose head could be parsed, in the order they were
    /// answered.
    pub fn requests(&self) -> Vec<GitRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Requests answered 401, the unauthenticated first requests git always
    /// makes included (see the module documentation).
    pub fn unauthorized_count(&self) -> usize {
        lock(&self.shared.requests).iter().filter(|r| r.status == 401).count()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Connection threads block reading CGI output, which ends once the
        // CGI is gone. A CGI spawned after this sweep is impossible: spawning
        // happens under this lock, after checking the flag set above.
        for &group in lock(&self.shared.cgi_groups).iter() {
            kill_group(group);
        }
        // The accept loop blocks in accept(); a connection wakes it so it can
        // see the flag. If the connect fails the loop is already gone.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
        // Connection threads poll the flag, so these joins are bounded.
        let handles = std::mem::take(&mut *lock(&self.connections));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn record(&self, request: &Request, auth: &Auth, status: u16) {
        lock(&self.requests).push(GitRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            scheme: auth.scheme.clone(),
            credential: auth.credential.clone(),
            status,
        });
    }
}

/// A poisoned lock only means a connection thread panicked (and said so on
/// stderr); the data is still good for the test to report on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn kill_group(group: u32) {
    let Ok(group) = libc::pid_t::try_from(group) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions. The group's leader
    // has not been reaped (see `Shared::cgi_groups`), so the id is ours.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, connections: Arc<Mutex<Vec<JoinHandle<()>>>>) {
    for conn in listener.incoming() {
        if shared.is_shutting_down() {
            break;
        }
        let stream = match conn {
            Ok(stream) => stream,
            Err(err) => {
                // Typically EMFILE under load; back off rather than spin.
                eprintln!("git server: accept failed: {err}");
                thread::sleep(POLL_INTERVAL);
                continue;
            }
        };
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new().name("git-server-conn".to_string()).spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| serve_connection(&conn_shared, stream)));
            if let Err(payload) = outcome {
                eprintln!("git server bug: a connection thread panicked: {}", panic_message(&payload));
            }
        });
        match spawned {
            Ok(handle) => {
                let mut list = lock(&connections);
                list.retain(|h| !h.is_finished());
                list.push(handle);
            }
            Err(err) => eprintln!("git server: could not spawn a connection thread: {err}"),
        }
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1 requests

struct Request {
    method: String,
    target: String,
    /// True for HTTP/1.1, false for HTTP/1.0.
    http11: bool,
    /// Names lower-cased, values with surrounding whitespace removed.
    headers: Vec<(String, String)>,
    /// Whether the request framed a body (Content-Length or chunked), even
    /// an empty one; CGI distinguishes "no body" from "empty body".
    has_body: bool,
    /// Decoded from the transfer coding, still in its content coding.
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    fn has_connection_token(&self, token: &str) -> bool {
        self.header_values("connection")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn keep_alive(&self) -> bool {
        if self.http11 {
            !self.has_connection_token("close")
        } else {
            self.has_connection_token("keep-alive")
        }
    }

    fn path_and_query(&self) -> (&str, &str) {
        self.target.split_once('?').unwrap_or((&self.target, ""))
    }
}

enum ReadError {
    /// The peer went away (or the server is shutting down); nothing to
    /// answer.
    Closed,
    /// The request cannot be framed; answer and close the connection.
    Bad { status: u16, message: String },
}

fn bad(status: u16, message: impl Into<String>) -> ReadError {
    ReadError::Bad { status, message: message.into() }
}

/// A client connection with the bytes read from it but not consumed yet.
struct Conn<'a> {
    shared: &'a Shared,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn<'_> {
    /// Reads more bytes into `buf`. Ok(false) on EOF or shutdown.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.shared.is_shutting_down() {
                return Ok(false);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn fill_or_closed(&mut self) -> Result<(), ReadError> {
        match self.fill() {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(ReadError::Closed),
        }
    }

    /// The next line, without its CRLF.
    fn take_line(&mut self, limit: usize, what: &str) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line = self.buf[..pos].to_vec();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.buf.len() > limit {
                return Err(bad(400, format!("{what} longer than {limit} bytes")));
            }
            self.fill_or_closed()?;
        }
    }

    fn take_exact(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), ReadError> {
        while self.buf.len() < n {
            self.fill_or_closed()?;
        }
        out.extend(self.buf.drain(..n));
        Ok(())
    }

    /// Ok(None) when the peer closes (or the server shuts down) between
    /// requests.
    fn read_head(&mut self) -> Result<Option<Request>, ReadError> {
        let head_len = loop {
            // RFC 9112 2.2: ignore empty lines before a request line.
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                if pos + 4 > MAX_HEAD_BYTES {
                    return Err(bad(431, "request head exceeds 64 KiB"));
                }
                break pos + 4;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(bad(431, "request head exceeds 64 KiB"));
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) | Err(_) if self.buf.is_empty() => return Ok(None),
                Ok(false) | Err(_) => return Err(ReadError::Closed),
            }
        };
        let head: Vec<u8> = self.buf.drain(..head_len).collect();
        let Ok(head) = std::str::from_utf8(&head[..head_len - 4]) else {
            return Err(bad(400, "request head is not valid UTF-8"));
        };
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let parts: Vec<&str> = request_line.split(' ').collect();
        let [method, target, version] = parts[..] else {
            return Err(bad(400, format!("bad request line {request_line:?}")));
        };
        if method.is_empty() || !method.bytes().all(is_token_char) {
            return Err(bad(400, format!("bad method in {request_line:?}")));
        }
        if !target.starts_with('/') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad(400, format!("bad request target {target:?}")));
        }
        let http11 = match version {
            "HTTP/1.1" => true,
            "HTTP/1.0" => false,
            v if v.starts_with("HTTP/") => {
                return Err(bad(505, format!("unsupported version {v:?}")));
            }
            _ => return Err(bad(400, format!("bad request line {request_line:?}"))),
        };
        let mut headers = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                return Err(bad(400, "obsolete header line folding"));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(bad(400, format!("header line without a colon: {line:?}")));
            };
            if name.is_empty() || !name.bytes().all(is_token_char) {
                return Err(bad(400, format!("bad header name {name:?}")));
            }
            headers.push((name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
        }
        Ok(Some(Request {
            method: method.to_string(),
            target: target.to_string(),
            http11,
            headers,
            has_body: false,
            body: Vec::new(),
        }))
    }

    /// Reads the body `request`'s head announces. Git sends
    /// `Transfer-Encoding: chunked` whenever a request outgrows
    /// `http.postBuffer` (1 MiB by default): pushes of any size pack, fetches
    /// with long negotiations.
    fn read_body(&mut self, request: &mut Request) -> Result<(), ReadError> {
        let codings: Vec<String> = request
            .header_values("transfer-encoding")
            .iter()
            .flat_map(|v| v.split(','))
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect();
        let lengths = request.header_values("content-length");
        let chunked = match codings.as_slice() {
            [] => false,
            [only] if only == "chunked" => true,
            _ => {
                return Err(bad(501, format!("unsupported Transfer-Encoding {codings:?}; only chunked is")));
            }
        };
        // RFC 9112 6.3: a request with both is a smuggling attempt or a bug.
        if chunked && !lengths.is_empty() {
            return Err(bad(400, "both Transfer-Encoding and Content-Length"));
        }
        let length = match lengths.first() {
            None => None,
            Some(first) => {
                if lengths.iter().any(|v| v != first) {
                    return Err(bad(400, "conflicting Content-Length headers"));
                }
                if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(400, format!("bad Content-Length {first:?}")));
                }
                match first.parse::<usize>() {
                    Ok(n) if n <= MAX_BODY_BYTES => Some(n),
                    _ => return Err(bad(413, "request body exceeds 256 MiB")),
                }
            }
        };
        if !chunked && length.is_none() {
            return Ok(());
        }
        request.has_body = true;
        let body_pending = chunked || length.is_some_and(|n| n > self.buf.len());
        let expects_continue =
            request.header_values("expect").iter().any(|v| v.eq_ignore_ascii_case("100-continue"));
        // curl waits (up to a second) for this before sending a body it
        // announced with `Expect: 100-continue`.
        if body_pending
            && expects_continue
            && request.http11
            && self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return Err(ReadError::Closed);
        }
        let mut body = Vec::new();
        if let Some(n) = length {
            self.take_exact(n, &mut body)?;
        } else {
            self.read_chunked(&mut body)?;
        }
        request.body = body;
        Ok(())
    }

    fn read_chunked(&mut self, body: &mut Vec<u8>) -> Result<(), ReadError> {
        loop {
            let line = self.take_line(MAX_CHUNK_LINE_BYTES, "chunk size line")?;
            // Chunk extensions (";name=value") carry nothing git uses.
            let size_field = line.split(|&b| b == b';').next().unwrap_or_default();
            let size_field = size_field.trim_ascii();
            if size_field.is_empty() || !size_field.iter().all(u8::is_ascii_hexdigit) {
                return Err(bad(400, format!("bad chunk size {:?}", String::from_utf8_lossy(&line))));
            }
            let size = std::str::from_utf8(size_field)
                .ok()
                .and_then(|s| usize::from_str_radix(s, 16).ok())
                .filter(|&n| n <= MAX_BODY_BYTES - body.len())
                .ok_or_else(|| bad(413, "request body exceeds 256 MiB"))?;
            if size == 0 {
                // Trailer fields, if any, are dropped: CGI has no way to
                // pass them on.
                while !self.take_line(MAX_HEAD_BYTES, "trailer section")?.is_empty() {}
                return Ok(());
            }
            self.take_exact(size, body)?;
            let mut crlf = Vec::with_capacity(2);
            self.take_exact(2, &mut crlf)?;
            if crlf != b"\r\n" {
                return Err(bad(400, "chunk data not followed by CRLF"));
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    if shared.is_shutting_down() {
        return;
    }
    // Reads time out so the thread notices shutdown even while the client
    // holds an idle keep-alive connection open.
    if stream.set_read_timeout(Some(POLL_INTERVAL)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let peer = match stream.peer_addr() {
        Ok(addr) => addr.ip(),
        Err(_) => return,
    };
    let mut conn = Conn { shared, stream, buf: Vec::new() };
    loop {
        let mut request = match conn.read_head() {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Closed) => return,
            Err(ReadError::Bad { status, message }) => {
                eprintln!("git server: malformed request: {message}");
                let _ = write_simple(&mut conn.stream, true, status, &[], &message, false);
                return;
            }
        };
        match conn.read_body(&mut request) {
            Ok(()) => {}
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad { status, message }) => {
                eprintln!("git server: malformed request {} {}: {message}", request.method, request.target);
                shared.record(&request, &authenticate(shared, &request), status);
                let _ = write_simple(&mut conn.stream, request.http11, status, &[], &message, false);
                return;
            }
        }
        if request.target.starts_with("/api/") {
            let upstream = *lock(&shared.api_upstream);
            if let Some(upstream) = upstream {
                let _ = forward(upstream, &request, &mut conn.stream);
                return;
            }
        }
        let keep_alive = request.keep_alive();
        let auth = authenticate(shared, &request);
        let reusable = if auth.accepted {
            respond_with_cgi(shared, &mut conn.stream, request, &auth, peer, keep_alive)
        } else {
            shared.record(&request, &auth, 401);
            let challenges = [
                ("WWW-Authenticate", format!("Bearer realm=\"{REALM}\"")),
                ("WWW-Authenticate", format!("Basic realm=\"{REALM}\"")),
            ];
            write_simple(
                &mut conn.stream,
                request.http11,
                401,
                &challenges,
                "authentication required\n",
                keep_alive,
            )
            .is_ok()
        };
        if !reusable || !keep_alive {
            return;
        }
    }
}

/// Relays one request to `upstream` with `Connection: close` and copies the
/// whole answer back; the client connection is closed afterwards.
fn forward(upstream: SocketAddr, request: &Request, client: &mut TcpStream) -> io::Result<()> {
    let mut up = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !matches!(name.as_str(), "connection" | "keep-alive" | "transfer-encoding" | "content-length") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if request.has_body {
        head.push_str(&format!("content-length: {}\r\n", request.body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&request.body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    client.write_all(&answer)
}

// ---------------------------------------------------------------------------
// Authentication

struct Auth {
    scheme: Option<String>,
    credential: Option<String>,
    /// For REMOTE_USER: http-backend refuses pushes without one.
    user: Option<String>,
    accepted: bool,
}

fn authenticate(shared: &Shared, request: &Request) -> Auth {
    let mut auth = Auth { scheme: None, credential: None, user: None, accepted: false };
    let values = request.header_values("authorization");
    let Some(value) = values.first() else {
        return auth;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("Bearer") {
        auth.scheme = Some("Bearer".to_string());
        if !rest.is_empty() {
            auth.credential = Some(rest.to_string());
            // A bearer token names no user, but http-backend only needs
            // some REMOTE_USER to allow pushes.
            auth.user = Some("bearer".to_string());
        }
    } else if scheme.eq_ignore_ascii_case("Basic") {
        auth.scheme = Some("Basic".to_string());
        let decoded = STANDARD.decode(rest).ok().and_then(|bytes| String::from_utf8(bytes).ok());
        if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            auth.credential = Some(password.to_string());
            auth.user = Some(user.to_string());
        }
    } else {
        auth.scheme = Some(scheme.to_string());
    }
    // Two Authorization headers mean a confused client; which one a real
    // server would pick is undefined, so neither is honoured.
    auth.accepted =
        values.len() == 1 && auth.credential.as_deref().is_some_and(|token| (shared.is_valid)(token));
    auth
}

// ---------------------------------------------------------------------------
// CGI

/// A running `git http-backend`. Dropping it without [`Cgi::wait`] kills its
/// process group and reaps it.
struct Cgi<'a> {
    shared: &'a Shared,
    child: Child,
    group: u32,
    reaped: bool,
}

impl Cgi<'_> {
    fn wait(mut self) -> io::Result<ExitStatus> {
        lock(&self.shared.cgi_groups).remove(&self.group);
        self.reaped = true;
        self.child.wait()
    }
}

impl Drop for Cgi<'_> {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        {
            let mut groups = lock(&self.shared.cgi_groups);
            kill_group(self.group);
            groups.remove(&self.group);
        }
        let _ = self.child.wait();
    }
}

/// Runs the request through `git http-backend` and streams its answer back.
/// Returns whether the connection can carry another request.
fn respond_with_cgi(
    shared: &Shared,
    stream: &mut TcpStream,
    mut request: Request,
    auth: &Auth,
    peer: IpAddr,
    keep_alive: bool,
) -> bool {
    let http11 = request.http11;
    let mut cgi = match spawn_cgi(shared, &request, auth, peer) {
        Ok(cgi) => cgi,
        Err(err) => {
            let message = format!("cannot run {} http-backend: {err}\n", shared.git.display());
            eprintln!("git server: {}", message.trim_end());
            shared.record(&request, auth, 500);
            return write_simple(stream, http11, 500, &[], &message, keep_alive).is_ok();
        }
    };

    // The body goes in from another thread: http-backend may start
    // answering before it has read all of it, and a full pipe each way
    // would deadlock a single thread.
    let stdin = cgi.child.stdin.take();
    let body = std::mem::take(&mut request.body);
    let feeder = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // EPIPE is expected when http-backend answers without reading
            // the body (a 404 for a POST, say); its answer says what went
            // wrong.
            let _ = stdin.write_all(&body);
        }
    });
    let mut stderr = cgi.child.stderr.take().expect("git server: CGI stderr is piped");
    let stderr_reader = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let mut stdout = cgi.child.stdout.take().expect("git server: CGI stdout is piped");

    let relay = relay_cgi_output(shared, stream, &request, auth, &mut stdout, keep_alive);
    drop(stdout);
    let reusable = match relay {
        // Killing it also unblocks the feeder and the stderr reader, which
        // are joined below.
        Relay::Abandon { reusable } => {
            drop(cgi);
            reusable
        }
        Relay::Streamed { status, chunked, reusable } => {
            let exit = cgi.wait();
            // http-backend's die() answers 500 when it fails before its
            // header, so a failure after a non-2xx status has been reported
            // already; after a 2xx the body may be cut short, and leaving
            // out the last chunk is how HTTP/1.1 tells the client so.
            let complete = !(200..300).contains(&status) || exit.as_ref().is_ok_and(ExitStatus::success);
            if !complete {
                eprintln!(
                    "git server: http-backend failed ({exit:?}) after answering {status} to {} {}",
                    request.method, request.target
                );
            }
            complete && (!chunked || finish_chunked(stream).is_ok()) && reusable
        }
    };
    let _ = feeder.join();
    if let Ok(text) = stderr_reader.join()
        && !text.is_empty()
    {
        eprintln!(
            "git server: http-backend stderr for {} {}:\n{}",
            request.method,
            request.target,
            String::from_utf8_lossy(&text).trim_end()
        );
    }
    reusable
}

fn spawn_cgi<'a>(shared: &'a Shared, request: &Request, auth: &Auth, peer: IpAddr) -> io::Result<Cgi<'a>> {
    let (path, query) = request.path_and_query();
    let mut cmd = Command::new(&shared.git);
    cmd.arg("http-backend")
        .current_dir(&shared.root)
        // Whatever the test process's environment holds (GIT_DIR, a user's
        // config through HOME) must not change how the server behaves.
        .env_clear()
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", if request.http11 { "HTTP/1.1" } else { "HTTP/1.0" })
        .env("SERVER_NAME", "127.0.0.1")
        .env("SERVER_PORT", shared.port.to_string())
        .env("REQUEST_METHOD", &request.method)
        .env("SCRIPT_NAME", "")
        .env("PATH_INFO", percent_decode(path))
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", peer.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    if let Some(user) = &auth.user {
        cmd.env("REMOTE_USER", user);
    }
    if let Some(scheme) = &auth.scheme {
        cmd.env("AUTH_TYPE", scheme);
    }
    if request.has_body {
        cmd.env("CONTENT_LENGTH", request.body.len().to_string());
    }
    if let Some(content_type) = request.header("content-type") {
        cmd.env("CONTENT_TYPE", content_type);
    }
    // The protocol v2 request travels in this header; http-backend reads it
    // from GIT_PROTOCOL (newer versions also from HTTP_GIT_PROTOCOL, set
    // below with the other headers).
    if let Some(protocol) = request.header("git-protocol") {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    for (name, value) in &request.headers {
        // RFC 3875 4.1.18: credentials stay with the server; the framing
        // headers are the server's business (the body is already decoded).
        if matches!(
            name.as_str(),
            "authorization"
                | "proxy-authorization"
                | "content-length"
                | "content-type"
                | "transfer-encoding"
                | "connection"
                | "expect"
        ) || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            continue;
        }
        // HTTP_CONTENT_ENCODING among them: http-backend inflates gzip
        // request bodies, which git sends for fetch requests over 1 KiB.
        let var = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
        cmd.env(var, value);
    }

    // Spawning under the lock, after checking the flag, leaves Drop no
    // window in which a CGI could start unseen.
    let mut groups = lock(&shared.cgi_groups);
    if shared.is_shutting_down() {
        return Err(io::Error::other("the server is shutting down"));
    }
    let child = cmd.spawn()?;
    let group = child.id();
    groups.insert(group);
    Ok(Cgi { shared, child, group, reaped: false })
}

enum Relay {
    /// The CGI's output ended and went out in full, except for the last
    /// chunk when `chunked`, which must wait for the CGI's exit status.
    Streamed { status: u16, chunked: bool, reusable: bool },
    /// The CGI is of no further use (the client is gone, or the CGI's output
    /// is not a CGI response): kill it.
    Abandon { reusable: bool },
}

fn relay_cgi_output(
    shared: &Shared,
    stream: &mut TcpStream,
    request: &Request,
    auth: &Auth,
    stdout: &mut impl Read,
    keep_alive: bool,
) -> Relay {
    let http11 = request.http11;
    let mut out = Vec::new();
    let head_end = loop {
        if let Some(end) = cgi_head_end(&out) {
            break Some(end);
        }
        if out.len() > MAX_HEAD_BYTES {
            break None;
        }
        let mut chunk = [0u8; 16 * 1024];
        match stdout.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break None,
        }
    };
    let Some(head_end) = head_end else {
        let message = format!("http-backend gave no valid CGI header ({} bytes of output)\n", out.len());
        eprintln!("git server: {} {}: {}", request.method, request.target, message.trim_end());
        shared.record(request, auth, 502);
        let reusable = write_simple(stream, http11, 502, &[], &message, keep_alive).is_ok();
        return Relay::Abandon { reusable };
    };
    let cgi_head = String::from_utf8_lossy(&out[..head_end]).into_owned();
    let mut body_start = out.split_off(head_end);
    if let Some(pos) = find(&body_start, b"\n") {
        // Drop the empty line ending the CGI header.
        body_start.drain(..=pos);
    }

    let mut status = 200;
    let mut reason = None;
    let mut headers = Vec::new();
    for line in cgi_head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("Status") {
            let (code, text) = value.split_once(' ').unwrap_or((value, ""));
            status = code.parse().unwrap_or(500);
            reason = Some(text.trim().to_string()).filter(|t| !t.is_empty());
        } else if !["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            headers.push((name.trim().to_string(), value.to_string()));
        }
    }
    shared.record(request, auth, status);

    let head_only = request.method == "HEAD";
    // The CGI's length is unknown until it exits: chunked framing on
    // HTTP/1.1, the end of the connection on HTTP/1.0.
    let chunked = http11 && !head_only;
    let keep_alive = keep_alive && http11;
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason.as_deref().unwrap_or(reason_phrase(status)));
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    head.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
    if stream.write_all(head.as_bytes()).is_err() {
        return Relay::Abandon { reusable: false };
    }
    if head_only {
        // Keeps http-backend from blocking on a full pipe before it exits.
        if io::copy(stdout, &mut io::sink()).is_err() {
            return Relay::Abandon { reusable: false };
        }
        return Relay::Streamed { status, chunked: false, reusable: keep_alive };
    }

    let mut pending = body_start;
    let mut chunk = vec![0u8; IO_CHUNK];
    loop {
        if !pending.is_empty() {
            let sent = if chunked { write_chunk(stream, &pending) } else { stream.write_all(&pending) };
            if sent.is_err() {
                return Relay::Abandon { reusable: false };
            }
            pending.clear();
        }
        match stdout.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Relay::Abandon { reusable: false },
        }
    }
    Relay::Streamed {
        status,
        chunked,
        // Without chunks, only closing the connection ends the body.
        reusable: chunked && keep_alive,
    }
}

/// Offset of the empty line that ends a CGI header. RFC 3875 allows bare LF
/// line ends; http-backend writes CRLF.
fn cgi_head_end(out: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in out.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = &out[line_start..i];
        if line.is_empty() || line == b"\r" {
            return Some(line_start);
        }
        line_start = i + 1;
    }
    None
}

fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"\r\n");
    stream.write_all(&framed)
}

fn finish_chunked(stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(b"0\r\n\r\n")
}

/// A complete response with a small text body.
fn write_simple(
    stream: &mut TcpStream,
    http11: bool,
    status: u16,
    headers: &[(&str, String)],
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    head.push_str(if keep_alive && http11 {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    stream.write_all(&bytes)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// PATH_INFO is the decoded path (RFC 3875 4.1.5). Decoding to bytes rather
/// than a `String` keeps a non-UTF-8 repository name intact; an invalid
/// escape stays as it was.
fn percent_decode(path: &str) -> OsString {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(hi, lo)| hi << 4 | lo),
            _ => None,
        };
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    OsStr::from_bytes(&out).to_os_string()
}

// ---------------------------------------------------------------------------
// Repositories

/// Creates `root/name` as a bare repository containing one commit on `main`
/// with a README; returns its path. Built with [`DEFAULT_GIT`]; for a given
/// `name` the commit id is the same on every run (dates and identities are
/// fixed), whatever the user's git configuration.
pub fn make_bare_repo(root: &Path, name: &str) -> PathBuf {
    let repo = root.join(name);
    let home = scratch_home();
    let git = |args: &[&str], stdin: Option<&[u8]>| -> String {
        let mut cmd = Command::new(DEFAULT_GIT);
        cmd.args(args)
            .env_clear()
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_AUTHOR_DATE", "1700000000 +0000")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_COMMITTER_DATE", "1700000000 +0000")
            .env("LC_ALL", "C")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let mut child =
            cmd.spawn().unwrap_or_else(|err| panic!("make_bare_repo: run {DEFAULT_GIT} {args:?}: {err}"));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("make_bare_repo: git stdin is piped");
            pipe.write_all(input)
                .unwrap_or_else(|err| panic!("make_bare_repo: write to git {args:?}: {err}"));
        }
        let output = child
            .wait_with_output()
            .unwrap_or_else(|err| panic!("make_bare_repo: wait for git {args:?}: {err}"));
        assert!(
            output.status.success(),
            "make_bare_repo: git {args:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };

    let repo_arg = repo.to_str().expect("make_bare_repo: repository path is UTF-8");
    git(&["-c", "init.defaultBranch=main", "init", "--quiet", "--bare", repo_arg], None);
    let in_repo =
        |args: &[&str], stdin: Option<&[u8]>| git(&[&["--git-dir", repo_arg], args].concat(), stdin);
    let readme = format!("# {name}\n\nA repository served by the test git server.\n");
    let blob = in_repo(&["hash-object", "-w", "--stdin"], Some(readme.as_bytes()));
    let tree = in_repo(&["mktree"], Some(format!("100644 blob {blob}\tREADME.md\n").as_bytes()));
    let commit = in_repo(&["commit-tree", &tree, "-m", "Initial commit"], None);
    in_repo(&["update-ref", "refs/heads/main", &commit], None);
    let _ = fs::remove_dir_all(&home);
    repo
}

/// An empty directory to serve as HOME, so no `~/.gitconfig` applies.
fn scratch_home() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "git-server-home-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("make_bare_repo: create {}: {err}", dir.display()));
    dir
}
