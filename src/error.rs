//! One error type for the whole crate, mapped onto the documented exit codes.
//!
//! Every variant carries what happened and, where there is one, what the user
//! can do about it (`hint`). Messages never contain a secret or a token: the
//! values that reach this module are profile names, client ids, URLs, HTTP
//! statuses and the datacenter's own error descriptions.

use std::fmt;

/// Process exit codes. They are part of the command-line contract: scripts
/// branch on them, so they never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    /// Anything not covered below: I/O failures, a corrupt config file,
    /// an answer from the datacenter that makes no sense.
    Unexpected = 1,
    /// Bad arguments or input: a malformed URL, an empty secret, a flag
    /// combination that cannot work.
    Usage = 2,
    /// No such profile, or no credentials for it.
    NoCredentials = 3,
    /// The datacenter refused the client id and secret.
    Rejected = 4,
    /// The datacenter could not be reached or is failing (timeouts, 429, 5xx).
    Unavailable = 5,
    /// The secret store is missing, locked or not answering.
    StoreUnavailable = 6,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Which kind of failure, decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Unexpected,
    Usage,
    NoCredentials,
    Rejected,
    Unavailable,
    StoreUnavailable,
}

impl ErrorKind {
    pub fn exit_code(self) -> ExitCode {
        match self {
            ErrorKind::Unexpected => ExitCode::Unexpected,
            ErrorKind::Usage => ExitCode::Usage,
            ErrorKind::NoCredentials => ExitCode::NoCredentials,
            ErrorKind::Rejected => ExitCode::Rejected,
            ErrorKind::Unavailable => ExitCode::Unavailable,
            ErrorKind::StoreUnavailable => ExitCode::StoreUnavailable,
        }
    }
}

/// An error a user can read: one sentence of what happened, optionally one
/// line of what to do next.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    /// Already shown to the user in the protocol's own way (docker reads
    /// errors from stdout): only the exit code is left to give.
    reported: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, reported: false }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    pub fn unexpected(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unexpected, message)
    }

    pub fn no_credentials(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NoCredentials, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Rejected, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }

    pub fn store(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::StoreUnavailable, message)
    }

    /// I/O on a named file.
    pub fn io(action: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::unexpected(format!("cannot {action} {}: {err}", path.display()))
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error with its message rewritten (kind and hint kept).
    pub fn map_message(mut self, f: impl FnOnce(&str) -> String) -> Self {
        self.message = f(&self.message);
        self
    }

    /// Marks the error as shown already; `run` then prints nothing.
    pub fn reported(mut self) -> Self {
        self.reported = true;
        self
    }

    pub fn is_reported(&self) -> bool {
        self.reported
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn exit_code(&self) -> ExitCode {
        self.kind.exit_code()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Hint telling the user how to register a profile.
    pub fn no_profile(profile: &str, config: &std::path::Path) -> Self {
        Error::no_credentials(format!(
            "no profile named '{profile}' in {}",
            config.display()
        ))
        .with_hint(format!(
            "register it: acronis-cred{} register --datacenter https://DC-cloud.acronis.com --client-id CLIENT_ID",
            profile_flag(profile)
        ))
    }
}

/// `--profile NAME` as it must be typed, or nothing for the default profile.
pub fn profile_flag(profile: &str) -> String {
    if profile == crate::config::DEFAULT_PROFILE { String::new() } else { format!(" --profile {profile}") }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
