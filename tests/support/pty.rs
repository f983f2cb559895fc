//! Runs a command on a pseudo-terminal, for testing interactive prompts.
//!
//! The child gets the terminal as stdin, stdout, stderr and as its
//! controlling terminal, so a program that opens `/dev/tty` to read a secret
//! with echo off (rpassword does) behaves as it would for a person.

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for a prompt before writing the input anyway.
const PROMPT_WAIT: Duration = Duration::from_secs(5);
/// How long after a prompt appears to wait for the program to turn echo off
/// (programs print the prompt first, then change the terminal mode); input
/// written before that would be echoed.
const ECHO_OFF_WAIT: Duration = Duration::from_millis(300);
const POLL_SLICE: Duration = Duration::from_millis(20);

pub struct PtyOutput {
    pub status: ExitStatus,
    /// Everything the child wrote to the terminal, with the terminal's
    /// translation applied (`\n` arrives as `\r\n`).
    pub output: Vec<u8>,
}

impl PtyOutput {
    /// The output as text, with `\r\n` turned back into `\n`.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).replace("\r\n", "\n")
    }
}

/// Runs `cmd` on a new pseudo-terminal. Once the child prints something
/// containing ':' (a prompt), or after 5 s, `input` is typed into the
/// terminal (end lines with `\n`; the terminal turns that into Enter). Reads
/// until the child exits and the terminal is closed. Kills the child and
/// panics with what it printed if that takes longer than `timeout`.
///
/// `cmd`'s stdin, stdout and stderr are replaced by the terminal.
pub fn run_on_pty(mut cmd: Command, input: &[u8], timeout: Duration) -> PtyOutput {
    let start = Instant::now();
    let pty = Pty::open().unwrap_or_else(|e| panic!("open a pseudo-terminal: {e}"));
    let slave =
        pty.open_slave().unwrap_or_else(|e| panic!("open pty slave {}: {e}", pty.slave_path.display()));
    let stdio = |fd: &OwnedFd| {
        fd.try_clone().map(Stdio::from).unwrap_or_else(|e| panic!("duplicate the pty slave descriptor: {e}"))
    };
    cmd.stdin(stdio(&slave)).stdout(stdio(&slave)).stderr(stdio(&slave));
    drop(slave);
    // SAFETY: setsid and ioctl are async-signal-safe and nothing allocates.
    // stdio is already in place when pre_exec closures run, so fd 0 is the
    // slave.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let program = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {program} on a pty: {e}"));
    // The Command still holds duplicates of the slave; the master only sees
    // end of file once the child's are the last ones.
    drop(cmd);

    let mut output = Vec::new();
    let mut pending: &[u8] = input;
    let mut prompt_seen_at: Option<Instant> = None;
    let mut terminal_closed = false;
    let mut exited = false;
    loop {
        let now = Instant::now();
        if now >= start + timeout {
            kill_session(&mut child);
            panic!(
                "{program} on a pty did not finish within {timeout:?}; it printed:\n{}",
                String::from_utf8_lossy(&output)
            );
        }

        if !pending.is_empty() && !terminal_closed && !exited {
            if prompt_seen_at.is_none() && output.contains(&b':') {
                prompt_seen_at = Some(now);
            }
            let ready = match prompt_seen_at {
                Some(seen) => now >= seen + ECHO_OFF_WAIT || pty.echo_is_off(),
                None => now >= start + PROMPT_WAIT,
            };
            if ready {
                match pty.write_nonblocking(pending) {
                    Ok(n) => pending = &pending[n..],
                    Err(e) => panic!("typing into the pty of {program}: {e}"),
                }
            }
        }

        if !terminal_closed {
            match pty.read_nonblocking(&mut output, POLL_SLICE) {
                Ok(ReadResult::Data) => {}
                Ok(ReadResult::Closed) => terminal_closed = true,
                Ok(ReadResult::Nothing) => {
                    // A background process of the child may keep the
                    // terminal open; once the child is gone and the terminal
                    // is quiet, everything it wrote has been read.
                    if exited {
                        break;
                    }
                }
                Err(e) => panic!("reading the pty of {program}: {e}"),
            }
        } else if !exited {
            std::thread::sleep(POLL_SLICE);
        }

        if !exited {
            exited = child.try_wait().unwrap_or_else(|e| panic!("waiting for {program}: {e}")).is_some();
        }
        if terminal_closed && exited {
            break;
        }
    }
    // The child has exited; this only collects the status try_wait saw.
    let status = child.wait().unwrap_or_else(|e| panic!("waiting for {program}: {e}"));
    PtyOutput { status, output }
}

/// Kills the child's whole session (it is the session and process group
/// leader), then reaps the child.
fn kill_session(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain kill(2); the child is unreaped, so its process group id
    // cannot have been reused.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

enum ReadResult {
    Data,
    Nothing,
    Closed,
}

struct Pty {
    master: File,
    slave_path: PathBuf,
}

impl Pty {
    /// posix_openpt rather than openpty(3): openpty's descriptors lack
    /// O_CLOEXEC, so a child spawned concurrently by another test thread
    /// would inherit the slave, and the master would not see end of file
    /// until that unrelated process exits.
    fn open() -> io::Result<Pty> {
        // std adds O_CLOEXEC.
        let master = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open("/dev/ptmx")?;
        let fd = master.as_raw_fd();
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: fd is an open ptmx descriptor; `name` is a writable buffer
        // of the length passed.
        unsafe {
            if libc::grantpt(fd) != 0 || libc::unlockpt(fd) != 0 {
                return Err(io::Error::last_os_error());
            }
            let rc = libc::ptsname_r(fd, name.as_mut_ptr(), name.len());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
        }
        // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated path.
        let slave_path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
            .to_str()
            .map(PathBuf::from)
            .map_err(|_| io::Error::other("pty slave name is not UTF-8"))?;
        let winsize = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a winsize struct. A size of 0x0 would make
        // some programs misbehave; failure to set it is not fatal.
        unsafe {
            libc::ioctl(fd, libc::TIOCSWINSZ, &winsize);
        }
        Ok(Pty { master, slave_path })
    }

    fn open_slave(&self) -> io::Result<OwnedFd> {
        // O_NOCTTY: the test process must not acquire the terminal itself.
        let file =
            OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY).open(&self.slave_path)?;
        Ok(file.into())
    }

    /// Whether the program has turned echo off. The slave's settings are
    /// read through a short-lived descriptor so it does not hold the
    /// terminal open.
    fn echo_is_off(&self) -> bool {
        let Ok(slave) = self.open_slave() else {
            return false;
        };
        // SAFETY: termios is plain data filled in by tcgetattr.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `slave` is an open terminal descriptor.
        if unsafe { libc::tcgetattr(slave.as_raw_fd(), &mut termios) } != 0 {
            return false;
        }
        termios.c_lflag & libc::ECHO == 0
    }

    fn write_nonblocking(&self, data: &[u8]) -> io::Result<usize> {
        match (&self.master).write(data) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Waits up to `wait` for output and appends what is available.
    fn read_nonblocking(&self, out: &mut Vec<u8>, wait: Duration) -> io::Result<ReadResult> {
        let mut pfd = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let millis = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, millis) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted { Ok(ReadResult::Nothing) } else { Err(err) };
        }
        if rc == 0 {
            return Ok(ReadResult::Nothing);
        }
        let mut chunk = [0u8; 4096];
        match (&self.master).read(&mut chunk) {
            Ok(0) => Ok(ReadResult::Closed),
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                Ok(ReadResult::Data)
            }
            // Linux reports a pty whose slave side is closed everywhere as EIO.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(ReadResult::Closed),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                Ok(ReadResult::Nothing)
            }
            Err(e) => Err(e),
        }
    }
}
