//! A private Secret Service (D-Bus session bus + unlocked gnome-keyring) per
//! test.
//!
//! Every instance has its own temporary directory, bus socket and keyring,
//! so tests can run in parallel threads and processes without seeing each
//! other or the user's real keyrings. Both daemons are direct children of the
//! test process, stopped when the instance is dropped and killed by the
//! kernel (PR_SET_PDEATHSIG) if the test process dies first.
//!
//! Things that look simpler but break:
//! - `dbus-daemon --session` reads the system's service files, so the bus
//!   would D-Bus-activate a fresh gnome-keyring-daemon whenever a client asks
//!   for org.freedesktop.secrets: "service not running" tests would find one
//!   running, and a locked collection would trigger a prompter instead of an
//!   error. The bus here runs from a generated configuration without service
//!   directories.
//! - A daemonizing gnome-keyring-daemon is re-parented away from the test and
//!   is not covered by PR_SET_PDEATHSIG; where the init process does not reap
//!   orphans it also lingers as a zombie. It runs with `--foreground` here.
//! - PR_SET_PDEATHSIG fires when the *thread* that forked the child exits,
//!   not the process. Test threads end while a shared instance may still be
//!   in use, so the children are forked from a keeper thread that lives as
//!   long as the instance.
//! - The bus address is handed out without its `,guid=` part: zbus rejects a
//!   connection whose server GUID differs from the one in the address.

// Each test binary uses a different subset of this API.
#![allow(dead_code)]

use std::fs::{self, DirBuilder};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const INSTALL_HINT: &str = "apt-get install dbus-daemon dbus-bin gnome-keyring libsecret-tools";
const KEYRING_PASSWORD: &str = "test-keyring-password";
const SECRETS_NAME: &str = "org.freedesktop.secrets";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const DBUS_CALL_TIMEOUT: Duration = Duration::from_secs(5);
const SECRET_TOOL_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_GRACE: Duration = Duration::from_secs(3);
/// sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

pub struct SecretService {
    dir: PathBuf,
    address: String,
    dbus: Mutex<Option<Child>>,
    keyring: Mutex<Option<Child>>,
    dbus_pid: u32,
    keyring_pid: u32,
    keeper: Option<Keeper>,
}

impl SecretService {
    /// Starts a bus and an unlocked keyring. Panics (never skips) if a tool is
    /// missing or the service does not come up.
    pub fn start() -> SecretService {
        for tool in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool"] {
            if find_in_path(tool).is_none() {
                panic!("{tool} not found in PATH; the Secret Service tests need it: {INSTALL_HINT}");
            }
        }

        let dir = make_private_dir();
        let home = dir.join("home");
        let run = dir.join("run");
        let socket = run.join("bus");
        let listen = match socket.to_str() {
            Some(path) => format!("unix:path={}", escape_dbus_address_value(path)),
            None => String::new(),
        };
        // From here on a panic drops `ss`, which stops whatever already
        // started and removes the directory.
        let mut ss = SecretService {
            dir: dir.clone(),
            address: listen.clone(),
            dbus: Mutex::new(None),
            keyring: Mutex::new(None),
            dbus_pid: 0,
            keyring_pid: 0,
            keeper: Some(Keeper::start()),
        };
        if listen.is_empty() {
            panic!("temp dir {} is not UTF-8", dir.display());
        }
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            panic!(
                "bus socket path {} is longer than a unix socket allows; \
                 point TMPDIR at a shorter directory",
                socket.display()
            );
        }
        for sub in
            [home.clone(), home.join(".local/share"), home.join(".config"), home.join(".cache"), run.clone()]
        {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&sub)
                .unwrap_or_else(|e| panic!("create {}: {e}", sub.display()));
        }

        let config = dir.join("bus.conf");
        fs::write(&config, bus_config(&listen)).unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        let dbus_log = dir.join("dbus-daemon.log");
        let mut dbus = Command::new("dbus-daemon");
        dbus.arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg(format!("--address={listen}"))
            .arg("--print-address=1")
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &run)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&dbus_log));
        let mut dbus =
            ss.keeper().spawn(dbus).unwrap_or_else(|e| panic!("spawn dbus-daemon: {e}; {INSTALL_HINT}"));
        ss.dbus_pid = dbus.id();
        let stdout = dbus.stdout.take().expect("dbus-daemon stdout was piped");
        *lock(&ss.dbus) = Some(dbus);
        let printed = read_first_line(stdout, STARTUP_TIMEOUT).unwrap_or_else(|e| {
            panic!("dbus-daemon did not print its address: {e}; log: {}", read_log(&dbus_log))
        });
        // Printing the address is the readiness signal; the address itself is
        // not used because it carries `,guid=...`.
        if !printed.starts_with("unix:") {
            panic!("dbus-daemon printed {printed:?} instead of its address");
        }

        let keyring_log = dir.join("gnome-keyring-daemon.log");
        let mut keyring = Command::new("gnome-keyring-daemon");
        keyring
            .args(["--foreground", "--unlock", "--components=secrets"])
            // A cleared environment keeps DISPLAY, WAYLAND_DISPLAY and the
            // caller's XDG_* / GNOME_KEYRING_CONTROL from leading the daemon
            // to the user's real session or keyrings.
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_RUNTIME_DIR", &run)
            .env("DBUS_SESSION_BUS_ADDRESS", &listen)
            .current_dir(&home)
            .stdin(Stdio::piped())
            .stdout(log_file(&keyring_log))
            .stderr(log_file(&keyring_log));
        let mut keyring = ss
            .keeper()
            .spawn(keyring)
            .unwrap_or_else(|e| panic!("spawn gnome-keyring-daemon: {e}; {INSTALL_HINT}"));
        ss.keyring_pid = keyring.id();
        let stdin = keyring.stdin.take();
        *lock(&ss.keyring) = Some(keyring);
        // --unlock reads the password up to end of input; with a fresh HOME it
        // creates the login keyring with it, unlocked.
        let wrote = stdin.map(|mut stdin| stdin.write_all(KEYRING_PASSWORD.as_bytes()));
        if !matches!(wrote, Some(Ok(()))) {
            panic!(
                "could not hand the keyring password to gnome-keyring-daemon: {wrote:?}; log: {}",
                read_log(&keyring_log)
            );
        }

        ss.wait_for_keyring_on_bus(&keyring_log);
        let collection = ss.default_collection();
        if ss.collection_locked(&collection) {
            panic!(
                "the default collection {collection} of a fresh keyring is locked; log: {}",
                read_log(&keyring_log)
            );
        }
        ss
    }

    /// `unix:path=...`, without the `,guid=` part.
    pub fn bus_address(&self) -> String {
        self.address.clone()
    }

    /// Variables a child process needs to use this Secret Service. The caller
    /// sets HOME and XDG_* itself.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("DBUS_SESSION_BUS_ADDRESS".to_string(), self.address.clone())];
        // Present once the daemon runs; it lets a gnome-keyring-daemon
        // started by the child find this one instead of the user's.
        let control = self.dir.join("run/keyring");
        if control.is_dir() {
            env.push(("GNOME_KEYRING_CONTROL".to_string(), control.to_string_lossy().into_owned()));
        }
        env
    }

    /// The instance's private directory (daemon logs, HOME, runtime dir).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn dbus_pid(&self) -> u32 {
        self.dbus_pid
    }

    pub fn keyring_pid(&self) -> u32 {
        self.keyring_pid
    }

    /// Locks the collection behind the `default` alias, as a screen lock
    /// would. Unlocking needs a prompt, which this bus cannot provide, so
    /// writes fail afterwards.
    pub fn lock_default_collection(&self) {
        let collection = self.default_collection();
        self.dbus_call(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &format!("array:objpath:{collection}"),
        ])
        .unwrap_or_else(|e| panic!("Secret Service Lock({collection}) failed: {e}"));
        if !self.collection_locked(&collection) {
            panic!("collection {collection} still unlocked after Lock");
        }
    }

    /// Stops gnome-keyring-daemon and leaves the bus running, so clients get
    /// "org.freedesktop.secrets not provided" rather than a dead socket.
    pub fn stop_daemon(&self) {
        let child = lock(&self.keyring).take();
        if let Some(child) = child {
            stop_child(child, "gnome-keyring-daemon");
        }
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while self.name_has_owner(SECRETS_NAME) {
            if Instant::now() >= deadline {
                panic!("{SECRETS_NAME} still owned on the bus after gnome-keyring-daemon exited");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs secret-tool against this bus, with empty stdin.
    pub fn secret_tool(&self, args: &[&str]) -> Output {
        self.secret_tool_with_input(args, b"")
    }

    /// Runs secret-tool against this bus; `input` is its stdin (the secret
    /// for `store`).
    pub fn secret_tool_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut cmd = Command::new("secret-tool");
        cmd.args(args)
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", self.dir.join("home"))
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        run_with_timeout(cmd, input, SECRET_TOOL_TIMEOUT)
            .unwrap_or_else(|e| panic!("secret-tool {args:?}: {e}"))
    }

    /// Stores, reads back and clears a value with secret-tool; panics with
    /// the tool's output if any step fails.
    pub fn assert_works(&self) {
        let key = format!("self-check-{}", unique_suffix());
        let attrs = ["acronis-cred-harness", key.as_str()];
        let stored = self.secret_tool_with_input(
            &["store", "--label=harness self-check", attrs[0], attrs[1]],
            b"self-check-value",
        );
        assert_success(&stored, "secret-tool store");
        let looked_up = self.secret_tool(&["lookup", attrs[0], attrs[1]]);
        assert_success(&looked_up, "secret-tool lookup");
        assert_eq!(
            String::from_utf8_lossy(&looked_up.stdout),
            "self-check-value",
            "secret-tool lookup returned the wrong value"
        );
        let cleared = self.secret_tool(&["clear", attrs[0], attrs[1]]);
        assert_success(&cleared, "secret-tool clear");
        let gone = self.secret_tool(&["lookup", attrs[0], attrs[1]]);
        assert!(gone.stdout.is_empty(), "secret-tool clear left the value behind");
    }

    fn keeper(&self) -> &Keeper {
        self.keeper.as_ref().expect("keeper thread exists until drop")
    }

    fn wait_for_keyring_on_bus(&self, log: &Path) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let exited = lock(&self.keyring).as_mut().and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "gnome-keyring-daemon exited ({status}) before claiming {SECRETS_NAME}; log: {}",
                    read_log(log)
                );
            }
            let reply = self.dbus_call(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
                &format!("string:{SECRETS_NAME}"),
            ]);
            if let Ok(reply) = reply {
                let owner = reply.split_whitespace().last().and_then(|s| s.parse::<u32>().ok());
                match owner {
                    Some(pid) if pid == self.keyring_pid => return,
                    _ => panic!(
                        "{SECRETS_NAME} on the private bus is owned by {reply:?}, \
                         not by gnome-keyring-daemon {}",
                        self.keyring_pid
                    ),
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "{SECRETS_NAME} did not appear on the private bus within {STARTUP_TIMEOUT:?}; log: {}",
                    read_log(log)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn default_collection(&self) -> String {
        let reply = self
            .dbus_call(&[
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.ReadAlias",
                "string:default",
            ])
            .unwrap_or_else(|e| panic!("ReadAlias(default) failed: {e}"));
        let path = reply.trim().to_string();
        if !path.starts_with("/org/freedesktop/secrets/collection/") {
            panic!("the default alias points to {path:?}, not to a collection");
        }
        path
    }

    fn collection_locked(&self, collection: &str) -> bool {
        let reply = self
            .dbus_call(&[
                "--dest=org.freedesktop.secrets",
                collection,
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ])
            .unwrap_or_else(|e| panic!("reading Locked of {collection} failed: {e}"));
        match reply.split_whitespace().last() {
            Some("true") => true,
            Some("false") => false,
            _ => panic!("unexpected Locked property reply {reply:?}"),
        }
    }

    fn name_has_owner(&self, name: &str) -> bool {
        let reply = self
            .dbus_call(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &format!("string:{name}"),
            ])
            .unwrap_or_else(|e| panic!("NameHasOwner({name}) failed: {e}"));
        reply.split_whitespace().last() == Some("true")
    }

    /// A method call on this bus; Ok(literal reply) or Err(description).
    fn dbus_call(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("dbus-send");
        cmd.arg(format!("--bus={}", self.address))
            .arg("--print-reply=literal")
            .args(args)
            .env_clear()
            .env("PATH", path_var());
        let output =
            run_with_timeout(cmd, b"", DBUS_CALL_TIMEOUT).map_err(|e| format!("dbus-send {args:?}: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "dbus-send {args:?}: {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // The keyring daemon first: it would exit on its own once the bus
        // goes, but only after noticing, and this way its exit is observed.
        if let Some(child) = lock(&self.keyring).take() {
            stop_child(child, "gnome-keyring-daemon");
        }
        if let Some(child) = lock(&self.dbus).take() {
            stop_child(child, "dbus-daemon");
        }
        // Ends the keeper thread only after its children are gone, so
        // PR_SET_PDEATHSIG does not fire on a process being shut down.
        drop(self.keeper.take());
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("secret service: could not remove {}: {e}", self.dir.display());
        }
    }
}

/// A thread that forks the daemons and stays alive until dropped.
/// PR_SET_PDEATHSIG is tied to the forking thread, so children spawned from
/// here live as long as this thread rather than the calling test thread.
struct Keeper {
    requests: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

impl Keeper {
    fn start() -> Keeper {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let thread = thread::Builder::new()
            .name("secret-service-keeper".to_string())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(spawn_dying_with_parent(&mut cmd));
                }
            })
            .expect("spawn the secret service keeper thread");
        Keeper { requests: Some(tx), thread: Some(thread) }
    }

    fn spawn(&self, cmd: Command) -> io::Result<Child> {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.requests
            .as_ref()
            .expect("keeper channel exists until drop")
            .send((cmd, reply_tx))
            .map_err(|_| io::Error::other("secret service keeper thread is gone"))?;
        reply_rx.recv().map_err(|_| io::Error::other("secret service keeper thread is gone"))?
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn spawn_dying_with_parent(cmd: &mut Command) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe calls (prctl, getppid) without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// SIGTERM, then SIGKILL after a grace period; always reaps. The child is not
/// reaped before this, so its pid cannot have been reused.
fn stop_child(mut child: Child, name: &str) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain kill(2) on our own unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(_) => break,
        }
    }
    eprintln!("secret service: {name} ({pid}) ignored SIGTERM; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Only ever poisoned by a panicking test; the child handle inside is
    // still what Drop needs to stop the daemon.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unique_suffix() -> String {
    let n = INSTANCE_COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{n}-{nanos:08x}", std::process::id())
}

/// A new directory, mode 0700, that did not exist before (create fails
/// otherwise), so nothing else can have planted files in it.
fn make_private_dir() -> PathBuf {
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let dir = base.join(format!("acred-ss-{}", unique_suffix()));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create a private directory in {}: {e}", base.display()),
        }
    }
    panic!("could not create a fresh directory in {}", base.display());
}

fn bus_config(listen: &str) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        escape_xml(listen)
    )
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// D-Bus address values may leave `-0-9A-Za-z_/.*` unescaped; the rest is %XX.
fn escape_dbus_address_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_/.*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn path_var() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&path_var())
        .map(|dir| dir.join(tool))
        .find(|p| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

fn log_file(path: &Path) -> Stdio {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open log file {}: {e}", path.display()));
    Stdio::from(file)
}

fn read_log(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => "(empty)".to_string(),
        Ok(text) => text,
        Err(e) => format!("(unreadable: {e})"),
    }
}

/// The first line of a pipe, waiting at most `timeout`. The pipe stays open
/// in a helper thread afterwards so the writer never gets SIGPIPE.
fn read_first_line(pipe: impl Read + Send + 'static, timeout: Duration) -> io::Result<String> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new().name("secret-service-address".to_string()).spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        let result = reader.read_line(&mut line).map(|_| line);
        let _ = tx.send(result);
        // Drain until the writer exits.
        let _ = io::copy(&mut reader, &mut io::sink());
    })?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(line)) if line.ends_with('\n') => Ok(line.trim_end().to_string()),
        Ok(Ok(line)) => {
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("output ended after {line:?}")))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("nothing within {timeout:?}"))),
    }
}

/// Runs `cmd` with `input` on stdin, capturing stdout and stderr; kills it
/// and returns TimedOut if it runs longer than `timeout`.
fn run_with_timeout(mut cmd: Command, input: &[u8], timeout: Duration) -> io::Result<Output> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // A tool that exits without reading its input is not an error.
            let _ = stdin.write_all(&input);
        }
    });
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("still running after {timeout:?}; killed"),
            ));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let _ = writer.join();
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}): stdout {:?}, stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
