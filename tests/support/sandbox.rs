//! A user's world for one test: private HOME and XDG directories, a fake
//! datacenter with one API client, a unique profile name, and (optionally) a
//! private Secret Service. The binary under test is run as a user would run
//! it, with an environment built from nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fake_dc::FakeDatacenter;
use super::secret_service::SecretService;

pub const CLIENT_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
pub const SECRET: &str = "s3cret-Value_0123456789abcdefXYZ";

/// Which secret store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    Keyutils,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::Keyutils => "keyutils",
        }
    }
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub profile: String,
    pub dc: FakeDatacenter,
    pub backend: Backend,
    pub ss: Option<SecretService>,
    extra_env: Vec<(String, String)>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_acronis-cred"))
}

impl Sandbox {
    pub fn new(backend: Backend) -> Sandbox {
        let dir = tempfile::Builder::new().prefix("acronis-cred-test-").tempdir().expect("create a temp dir");
        for sub in ["home", "config", "cache", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create sandbox dirs");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path().join("run"), std::fs::Permissions::from_mode(0o700))
                .expect("chmod run dir");
        }
        // Unique per test: the kernel keyrings are shared by every process of this user.
        let profile = format!(
            "t{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let dc = FakeDatacenter::start();
        dc.add_client(CLIENT_ID, SECRET);
        let ss = (backend == Backend::SecretService).then(SecretService::start);
        Sandbox { dir, profile, dc, backend, ss, extra_env: Vec::new() }
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("config/acronis-cred/config.toml")
    }

    /// Adds a variable to every command this sandbox builds.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.extra_env.push((name.into(), value.into()));
    }

    /// The binary, with a clean environment and this sandbox's profile and store.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_at(&bin(), args)
    }

    pub fn cmd_at(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("ACRONIS_PROFILE", &self.profile)
            .env("ACRONIS_CRED_STORE", self.backend.name())
            .args(args)
            .stdin(Stdio::null());
        if let Some(ss) = &self.ss {
            cmd.envs(ss.env());
        }
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run acronis-cred"))
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        run_with_stdin(self.cmd(args), input)
    }

    /// `register --secret-stdin` with the fake's client.
    pub fn register(&self) -> Run {
        self.register_with(SECRET, &[])
    }

    pub fn register_with(&self, secret: &str, extra: &[&str]) -> Run {
        let url = self.dc.url();
        let mut args = vec!["register", "--datacenter", &url, "--client-id", CLIENT_ID, "--secret-stdin"];
        args.extend_from_slice(extra);
        self.run_with_stdin(&args, format!("{secret}\n").as_bytes())
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Keys in the kernel keyrings outlive the process: take them away.
        let _ = self.cmd(&["remove"]).output();
        forget_env_source_tokens(&self.dc.url());
    }
}

/// Tokens cached for the env source have no profile to `remove`: unlink the
/// ones issued by this sandbox's datacenter from the user keyring.
fn forget_env_source_tokens(dc_url: &str) {
    let keyctl = |args: &[&str]| {
        Command::new("keyctl")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(ids) = keyctl(&["rlist", "@u"]) else {
        return;
    };
    for id in ids.split_whitespace() {
        let is_env_token = keyctl(&["rdescribe", id]).is_some_and(|d| d.contains(";acronis-cred:token:env-"));
        if is_env_token && keyctl(&["pipe", id]).is_some_and(|payload| payload.contains(dc_url)) {
            let _ = keyctl(&["unlink", id, "@u"]);
        }
    }
}

pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Run {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn acronis-cred");
    if let Some(mut stdin) = child.stdin.take() {
        // The process may exit before reading everything; that is its business.
        let _ = stdin.write_all(input);
    }
    Run::from(child.wait_with_output().expect("wait for acronis-cred"))
}

/// The outcome of one run, with assertions that print everything on failure.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "exit code {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        self
    }

    #[track_caller]
    pub fn stdout_empty(&self) -> &Run {
        assert!(self.stdout.is_empty(), "stdout should be empty, got:\n{}", self.stdout);
        self
    }

    #[track_caller]
    pub fn never_shows(&self, secret: &str) -> &Run {
        assert!(!self.stdout.contains(secret), "secret on stdout:\n{}", self.stdout);
        assert!(!self.stderr.contains(secret), "secret on stderr:\n{}", self.stderr);
        self
    }
}
