//! The three standard streams, passed to every command. stdout carries only
//! what the caller asked for; messages go to stderr.

use std::io::{BufRead, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

pub struct Ui<'a> {
    pub stdin: &'a mut dyn BufRead,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    pub verbosity: Verbosity,
}

impl Ui<'_> {
    /// A warning the user should see unless they asked for quiet.
    pub fn warn(&mut self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(self.stderr, "acronis-cred: warning: {message}");
        }
    }

    /// A confirmation of what a command did (e.g. "registered ...").
    pub fn note(&mut self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(self.stderr, "acronis-cred: {message}");
        }
    }

    /// Detail shown with -v.
    pub fn info(&mut self, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            let _ = writeln!(self.stderr, "acronis-cred: {message}");
        }
    }

    /// Prints an error and its hint; always shown.
    pub fn error(&mut self, err: &crate::error::Error) {
        let _ = writeln!(self.stderr, "acronis-cred: error: {}", err.message());
        if let Some(hint) = err.hint() {
            let _ = writeln!(self.stderr, "acronis-cred: hint: {hint}");
        }
    }
}
