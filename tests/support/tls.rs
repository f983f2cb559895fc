//! A private certificate authority and a small TLS accept loop for fake
//! servers.
//!
//! Clients under test (kubectl, curl, the helper itself) verify servers the
//! way they would in production: against a CA file they are given. Tests
//! therefore make their own CA, hand its PEM to the client, and serve with a
//! leaf certificate it signed. Nothing is ever trusted by disabling
//! verification, so a client that skips or botches verification is caught by
//! a test that gives it the wrong CA.

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How often blocked threads look at the stop flag; bounds both the extra
/// latency of accepting a connection and how long stopping takes.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// A peer silent for this long mid-connection is given up on, so a stuck
/// client cannot pin a connection thread for the rest of the test run.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the peer to close after the response is sent.
const LINGER_LIMIT: Duration = Duration::from_secs(1);

/// A byte stream a connection handler reads a request from and writes the
/// answer to: the decrypted side of one TLS connection.
pub trait ReadWrite: Read + Write {}

impl<T: Read + Write + ?Sized> ReadWrite for T {}

/// Serves one accepted, handshaken connection.
pub type Handler = Arc<dyn Fn(&mut dyn ReadWrite) + Send + Sync>;

/// A self-signed CA that issues server certificates.
pub struct TestCa {
    cert: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// `name` becomes the CA's common name, so a certificate dump from a
    /// failing test shows which CA it was.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        set_validity(&mut params);
        let key = KeyPair::generate().expect("test CA: generate the CA key");
        let cert = params.self_signed(&key).expect("test CA: self-sign the CA certificate");
        TestCa { cert, issuer: Issuer::new(params, key) }
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// Writes the CA certificate as PEM, the form kubeconfig's
    /// `certificate-authority`, `curl --cacert` and CA-file flags take.
    pub fn write_cert(&self, path: &Path) {
        std::fs::write(path, self.cert_pem())
            .unwrap_or_else(|err| panic!("test CA: write the CA certificate to {}: {err}", path.display()));
    }

    /// A server configuration presenting a fresh leaf certificate for
    /// `names`, signed by this CA. Each name that parses as an IP address
    /// becomes an IP address SAN, any other a DNS name SAN; clients match
    /// the host of the URL they were given against these.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        assert!(!names.is_empty(), "test CA: a server certificate needs at least one name");
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|err| panic!("test CA: bad server name in {names:?}: {err}"));
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // Go's verifier (kubectl) checks the extended key usage of the whole
        // chain and rejects a server certificate without serverAuth.
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params);
        let key = KeyPair::generate().expect("test CA: generate a server key");
        let leaf = params.signed_by(&key, &self.issuer).expect("test CA: sign the server certificate");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

        // An explicit provider: the crate builds rustls without choosing a
        // process-wide default, and which features other dependencies turn on
        // must not decide whether tests can serve TLS.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("test CA: ring supports the default TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key_der)
            .expect("test CA: rustls accepts the server certificate and key");
        // Clients that offer h2 (Go's, curl's) must fall back to HTTP/1.1,
        // the only protocol the fake servers speak.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A fixed validity window far on both sides of any plausible clock, so
/// verification never depends on when, or on which machine, a test runs.
fn set_validity(params: &mut CertificateParams) {
    params.not_before = date_time_ymd(2000, 1, 1);
    params.not_after = date_time_ymd(2200, 1, 1);
}

/// Accepts connections on `listener` until `stop` is set. Each connection
/// gets its own thread, which completes the TLS handshake and passes the
/// decrypted stream to `handle`; when `handle` returns the connection is
/// closed cleanly (close_notify, then FIN).
///
/// A failed handshake (for instance a client that does not trust the CA)
/// only drops that connection. Once `stop` is set, pending and future reads
/// on every connection fail, so handlers return promptly; joining the
/// returned handle waits for the accept loop and every connection thread.
pub fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handle: Handler,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    // Non-blocking so the loop can notice `stop` without anyone having to
    // connect to wake it up.
    listener.set_nonblocking(true).expect("serve_tls: make the listener non-blocking");
    thread::Builder::new()
        .name(format!("tls-accept-{port}"))
        .spawn(move || accept_loop(listener, config, handle, stop))
        .expect("serve_tls: spawn the accept thread")
}

fn accept_loop(listener: TcpListener, config: Arc<ServerConfig>, handle: Handler, stop: Arc<AtomicBool>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let tcp = match listener.accept() {
            Ok((tcp, _peer)) => tcp,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(POLL_INTERVAL);
                continue;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                // Typically EMFILE under load; back off rather than spin.
                eprintln!("serve_tls: accept failed: {err}");
                thread::sleep(POLL_INTERVAL);
                continue;
            }
        };
        let config = Arc::clone(&config);
        let handle = Arc::clone(&handle);
        let conn_stop = Arc::clone(&stop);
        let spawned = thread::Builder::new()
            .name("tls-conn".to_string())
            .spawn(move || serve_connection(tcp, config, &*handle, conn_stop));
        connections.retain(|c| !c.is_finished());
        match spawned {
            Ok(c) => connections.push(c),
            Err(err) => eprintln!("serve_tls: could not spawn a connection thread: {err}"),
        }
    }
    for c in connections {
        // A panicking handler has already printed its message, and its
        // client saw the connection drop; nothing more to report here.
        let _ = c.join();
    }
}

fn serve_connection(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    handle: &(dyn Fn(&mut dyn ReadWrite) + Send + Sync),
    stop: Arc<AtomicBool>,
) {
    // Some platforms (not Linux) let accepted sockets inherit the listener's
    // non-blocking mode; the handler expects blocking I/O.
    if tcp.set_nonblocking(false).is_err()
        || tcp.set_read_timeout(Some(POLL_INTERVAL)).is_err()
        || tcp.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = tcp.set_nodelay(true);
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, StopAwareStream { tcp, stop });
    // Handshake before the handler runs, so a failure never reaches it as
    // an I/O error it would have to tell apart from a bad request. On
    // failure rustls has already tried to send the alert.
    while tls.conn.is_handshaking() {
        match tls.conn.complete_io(&mut tls.sock) {
            Ok((0, 0)) | Err(_) => return,
            Ok(_) => {}
        }
    }
    handle(&mut tls);
    tls.conn.send_close_notify();
    if tls.flush().is_err() {
        return;
    }
    linger(&mut tls.sock);
}

/// Half-closes and waits briefly for the peer to close too. Closing a socket
/// with unread input (say, the client's close_notify racing our FIN) makes
/// the kernel send a reset, which can destroy a response the client has not
/// read yet.
fn linger(sock: &mut StopAwareStream) {
    if sock.tcp.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_LIMIT;
    let mut scratch = [0u8; 4096];
    while Instant::now() < deadline && !sock.stop.load(Ordering::SeqCst) {
        match sock.tcp.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// The TCP side of a connection. Reads wait for data in short slices so a
/// stop request ends them, and give up after [`IDLE_LIMIT`] of silence.
struct StopAwareStream {
    tcp: TcpStream,
    stop: Arc<AtomicBool>,
}

impl Read for StopAwareStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Instant::now() + IDLE_LIMIT;
        loop {
            match self.tcp.read(buf) {
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "the server is stopping",
                        ));
                    }
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the peer sent nothing for too long",
                        ));
                    }
                }
                result => return result,
            }
        }
    }
}

impl Write for StopAwareStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}
