//! A fake Acronis Cyber Protect Cloud datacenter for integration tests.
//!
//! It is a real HTTP/1.1 server on 127.0.0.1, so the code under test runs its
//! whole HTTP stack (URL joining, header and body encoding, connection reuse,
//! timeouts) exactly as it would against a real datacenter. It fakes:
//!
//! - the token endpoint, `POST /api/2/idp/token` (client credentials grant,
//!   `client_secret_basic`, answer with an absolute `expires_on`);
//! - `GET /api/2/clients/{id}`, the "does this token work" call;
//! - `POST /api/2/clients` and `DELETE /api/2/clients/{id}`, which rotating an
//!   API client needs (create the successor, then delete the old client);
//! - `GET /api/agent_manager/v2/agents`;
//! - the platform's error shapes: OAuth2 style (`{"error":"invalid_client",...}`)
//!   on the token endpoint, `{"error":{"code":..,"message":..,"domain":..}}`
//!   everywhere else.
//!
//! Tests cannot reach the real platform, so this fake is the only thing that
//! stands between a subtly wrong request (the secret sent as a form field, a
//! missing content type, a doubled slash from an unnormalised datacenter URL)
//! and a helper that fails in production. A lenient fake would let such a
//! client pass, so every deviation from the documented token request is
//! answered 400 *and* recorded in [`FakeDatacenter::violations`]: tests assert
//! that list is empty, which catches deviations even when the client copes
//! with the 400 (for instance by retrying differently). The same holds for the
//! body and content type of `POST /api/2/clients` (400 or 415).
//!
//! Every client belongs to a tenant, and a token only acts inside its
//! client's tenant: reading, creating or deleting a client of another tenant
//! is answered 403, which is how a helper pointed at the wrong tenant fails.
//!
//! Server-side conditions (outages, throttling, malformed answers, hangs) are
//! simulated on the token endpoint with [`Behavior`] and
//! [`FakeDatacenter::set_delay`]; on any [`Endpoint`] with
//! [`FakeDatacenter::fail_next`] and [`FakeDatacenter::delay_endpoint`].
//! Propagation of a new client's credentials, which is not instantaneous on a
//! distributed platform, is simulated with
//! [`FakeDatacenter::set_new_client_activation_delay`] and
//! [`FakeDatacenter::reject_client_tokens_for`].

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

/// Path of the token endpoint, relative to the datacenter URL.
pub const TOKEN_PATH: &str = "/api/2/idp/token";

/// Token lifetime the platform documents (two hours).
pub const DEFAULT_TOKEN_LIFETIME: i64 = 7200;

/// Tenant of the clients registered with [`FakeDatacenter::add_client`].
pub const DEFAULT_TENANT: &str = "tenant-1";

/// Collection of API clients: `POST` creates one, `{CLIENTS_PATH}/{id}` is one.
pub const CLIENTS_PATH: &str = "/api/2/clients";

const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How often blocked connection threads look at the shutdown flag; bounds how
/// long dropping the server takes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const PLATFORM_DOMAIN: &str = "PlatformAccountServer";
/// `created_by` of the clients registered by the test rather than created
/// through the API: a stand-in for the administrator who made them.
const ADMIN_USER_ID: &str = "00000000-0000-4000-8000-000000000001";

/// How the token endpoint answers a request that passed the protocol checks.
/// Protocol violations are always answered 400, whatever the behavior.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Check the credentials and issue a token, like the platform.
    Normal,
    /// Answer this status, body and extra headers verbatim. `Content-Length`
    /// and `Connection` are always written by the server; entries with those
    /// names (or `Transfer-Encoding`) in `headers` are ignored so the framing
    /// stays valid. No body is sent for 204 and 304.
    Status { status: u16, body: String, content_type: &'static str, headers: Vec<(String, String)> },
    /// 200, `application/json`, this body verbatim (malformed JSON, missing
    /// fields, a token without expiry...).
    RawBody(String),
    /// Read the request, then close the connection without answering.
    DropConnection,
    /// Read the request, then never answer; the connection is closed when the
    /// server is dropped.
    Hang,
    /// The first `times` token requests are answered `status` with an OAuth2
    /// style JSON error (no `Retry-After`: use `Status` to test that), the
    /// following ones as `Normal`. The count restarts at each `set_behavior`.
    FailTimes { times: usize, status: u16 },
    /// 200 with this body, announced in full by `Content-Length` but sent one
    /// byte per `interval` (a slow-loris answer).
    SlowBody { body: String, interval: Duration },
}

/// An endpoint of the fake, for fault injection and call counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /api/2/idp/token`.
    Token,
    /// `POST /api/2/clients`.
    CreateClient,
    /// `GET /api/2/clients/{id}`.
    GetClient,
    /// `DELETE /api/2/clients/{id}`.
    DeleteClient,
}

impl Endpoint {
    const COUNT: usize = 4;

    fn index(self) -> usize {
        self as usize
    }
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent, query string included.
    pub path: String,
    /// Header names lower-cased, values as sent (surrounding whitespace
    /// removed), in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A fake datacenter listening on 127.0.0.1 at a random port. Dropping it
/// stops the server and closes every connection (hanging ones included).
pub struct FakeDatacenter {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

struct Shared {
    state: Mutex<State>,
    shutdown: AtomicBool,
    url: String,
    /// Makes every token unique even if two random signatures collide.
    token_serial: AtomicU64,
}

struct Client {
    secret: String,
    /// Changes on every secret reset; a token is valid only for the
    /// generation it was issued to.
    generation: u64,
    tenant_id: String,
    name: String,
    /// As `GET /api/2/clients/{id}` reports it: the creating client for
    /// clients created through the API.
    created_by: String,
    created_at: i64,
    last_access_at: Option<i64>,
    /// Until then the token endpoint refuses the client's correct
    /// credentials, like a platform whose new client has not reached every
    /// node yet.
    active_from: Option<Instant>,
}

/// Per-endpoint counters and injected faults.
#[derive(Clone, Default)]
struct EndpointState {
    /// Requests received, whatever their outcome (counted on arrival, before
    /// any delay).
    calls: usize,
    delay: Duration,
    /// The next `fail_remaining` calls are answered `fail_status`.
    fail_remaining: usize,
    fail_status: u16,
}

struct IssuedToken {
    token: String,
    client_id: String,
    generation: u64,
    expires_on: i64,
}

struct State {
    clients: HashMap<String, Client>,
    issued: Vec<IssuedToken>,
    next_generation: u64,
    token_lifetime: i64,
    behavior: Behavior,
    failures_served: usize,
    /// Indexed by [`Endpoint::index`]; the token endpoint's entry holds what
    /// `set_delay` sets and `exchanges` reads.
    endpoints: [EndpointState; Endpoint::COUNT],
    new_client_activation_delay: Duration,
    new_client_rejections: usize,
    /// Client id -> how many more valid token requests to refuse.
    token_rejections: HashMap<String, usize>,
    created: Vec<String>,
    deleted: Vec<String>,
    violations: Vec<String>,
    requests: Vec<RecordedRequest>,
}

impl FakeDatacenter {
    pub fn start() -> FakeDatacenter {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("fake datacenter: bind a TCP listener on 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake datacenter: read the listener's local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                clients: HashMap::new(),
                issued: Vec::new(),
                next_generation: 1,
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                behavior: Behavior::Normal,
                failures_served: 0,
                endpoints: Default::default(),
                new_client_activation_delay: Duration::ZERO,
                new_client_rejections: 0,
                token_rejections: HashMap::new(),
                created: Vec::new(),
                deleted: Vec::new(),
                violations: Vec::new(),
                requests: Vec::new(),
            }),
            shutdown: AtomicBool::new(false),
            url: format!("http://127.0.0.1:{}", addr.port()),
            token_serial: AtomicU64::new(0),
        });
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept_thread = {
            let shared = Arc::clone(&shared);
            let connections = Arc::clone(&connections);
            thread::Builder::new()
                .name(format!("fake-dc-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared, connections))
                .expect("fake datacenter: spawn the accept thread")
        };
        FakeDatacenter { shared, addr, accept_thread: Some(accept_thread), connections }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Registers a valid API client in [`DEFAULT_TENANT`], named
    /// `fake client {client_id}`. Registering an existing id again replaces
    /// it, invalidating its tokens like a secret reset.
    pub fn add_client(&self, client_id: &str, secret: &str) {
        self.add_client_in(DEFAULT_TENANT, client_id, secret, &format!("fake client {client_id}"));
    }

    /// [`add_client`](Self::add_client) in a given tenant, with a given
    /// `data.client_name`. The client works at once (no activation delay).
    pub fn add_client_in(&self, tenant_id: &str, client_id: &str, secret: &str, client_name: &str) {
        let mut st = self.state();
        let generation = st.new_generation();
        let created_at = st.clients.get(client_id).map_or_else(unix_now, |c| c.created_at);
        st.clients.insert(
            client_id.to_string(),
            Client {
                secret: secret.to_string(),
                generation,
                tenant_id: tenant_id.to_string(),
                name: client_name.to_string(),
                created_by: ADMIN_USER_ID.to_string(),
                created_at,
                last_access_at: None,
                active_from: None,
            },
        );
    }

    /// Deletes a client; its tokens stop working. Panics if it is unknown.
    /// Unlike `DELETE /api/2/clients/{id}`, not listed in `deleted_clients`.
    pub fn remove_client(&self, client_id: &str) {
        let removed = {
            let mut st = self.state();
            st.token_rejections.remove(client_id);
            st.clients.remove(client_id).is_some()
        };
        if !removed {
            panic!("fake datacenter: remove_client({client_id:?}): no such client");
        }
    }

    /// A secret reset: the old secret and all tokens issued to the client so
    /// far become invalid. Panics if the client is unknown.
    pub fn set_secret(&self, client_id: &str, secret: &str) {
        let mut st = self.state();
        let generation = st.new_generation();
        let client = st
            .clients
            .get_mut(client_id)
            .unwrap_or_else(|| panic!("fake datacenter: set_secret({client_id:?}): no such client"));
        client.secret = secret.to_string();
        client.generation = generation;
    }

    /// Tokens issued from now on expire `seconds` after issue (zero or
    /// negative: already expired). Tokens issued before keep their expiry.
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.state().token_lifetime = seconds;
    }

    /// Applies to the token endpoint only.
    pub fn set_behavior(&self, b: Behavior) {
        let mut st = self.state();
        st.behavior = b;
        st.failures_served = 0;
    }

    /// Delay before the token endpoint answers (or drops, or hangs). The same
    /// setting as `delay_endpoint(Endpoint::Token, d)`.
    pub fn set_delay(&self, d: Duration) {
        self.delay_endpoint(Endpoint::Token, d);
    }

    /// Token-endpoint requests received, whatever their outcome (counted on
    /// arrival, before any delay). Same as `endpoint_calls(Endpoint::Token)`.
    pub fn exchanges(&self) -> usize {
        self.endpoint_calls(Endpoint::Token)
    }

    /// Requests received by that endpoint, whatever their outcome (counted on
    /// arrival, before any delay). Every request to the token path counts for
    /// `Token`, whatever its method (a wrong method is a violation there);
    /// the other endpoints count only requests with their method, so
    /// `PUT /api/2/clients/{id}` (405) counts nowhere.
    pub fn endpoint_calls(&self, endpoint: Endpoint) -> usize {
        self.state().endpoints[endpoint.index()].calls
    }

    /// Delay before that endpoint answers, whatever the answer. For the token
    /// endpoint this is [`set_delay`](Self::set_delay).
    pub fn delay_endpoint(&self, endpoint: Endpoint, d: Duration) {
        self.state().endpoints[endpoint.index()].delay = d;
    }

    /// The next `times` calls of that endpoint are answered `status` with
    /// the endpoint's error shape (OAuth2 style on the token endpoint, the
    /// platform's elsewhere), replacing any failures still pending there.
    ///
    /// Requests that break the documented protocol are still answered 400 (or
    /// 415) and recorded as violations, without using up a failure; otherwise
    /// the failure comes before any authentication, like an overloaded front
    /// end. On the token endpoint this takes precedence over [`Behavior`],
    /// and does not affect its `FailTimes` count.
    pub fn fail_next(&self, endpoint: Endpoint, times: usize, status: u16) {
        let mut st = self.state();
        let state = &mut st.endpoints[endpoint.index()];
        state.fail_remaining = times;
        state.fail_status = status;
    }

    /// The next `times` token requests carrying this client's otherwise valid
    /// credentials are answered 401 `invalid_client`, exactly as a wrong
    /// secret would be: credentials that do not verify for a while. Requests
    /// that would fail anyway (wrong secret, injected failure, a `Behavior`
    /// other than `Normal`) do not use up the count. Replaces any count still
    /// pending. Panics if the client is unknown.
    pub fn reject_client_tokens_for(&self, client_id: &str, times: usize) {
        let mut st = self.state();
        if !st.clients.contains_key(client_id) {
            // Unlocked first, so the panic does not poison the state.
            drop(st);
            panic!("fake datacenter: reject_client_tokens_for({client_id:?}): no such client");
        }
        st.token_rejections.insert(client_id.to_string(), times);
    }

    /// Clients created through `POST /api/2/clients` from now on exist at
    /// once, but the token endpoint refuses their credentials (401
    /// `invalid_client`) until `d` after creation, like a platform still
    /// propagating them. Zero (the default) means they work at once.
    pub fn set_new_client_activation_delay(&self, d: Duration) {
        self.state().new_client_activation_delay = d;
    }

    /// Like [`set_new_client_activation_delay`](Self::set_new_client_activation_delay)
    /// counted in requests instead of time, for tests that must not depend
    /// on timing: each client created through the API from now on has its
    /// first `times` valid token requests refused, as with
    /// [`reject_client_tokens_for`](Self::reject_client_tokens_for).
    pub fn set_new_client_rejections(&self, times: usize) {
        self.state().new_client_rejections = times;
    }

    /// Ids of the existing clients, sorted.
    pub fn clients(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state().clients.keys().cloned().collect();
        ids.sort();
        ids
    }

    pub fn client_exists(&self, client_id: &str) -> bool {
        self.state().clients.contains_key(client_id)
    }

    /// Whether `secret` is the client's current secret (false for an unknown
    /// client). The secret of a client created through the API is otherwise
    /// only in the 201 answer.
    pub fn client_secret_is(&self, client_id: &str, secret: &str) -> bool {
        self.state().clients.get(client_id).is_some_and(|c| c.secret == secret)
    }

    /// Ids of the clients created through `POST /api/2/clients`, oldest first
    /// (deleted ones included).
    pub fn created_clients(&self) -> Vec<String> {
        self.state().created.clone()
    }

    /// Ids of the clients deleted through `DELETE /api/2/clients/{id}`, in
    /// order (not those removed with [`remove_client`](Self::remove_client)).
    pub fn deleted_clients(&self) -> Vec<String> {
        self.state().deleted.clone()
    }

    /// Tokens issued.
    pub fn successful_exchanges(&self) -> usize {
        self.state().issued.len()
    }

    /// Access tokens issued, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state().issued.iter().map(|t| t.token.clone()).collect()
    }

    pub fn last_token(&self) -> Option<String> {
        self.state().issued.last().map(|t| t.token.clone())
    }

    /// The `expires_on` the token was issued with, if the fake issued it.
    pub fn token_expires_on(&self, token: &str) -> Option<i64> {
        self.state().issued.iter().find(|t| t.token == token).map(|t| t.expires_on)
    }

    /// Issued by this fake, not expired, and its client still exists with the
    /// secret it was issued under.
    pub fn token_is_valid(&self, token: &str) -> bool {
        self.state().check_bearer(token).is_ok()
    }

    /// Protocol violations seen so far, in order. Tests assert this is empty.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Every request that could be parsed, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// `token_is_valid` as a shareable function, for other fakes (a git
    /// server, a registry, an API server) that accept this datacenter's tokens.
    pub fn validator(&self) -> Arc<dyn Fn(&str) -> bool + Send + Sync> {
        let shared = Arc::clone(&self.shared);
        Arc::new(move |token: &str| shared.state().check_bearer(token).is_ok())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }
}

impl Drop for FakeDatacenter {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // The accept loop blocks in accept(); a connection wakes it so it can
        // see the flag. If the connect fails the loop is already gone.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
        // Connection threads poll the flag, so these joins are bounded.
        let handles =
            std::mem::take(&mut *self.connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a connection thread panicked; that panic is
        // already recorded as a violation, and the state is still usable for
        // reporting it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn violation(&self, message: String) {
        self.state().violations.push(message);
    }
}

impl State {
    fn new_generation(&mut self) -> u64 {
        let generation = self.next_generation;
        self.next_generation += 1;
        generation
    }

    fn check_bearer(&self, token: &str) -> Result<&IssuedToken, &'static str> {
        let issued = self.issued.iter().find(|t| t.token == token).ok_or("Invalid access token")?;
        match self.clients.get(&issued.client_id) {
            Some(client) if client.generation == issued.generation => {}
            _ => return Err("Access token has been revoked"),
        }
        if unix_now() >= issued.expires_on {
            return Err("Access token has expired");
        }
        Ok(issued)
    }

    /// Counts a call of the endpoint; returns the delay to apply to it.
    fn arrive(&mut self, endpoint: Endpoint) -> Duration {
        let state = &mut self.endpoints[endpoint.index()];
        state.calls += 1;
        state.delay
    }

    /// The status to answer this call with, if an injected failure is pending.
    fn take_failure(&mut self, endpoint: Endpoint) -> Option<u16> {
        let state = &mut self.endpoints[endpoint.index()];
        if state.fail_remaining == 0 {
            return None;
        }
        state.fail_remaining -= 1;
        Some(state.fail_status)
    }
}

/// Sleeps for `d`, cut short by shutdown so dropping the server stays quick.
fn pause(shared: &Shared, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !shared.is_shutting_down() {
        thread::sleep(POLL_INTERVAL.min(until.saturating_duration_since(Instant::now())));
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
                eprintln!("fake datacenter: accept failed: {err}");
                thread::sleep(POLL_INTERVAL);
                continue;
            }
        };
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new().name("fake-dc-conn".to_string()).spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| serve_connection(&conn_shared, stream)));
            if let Err(payload) = outcome {
                conn_shared.violation(format!(
                    "fake datacenter bug: a connection thread panicked: {}",
                    panic_message(&payload)
                ));
            }
        });
        match spawned {
            Ok(handle) => {
                let mut list = connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                list.retain(|h| !h.is_finished());
                list.push(handle);
            }
            Err(err) => {
                shared.violation(format!("fake datacenter bug: could not spawn a connection thread: {err}"))
            }
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
// HTTP/1.1 framing

struct Request {
    method: String,
    target: String,
    /// True for HTTP/1.1, false for HTTP/1.0.
    http11: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
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
}

struct Response {
    status: u16,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, value: serde_json::Value) -> Response {
        Response {
            status,
            content_type: Some("application/json".to_string()),
            headers: Vec::new(),
            body: value.to_string().into_bytes(),
        }
    }
}

enum Action {
    Respond(Response),
    /// Headers at once, then the body one byte per interval.
    Trickle(Response, Duration),
    Drop,
    Hang,
}

enum ReadOutcome {
    Request(Request),
    /// The peer closed (or the server is shutting down) between requests.
    Closed,
    /// The request cannot be framed; answer and close the connection.
    Reject {
        status: u16,
        message: String,
    },
}

fn serve_connection(shared: &Shared, mut stream: TcpStream) {
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
    let mut buf = Vec::new();
    loop {
        let request = match read_request(shared, &mut stream, &mut buf) {
            ReadOutcome::Request(r) => r,
            ReadOutcome::Closed => return,
            ReadOutcome::Reject { status, message } => {
                shared.violation(format!("malformed HTTP request: {message}"));
                let response = platform_error(status, &message);
                let _ = write_response(&mut stream, &response, false, false);
                return;
            }
        };
        shared.state().requests.push(RecordedRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
        let keep_alive = request.keep_alive();
        match handle(shared, &request) {
            Action::Respond(response) => {
                let head_only = request.method == "HEAD";
                if write_response(&mut stream, &response, keep_alive, head_only).is_err() || !keep_alive {
                    return;
                }
            }
            Action::Trickle(response, interval) => {
                // head_only: the full Content-Length, no body yet.
                if write_response(&mut stream, &response, false, true).is_err() {
                    return;
                }
                for byte in &response.body {
                    if shared.is_shutting_down() || stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    thread::sleep(interval);
                }
                return;
            }
            Action::Drop => return,
            Action::Hang => {
                while !shared.is_shutting_down() {
                    thread::sleep(POLL_INTERVAL);
                }
                return;
            }
        }
    }
}

/// Reads more bytes into `buf`. Ok(false) on EOF or shutdown.
fn fill(shared: &Shared, stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if shared.is_shutting_down() {
            return Ok(false);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
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

fn read_request(shared: &Shared, stream: &mut TcpStream, buf: &mut Vec<u8>) -> ReadOutcome {
    let reject = |status: u16, message: &str| ReadOutcome::Reject { status, message: message.to_string() };
    let head_len = loop {
        // RFC 9112 2.2: ignore empty lines before a request line.
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            if pos + 4 > MAX_HEAD_BYTES {
                return reject(431, "request head exceeds 64 KiB");
            }
            break pos + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return reject(431, "request head exceeds 64 KiB");
        }
        match fill(shared, stream, buf) {
            Ok(true) => {}
            Ok(false) | Err(_) if buf.is_empty() => return ReadOutcome::Closed,
            Ok(false) | Err(_) => {
                if shared.is_shutting_down() {
                    return ReadOutcome::Closed;
                }
                return reject(400, "connection closed in the middle of a request head");
            }
        }
    };
    let head = match std::str::from_utf8(&buf[..head_len - 4]) {
        Ok(head) => head.to_string(),
        Err(_) => return reject(400, "request head is not valid UTF-8"),
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return reject(400, &format!("bad request line {request_line:?}"));
    };
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return reject(400, &format!("bad method in request line {request_line:?}"));
    }
    if !target.starts_with('/') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return reject(400, &format!("bad request target {target:?} (origin-form expected)"));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return reject(505, &format!("unsupported version {v:?}")),
        _ => return reject(400, &format!("bad request line {request_line:?}")),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return reject(400, "obsolete header line folding");
        }
        let Some((name, value)) = line.split_once(':') else {
            return reject(400, &format!("header line without a colon: {line:?}"));
        };
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return reject(400, &format!("bad header name {name:?}"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
    }
    let mut request =
        Request { method: method.to_string(), target: target.to_string(), http11, headers, body: Vec::new() };

    if !request.header_values("transfer-encoding").is_empty() {
        return reject(411, "Transfer-Encoding request bodies are not supported; send Content-Length");
    }
    let lengths = request.header_values("content-length");
    let body_len = match lengths.first() {
        None => 0,
        Some(first) => {
            if lengths.iter().any(|v| v != first) {
                return reject(400, "conflicting Content-Length headers");
            }
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return reject(400, &format!("bad Content-Length {first:?}"));
            }
            match first.parse::<usize>() {
                Ok(n) if n <= MAX_BODY_BYTES => n,
                _ => return reject(413, "request body exceeds 1 MiB"),
            }
        }
    };
    buf.drain(..head_len);
    if body_len > buf.len()
        && request.http11
        && request.header_values("expect").iter().any(|v| v.eq_ignore_ascii_case("100-continue"))
        && stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
    {
        return ReadOutcome::Closed;
    }
    while buf.len() < body_len {
        match fill(shared, stream, buf) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                if shared.is_shutting_down() {
                    return ReadOutcome::Closed;
                }
                return reject(400, "connection closed before the whole body arrived");
            }
        }
    }
    request.body = buf.drain(..body_len).collect();
    ReadOutcome::Request(request)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let no_body = matches!(response.status, 204 | 304);
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason_phrase(response.status));
    if let Some(content_type) = &response.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in &response.headers {
        if ["content-length", "connection", "transfer-encoding"].iter().any(|n| name.eq_ignore_ascii_case(n))
        {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !no_body {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
    let mut bytes = head.into_bytes();
    if !no_body && !head_only {
        bytes.extend_from_slice(&response.body);
    }
    stream.write_all(&bytes)?;
    stream.flush()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

// ---------------------------------------------------------------------------
// Routing and the platform's endpoints

fn handle(shared: &Shared, request: &Request) -> Action {
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.target.as_str(), None),
    };
    let normalized = normalize_path(path);
    if normalized == TOKEN_PATH {
        return token_endpoint(shared, request, path, query);
    }
    if normalized != path {
        // An unnormalised datacenter URL ("https://dc/" + "/api/...") would
        // hit a different resource, or none, on the real platform.
        shared.violation(format!(
            "{} {}: path is not normalised (expected {normalized})",
            request.method, request.target
        ));
    }
    if request.http11 && request.header_values("host").len() != 1 {
        shared.violation(format!(
            "{} {}: HTTP/1.1 request without exactly one Host header",
            request.method, request.target
        ));
        return Action::Respond(platform_error(400, "Missing or repeated Host header"));
    }

    let client_id = path
        .strip_prefix(CLIENTS_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'));
    let endpoint = match (request.method.as_str(), client_id) {
        ("POST", None) if path == CLIENTS_PATH => Some(Endpoint::CreateClient),
        ("GET", Some(_)) => Some(Endpoint::GetClient),
        ("DELETE", Some(_)) => Some(Endpoint::DeleteClient),
        _ => None,
    };
    if let Some(endpoint) = endpoint {
        return Action::Respond(clients_endpoint(shared, request, endpoint, client_id.unwrap_or_default()));
    }

    let token = match bearer_token(request) {
        Ok(token) => token,
        Err(message) => return Action::Respond(platform_error(401, &message)),
    };
    if let Err(message) = shared.state().check_bearer(&token) {
        return Action::Respond(platform_error(401, message));
    }

    if client_id.is_some() || path == CLIENTS_PATH {
        return Action::Respond(platform_error(405, "Method not allowed"));
    }
    if path == "/api/agent_manager/v2/agents" {
        if request.method != "GET" {
            return Action::Respond(platform_error(405, "Method not allowed"));
        }
        return Action::Respond(Response::json(200, json!({ "items": [] })));
    }
    Action::Respond(platform_error(404, "Not found"))
}

fn normalize_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", segments.join("/"))
}

fn bearer_token(request: &Request) -> Result<String, String> {
    let values = request.header_values("authorization");
    let [value] = values[..] else {
        return Err(if values.is_empty() {
            "Authorization header is missing".to_string()
        } else {
            "Authorization header is repeated".to_string()
        });
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.to_string())
        }
        _ => Err("Authorization header is not a Bearer token".to_string()),
    }
}

/// `POST /api/2/clients`, `GET /api/2/clients/{id}` and
/// `DELETE /api/2/clients/{id}`: the calls that rotating an API client needs.
fn clients_endpoint(shared: &Shared, request: &Request, endpoint: Endpoint, client_id: &str) -> Response {
    let delay = shared.state().arrive(endpoint);
    let checked = (endpoint == Endpoint::CreateClient).then(|| check_create_request(request));
    pause(shared, delay);
    let new_client = match checked {
        None => None,
        Some(Ok(new_client)) => Some(new_client),
        Some(Err((status, problems))) => {
            let message = problems.join("; ");
            for problem in problems {
                shared.violation(format!("create client request: {problem}"));
            }
            return platform_error(status, &message);
        }
    };

    let mut st = shared.state();
    if let Some(status) = st.take_failure(endpoint) {
        let path = request.target.split('?').next().unwrap_or_default();
        return platform_error(status, &format!("Simulated failure of {} {path}", request.method));
    }
    let token = match bearer_token(request) {
        Ok(token) => token,
        Err(message) => return platform_error(401, &message),
    };
    let caller = match st.check_bearer(&token) {
        Ok(issued) => issued.client_id.clone(),
        Err(message) => return platform_error(401, message),
    };
    // check_bearer only accepts tokens of existing clients.
    let caller_tenant = st.clients[&caller].tenant_id.clone();

    match (endpoint, new_client) {
        (Endpoint::CreateClient, Some(new_client)) => {
            create_client(&mut st, &caller, &caller_tenant, new_client)
        }
        (Endpoint::GetClient, _) => client_record(&st, &caller_tenant, client_id),
        (Endpoint::DeleteClient, _) => delete_client(&mut st, &caller_tenant, client_id),
        _ => unreachable!("fake datacenter: {endpoint:?} is not a clients endpoint"),
    }
}

/// A `POST /api/2/clients` request that passed the protocol checks.
struct NewClient {
    tenant_id: String,
    client_name: String,
}

/// Checks the request against the documented create-client request; on
/// failure returns the status (415 for a content type problem, else 400) and
/// every problem found.
fn check_create_request(request: &Request) -> Result<NewClient, (u16, Vec<String>)> {
    let mut problems = Vec::new();
    let mut status = 400;
    let content_types = request.header_values("content-type");
    let content_type_problem = match content_types[..] {
        [] => Some("Content-Type header is missing".to_string()),
        [value] if !is_json_content_type(value) => {
            Some(format!("Content-Type is {value:?}, expected application/json"))
        }
        [_] => None,
        _ => Some("Content-Type header is repeated".to_string()),
    };
    if let Some(problem) = content_type_problem {
        status = 415;
        problems.push(problem);
    }

    let mut new_client = None;
    match serde_json::from_slice::<serde_json::Value>(&request.body) {
        Err(e) => {
            problems.push(format!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&request.body)))
        }
        Ok(body) => match body.as_object() {
            None => problems.push(format!("body is {body}, expected a JSON object")),
            Some(fields) => {
                let documented = ["type", "tenant_id", "token_endpoint_auth_method", "data"];
                for name in fields.keys().filter(|name| !documented.contains(&name.as_str())) {
                    problems.push(format!("body has field {name:?}, which the documented request lacks"));
                }
                let kind = string_field(fields, "type", "", &mut problems);
                if kind.is_some_and(|kind| kind != "api_client") {
                    problems.push(format!("\"type\" is {kind:?}, expected \"api_client\""));
                }
                let tenant_id = string_field(fields, "tenant_id", "", &mut problems);
                let method = string_field(fields, "token_endpoint_auth_method", "", &mut problems);
                if method.is_some_and(|method| method != "client_secret_basic") {
                    problems.push(format!(
                        "\"token_endpoint_auth_method\" is {method:?}, expected \"client_secret_basic\""
                    ));
                }
                let client_name = match fields.get("data") {
                    None => {
                        problems.push("body has no \"data\" (with \"client_name\")".to_string());
                        None
                    }
                    Some(serde_json::Value::Object(data)) => {
                        for name in data.keys().filter(|name| *name != "client_name") {
                            problems.push(format!(
                                "\"data\" has field {name:?}, which the documented request lacks"
                            ));
                        }
                        string_field(data, "client_name", "data.", &mut problems)
                    }
                    Some(other) => {
                        problems.push(format!("\"data\" is {other}, expected a JSON object"));
                        None
                    }
                };
                if let (Some(tenant_id), Some(client_name)) = (tenant_id, client_name) {
                    new_client = Some(NewClient {
                        tenant_id: tenant_id.to_string(),
                        client_name: client_name.to_string(),
                    });
                }
            }
        },
    }
    match new_client {
        Some(new_client) if problems.is_empty() => Ok(new_client),
        _ => Err((status, problems)),
    }
}

/// The non-empty string field `name` of `object`, or None with the problem
/// recorded. `prefix` locates the object in the body, for the message.
fn string_field<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
    prefix: &str,
    problems: &mut Vec<String>,
) -> Option<&'a str> {
    match object.get(name) {
        None => problems.push(format!("body has no \"{prefix}{name}\"")),
        Some(serde_json::Value::String(value)) if value.is_empty() => {
            problems.push(format!("\"{prefix}{name}\" is empty"))
        }
        Some(serde_json::Value::String(value)) => return Some(value),
        Some(other) => problems.push(format!("\"{prefix}{name}\" is {other}, expected a string")),
    }
    None
}

fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return false;
    }
    // JSON is UTF-8 (RFC 8259 8.1); a charset parameter may only say so.
    parts.all(|param| match param.split_once('=') {
        Some((name, value)) => {
            name.trim().eq_ignore_ascii_case("charset")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        None => false,
    })
}

fn create_client(st: &mut State, caller: &str, caller_tenant: &str, new_client: NewClient) -> Response {
    if new_client.tenant_id != caller_tenant {
        return platform_error(
            403,
            &format!(
                "Client {caller} of tenant {caller_tenant} may not create clients in tenant {}",
                new_client.tenant_id
            ),
        );
    }
    let client_id = loop {
        let id = random_uuid();
        if !st.clients.contains_key(&id) {
            break id;
        }
    };
    let generation = st.new_generation();
    let delay = st.new_client_activation_delay;
    let client = Client {
        secret: random_hex(16),
        generation,
        tenant_id: new_client.tenant_id,
        name: new_client.client_name,
        created_by: caller.to_string(),
        created_at: unix_now(),
        last_access_at: None,
        active_from: (!delay.is_zero()).then(|| Instant::now() + delay),
    };
    let mut body = client_json(&client_id, &client);
    body["client_secret"] = json!(client.secret);
    if st.new_client_rejections > 0 {
        let times = st.new_client_rejections;
        st.token_rejections.insert(client_id.clone(), times);
    }
    st.clients.insert(client_id.clone(), client);
    st.created.push(client_id);
    Response::json(201, body)
}

fn client_record(st: &State, caller_tenant: &str, client_id: &str) -> Response {
    let Some(client) = st.clients.get(client_id) else {
        return platform_error(404, &format!("Client {client_id} not found"));
    };
    if client.tenant_id != caller_tenant {
        return platform_error(403, &format!("Client {client_id} is not in tenant {caller_tenant}"));
    }
    Response::json(200, client_json(client_id, client))
}

/// The record of a client, as `GET /api/2/clients/{id}` returns it.
fn client_json(client_id: &str, client: &Client) -> serde_json::Value {
    json!({
        "client_id": client_id,
        "tenant_id": client.tenant_id,
        "type": "api_client",
        "status": "enabled",
        "token_endpoint_auth_method": "client_secret_basic",
        "data": { "client_name": client.name },
        "created_by": client.created_by,
        "created_at": rfc3339(client.created_at),
        "last_access_at": rfc3339(client.last_access_at.unwrap_or(client.created_at)),
    })
}

/// Deleting a client removes its secret and, through `check_bearer`, every
/// token issued to it. A client may delete itself.
fn delete_client(st: &mut State, caller_tenant: &str, client_id: &str) -> Response {
    let Some(client) = st.clients.get(client_id) else {
        return platform_error(404, &format!("Client {client_id} not found"));
    };
    if client.tenant_id != caller_tenant {
        return platform_error(403, &format!("Client {client_id} is not in tenant {caller_tenant}"));
    }
    st.clients.remove(client_id);
    st.token_rejections.remove(client_id);
    st.deleted.push(client_id.to_string());
    Response { status: 204, content_type: None, headers: Vec::new(), body: Vec::new() }
}

fn platform_error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        json!({ "error": { "code": status, "message": message, "domain": PLATFORM_DOMAIN } }),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(status, json!({ "error": error, "error_description": description }))
}

fn token_endpoint(shared: &Shared, request: &Request, path: &str, query: Option<&str>) -> Action {
    let (behavior, delay) = {
        let mut st = shared.state();
        let delay = st.arrive(Endpoint::Token);
        (st.behavior.clone(), delay)
    };

    let checked = check_token_request(request, path, query);
    pause(shared, delay);
    let (client_id, secret) = match checked {
        Ok(credentials) => credentials,
        Err(problems) => {
            let description = problems.join("; ");
            for problem in problems {
                shared.violation(format!("token request: {problem}"));
            }
            return Action::Respond(oauth_error(400, "invalid_request", &description));
        }
    };

    if let Some(status) = shared.state().take_failure(Endpoint::Token) {
        return Action::Respond(simulated_token_failure(status));
    }
    match behavior {
        Behavior::Normal => Action::Respond(issue_token(shared, &client_id, &secret)),
        Behavior::Status { status, body, content_type, headers } => Action::Respond(Response {
            status,
            content_type: Some(content_type.to_string()),
            headers,
            body: body.into_bytes(),
        }),
        Behavior::RawBody(body) => Action::Respond(Response {
            status: 200,
            content_type: Some("application/json".to_string()),
            headers: Vec::new(),
            body: body.into_bytes(),
        }),
        Behavior::DropConnection => Action::Drop,
        Behavior::SlowBody { body, interval } => Action::Trickle(
            Response {
                status: 200,
                content_type: Some("application/json".into()),
                headers: Vec::new(),
                body: body.clone().into_bytes(),
            },
            interval,
        ),
        Behavior::Hang => Action::Hang,
        Behavior::FailTimes { times, status } => {
            let fail = {
                let mut st = shared.state();
                let fail = st.failures_served < times;
                if fail {
                    st.failures_served += 1;
                }
                fail
            };
            if fail {
                Action::Respond(simulated_token_failure(status))
            } else {
                Action::Respond(issue_token(shared, &client_id, &secret))
            }
        }
    }
}

/// An OAuth2 style error for an injected token-endpoint failure (no
/// `Retry-After`: use `Behavior::Status` to test that).
fn simulated_token_failure(status: u16) -> Response {
    let error = match status {
        400 => "invalid_request",
        401 => "invalid_client",
        429 | 503 => "temporarily_unavailable",
        _ => "server_error",
    };
    oauth_error(status, error, "Simulated failure of the token endpoint")
}

/// Checks the request against the documented token request; on success
/// returns the Basic credentials.
fn check_token_request(
    request: &Request,
    path: &str,
    query: Option<&str>,
) -> Result<(String, String), Vec<String>> {
    let mut problems = Vec::new();
    if request.method != "POST" {
        problems.push(format!("method is {}, expected POST", request.method));
    }
    if path != TOKEN_PATH {
        problems.push(format!("path is {path:?}, expected {TOKEN_PATH:?}"));
    }
    if let Some(query) = query {
        problems.push(format!("unexpected query string {query:?} (parameters belong in the body)"));
    }
    if request.http11 && request.header_values("host").len() != 1 {
        problems.push("HTTP/1.1 request without exactly one Host header".to_string());
    }

    let content_types = request.header_values("content-type");
    match content_types[..] {
        [] => problems.push("Content-Type header is missing".to_string()),
        [value] => {
            if !is_form_content_type(value) {
                problems
                    .push(format!("Content-Type is {value:?}, expected application/x-www-form-urlencoded"));
            }
        }
        _ => problems.push("Content-Type header is repeated".to_string()),
    }

    if request.body != b"grant_type=client_credentials" {
        problems.push(format!(
            "body is {:?}, expected exactly \"grant_type=client_credentials\" \
             (client_secret_basic: credentials go in the Authorization header only)",
            String::from_utf8_lossy(&request.body)
        ));
    }

    let credentials = match basic_credentials(request) {
        Ok(credentials) => Some(credentials),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    match credentials {
        Some(credentials) if problems.is_empty() => Ok(credentials),
        _ => Err(problems),
    }
}

fn is_form_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some((name, value)) => name.trim().eq_ignore_ascii_case("charset") && !value.trim().is_empty(),
        None => false,
    })
}

fn basic_credentials(request: &Request) -> Result<(String, String), String> {
    let values = request.header_values("authorization");
    let value = match values[..] {
        [] => {
            return Err("Authorization header is missing (client_secret_basic is required)".to_string());
        }
        [value] => value,
        _ => return Err("Authorization header is repeated".to_string()),
    };
    let encoded = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => rest.trim(),
        _ => return Err(format!("Authorization scheme is not Basic: {value:?}")),
    };
    let decoded = STANDARD
        .decode(encoded)
        .map_err(|e| format!("Basic credentials are not valid base64 ({e}): {encoded:?}"))?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| "Basic credentials are not valid UTF-8".to_string())?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| "Basic credentials have no ':' between client id and secret".to_string())?;
    if id.is_empty() {
        return Err("Basic credentials have an empty client id".to_string());
    }
    Ok((id.to_string(), secret.to_string()))
}

fn issue_token(shared: &Shared, client_id: &str, secret: &str) -> Response {
    let mut st = shared.state();
    // A client still propagating, or told to fail verification, is refused
    // exactly like a wrong secret: the platform would not know it yet.
    let generation = match st.clients.get(client_id) {
        Some(client)
            if client.secret == secret && client.active_from.is_none_or(|from| Instant::now() >= from) =>
        {
            client.generation
        }
        _ => return invalid_client(),
    };
    if let Some(left) = st.token_rejections.get_mut(client_id)
        && *left > 0
    {
        *left -= 1;
        return invalid_client();
    }
    let now = unix_now();
    let expires_on = now.saturating_add(st.token_lifetime);
    let access_token = make_jwt(shared, client_id, now, expires_on);
    let id_token = make_jwt(shared, client_id, now, expires_on);
    st.issued.push(IssuedToken {
        token: access_token.clone(),
        client_id: client_id.to_string(),
        generation,
        expires_on,
    });
    if let Some(client) = st.clients.get_mut(client_id) {
        client.last_access_at = Some(now);
    }
    Response::json(
        200,
        json!({
            "access_token": access_token,
            "expires_on": expires_on,
            "id_token": id_token,
            "token_type": "bearer",
        }),
    )
}

fn invalid_client() -> Response {
    let mut response = oauth_error(401, "invalid_client", "Client authentication failed");
    // RFC 6749 5.2: a 401 after Basic authentication carries a challenge.
    response.headers.push(("WWW-Authenticate".to_string(), "Basic realm=\"idp\"".to_string()));
    response
}

/// A random version 4 UUID, the shape of the platform's client ids.
fn random_uuid() -> String {
    let mut hex: Vec<char> = random_hex(16).chars().collect();
    hex[12] = '4';
    // The variant: the top two bits of this nibble are 10.
    hex[16] = ['8', '9', 'a', 'b'][hex[16].to_digit(16).unwrap_or(0) as usize % 4];
    let hex: String = hex.into_iter().collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A JWT-shaped token: base64url header and payload (real JSON with `exp` and
/// `sub`), random hex signature. Only characters of the RFC 6750 b64token
/// alphabet appear.
fn make_jwt(shared: &Shared, client_id: &str, now: i64, expires_on: i64) -> String {
    let serial = shared.token_serial.fetch_add(1, Ordering::SeqCst);
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": "fake-datacenter" });
    let payload = json!({
        "iss": shared.url,
        "sub": client_id,
        "iat": now,
        "exp": expires_on,
        "jti": format!("{serial:08x}-{}", random_hex(8)),
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        random_hex(32)
    )
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .expect("fake datacenter: read random bytes from /dev/urandom");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> i64 {
    let since_epoch =
        SystemTime::now().duration_since(UNIX_EPOCH).expect("fake datacenter: system clock is before 1970");
    i64::try_from(since_epoch.as_secs()).expect("fake datacenter: system clock out of range")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (proleptic Gregorian, UTC).
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}
