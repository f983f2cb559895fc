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
    /// Colour the message labels on stderr.
    pub color: bool,
}

impl Ui<'_> {
    fn label(&self, text: &str, sgr: &str) -> String {
        if self.color { format!("\x1b[{sgr}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// A warning the user should see unless they asked for quiet.
    pub fn warn(&mut self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            let label = self.label("warning:", "1;33");
            let _ = writeln!(self.stderr, "acronis-cred: {label} {message}");
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
        let label = self.label("error:", "1;31");
        let _ = writeln!(self.stderr, "acronis-cred: {label} {}", err.message());
        if let Some(hint) = err.hint() {
            let label = self.label("hint:", "1;36");
            let _ = writeln!(self.stderr, "acronis-cred: {label} {hint}");
        }
    }
}
