//! A TLS front for the fake datacenter: terminates TLS with a certificate
//! from a test CA and relays each request to the plain-HTTP fake, so the
//! helper's real TLS path (trust, host names, `--ca-file`) is exercised.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::tls::{ReadWrite, TestCa, serve_tls};

pub struct TlsFront {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsFront {
    /// Serves `https://127.0.0.1:PORT` with a certificate for `names`
    /// (signed by `ca`), relaying to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(ca: &TestCa, names: &[&str], upstream: &str) -> TlsFront {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("tls front: upstream must be http://IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("tls front: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("tls front: local address");
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(move |client: &mut dyn ReadWrite| relay(client, upstream));
        let thread = serve_tls(listener, ca.server_config(names), handler, Arc::clone(&stop));
        TlsFront { addr, stop, thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://HOST:PORT` for a host name the certificate may or may not carry.
    pub fn url_for(&self, host: &str) -> String {
        format!("https://{host}:{}", self.addr.port())
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request: head and `Content-Length` body in, the whole answer out.
fn relay(client: &mut dyn ReadWrite, upstream: SocketAddr) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    // One exchange per connection upstream: ask it to close when done.
    let mut forwarded: String = head
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(upstream) else { return };
    if up
        .write_all(forwarded.as_bytes())
        .and_then(|()| up.write_all(&buf[head_end..head_end + length]))
        .is_err()
    {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
    let _ = client.flush();
}
