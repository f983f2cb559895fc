//! Stamps `--version` with the git revision the binary was built from, when
//! built from a git checkout (a source tarball gets the plain version).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    let version = env!("CARGO_PKG_VERSION");
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()));
    let full = match revision {
        Some(rev) => format!("{version} ({rev})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=ACRONIS_CRED_VERSION={full}");
}
