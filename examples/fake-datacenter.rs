//! Runs the test suite's fake Acronis datacenter as a standalone server, so
//! the helper can be tried without an Acronis account.
//!
//! Usage:
//!     printf '%s %s\n' "$CLIENT_ID" "$SECRET" | fake-datacenter [--url-file PATH]
//!
//! Reads one `CLIENT_ID SECRET` pair per line from stdin until end of input
//! (secrets never go in argv, where any user can read them with `ps`), starts
//! the server on 127.0.0.1 at a random port, prints its URL as one line on
//! stdout (and writes it to PATH if given), then serves until SIGTERM or
//! SIGINT.

#[path = "../tests/support/fake_dc.rs"]
mod fake_dc;

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fake-datacenter: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let url_file = parse_args()?;
    // Block the stop signals before any thread exists so every thread
    // inherits the mask and sigwait() below is the only place they land.
    let signals = block_stop_signals()?;

    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
        eprintln!("fake-datacenter: reading 'CLIENT_ID SECRET' lines from the terminal; end with Ctrl-D");
    }
    let clients = read_clients(io::stdin().lock())?;
    if clients.is_empty() {
        return Err("no 'CLIENT_ID SECRET' line on stdin".to_string());
    }

    let datacenter = fake_dc::FakeDatacenter::start();
    for (id, secret) in &clients {
        datacenter.add_client(id, secret);
    }
    let url = datacenter.url();
    if let Some(path) = &url_file {
        write_atomically(path, &format!("{url}\n"))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{url}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("writing the URL to stdout: {e}"))?;
    }
    eprintln!("fake-datacenter: serving {} client(s) at {url}; stop with SIGTERM", clients.len());

    let signal = wait_for_signal(&signals)?;
    eprintln!("fake-datacenter: signal {signal}, stopping");
    drop(datacenter);
    if let Some(path) = &url_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn parse_args() -> Result<Option<PathBuf>, String> {
    let mut url_file = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--url-file") => {
                let path = args.next().ok_or("--url-file needs a path")?;
                url_file = Some(PathBuf::from(path));
            }
            Some("-h" | "--help") => {
                println!(
                    "usage: fake-datacenter [--url-file PATH] < lines of 'CLIENT_ID SECRET'\n\
                     Serves a fake Acronis datacenter on 127.0.0.1 and prints its URL."
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unexpected argument {arg:?} (try --help)")),
        }
    }
    Ok(url_file)
}

fn read_clients(input: impl BufRead) -> Result<Vec<(String, String)>, String> {
    let mut clients = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next(), fields.next()) {
            (Some(id), Some(secret), None) => clients.push((id.to_string(), secret.to_string())),
            // The line holds a secret: name the line, never echo it.
            _ => {
                return Err(format!("stdin line {}: expected 'CLIENT_ID SECRET'", index + 1));
            }
        }
    }
    Ok(clients)
}

/// Readers polling for the file never see it half-written.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn block_stop_signals() -> Result<libc::sigset_t, String> {
    // SAFETY: the set is initialised by sigemptyset before use, and
    // pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(format!("blocking SIGTERM/SIGINT: {}", io::Error::from_raw_os_error(rc)));
        }
        Ok(set)
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> Result<libc::c_int, String> {
    let mut signal: libc::c_int = 0;
    // SAFETY: `set` was initialised by block_stop_signals and `signal` is a
    // valid out-pointer.
    let rc = unsafe { libc::sigwait(set, &mut signal) };
    if rc != 0 {
        return Err(format!("waiting for a signal: {}", io::Error::from_raw_os_error(rc)));
    }
    Ok(signal)
}
