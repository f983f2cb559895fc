//! The HTTP client, built only when an exchange actually happens: the cached
//! path never pays for TLS roots or a runtime.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::{Error, Result};

use super::DatacenterUrl;
use super::retry::RetryPolicy;

/// Cap on any answer body. A token answer is a few KiB.
pub const MAX_BODY: u64 = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Whole request, connect to last body byte.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Extra trusted CA certificates (PEM), e.g. of an inspecting proxy.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            ca_file: None,
        }
    }
}

impl HttpSettings {
    /// One overall timeout; connecting gets at most 10 s of it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.connect_timeout = timeout.min(Duration::from_secs(10));
        self
    }
}

pub(crate) fn client(dc: &DatacenterUrl, settings: &HttpSettings) -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("acronis-cred/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls_config(dc, settings)?)
        .build()
        .map_err(|e| Error::unexpected(format!("cannot set up the HTTP client: {e}")))
}

/// rustls with verification always on. A plain-http loopback datacenter (tests,
/// local fakes) never does TLS, so it skips reading the system's roots.
fn tls_config(dc: &DatacenterUrl, settings: &HttpSettings) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if dc.scheme() == "https" {
        if let Some(path) = &settings.ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<_, _>>())
                .map_err(|e| {
                    Error::usage(format!("cannot read CA certificates from {}: {e}", path.display()))
                        .with_hint("--ca-file takes a PEM file of one or more certificates")
                })?;
            if certs.is_empty() {
                return Err(Error::usage(format!("{} holds no PEM certificate", path.display())));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::usage(format!("a certificate in {} is not usable: {e}", path.display()))
                })?;
            }
        }
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A single unparsable system certificate must not break TLS.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(Error::unexpected("no trusted CA certificates found on this system")
                .with_hint("install the ca-certificates package"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::unexpected(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Reads at most [`MAX_BODY`] bytes; a longer body is an error, not a
/// truncation. reqwest's blocking timeout bounds each read, not the whole
/// body, so a server trickling bytes is cut off here at `deadline`.
pub(crate) fn read_body(mut response: reqwest::blocking::Response, deadline: Instant) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            chunk.zeroize();
            return Err(Error::unavailable("reading the datacenter's answer timed out")
                .with_hint("the datacenter is answering too slowly; try again, or raise --timeout"));
        }
        let n = match response.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                chunk.zeroize();
                return Err(Error::unavailable(format!("reading the datacenter's answer failed: {e}"))
                    .with_hint("the connection broke; try again"));
            }
        };
        if (body.len() + n) as u64 > MAX_BODY {
            chunk.zeroize();
            body.zeroize();
            return Err(Error::unavailable("the datacenter's answer is larger than 1 MiB; refusing it").with_hint(
                "something other than the datacenter answered (a captive portal or proxy?); check the datacenter URL with `acronis-cred status`",
            ));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    chunk.zeroize();
    Ok(body)
}

/// Maps a transport failure to exit code 5 with a message naming the host.
pub(crate) fn transport_error(dc: &DatacenterUrl, err: &reqwest::Error) -> Error {
    let cause = root_cause(err);
    let what = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        format!("connection failed ({cause})")
    } else {
        cause.clone()
    };
    let hint = if cause.to_lowercase().contains("certificate") {
        "the datacenter's TLS certificate is not trusted for that name; behind an inspecting proxy, pass its CA with --ca-file"
    } else {
        "check the network and the datacenter URL (acronis-cred status), then try again"
    };
    Error::unavailable(format!("cannot reach the datacenter {dc}: {what}")).with_hint(hint)
}

/// How a transport failure counts for retries.
pub(crate) fn outcome_of(err: &reqwest::Error) -> super::retry::Outcome {
    use super::retry::Outcome;
    if err.is_timeout() {
        Outcome::TimedOut
    } else if err.is_connect() && !root_cause(err).to_lowercase().contains("certificate") {
        Outcome::ConnectFailed
    } else {
        Outcome::OtherTransport
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
