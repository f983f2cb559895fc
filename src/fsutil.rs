//! Private files: 0700 directories, 0600 files, atomic replacement, locks.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result};

/// Creates `dir` (and parents) readable only by the owner.
/// An existing directory must be ours and closed to others: one owned by
/// another user is refused, one open to others is closed (0700).
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io("create directory", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = fs::symlink_metadata(dir).map_err(|e| Error::io("inspect", dir, e))?;
        if meta.file_type().is_symlink() {
            return Err(Error::unexpected(format!(
                "{} is a symbolic link; refusing to use it",
                dir.display()
            ))
            .with_hint("remove the link; acronis-cred creates this directory itself"));
        }
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(Error::unexpected(format!(
                "{} belongs to another user (uid {}); refusing to use it",
                dir.display(),
                meta.uid()
            ))
            .with_hint(
                "remove it, or point XDG_RUNTIME_DIR / XDG_STATE_HOME / HOME at your own directories",
            ));
        }
        if meta.mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("protect", dir, e))?;
        }
    }
    Ok(())
}

/// Checks a file acronis-cred trusts (the config file, a CA file): it must
/// belong to this user or root and be writable by nobody else. Returns a
/// warning when it had to close read access for others.
pub fn check_trusted_file(path: &Path, what: &str) -> Result<Option<String>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("inspect", path, e)),
        };
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(Error::unexpected(format!(
                "the {what} {} belongs to another user (uid {}); refusing to use it",
                path.display(),
                meta.uid()
            ))
            .with_hint("anyone who can change it can redirect your credentials; use a file of your own"));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(Error::unexpected(format!(
                "the {what} {} is writable by other users; refusing to use it",
                path.display()
            ))
            .with_hint(format!("check its contents, then: chmod go-w {}", path.display())));
        }
        if what == "config file" && meta.mode() & 0o044 != 0 && meta.uid() == me {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io("protect", path, e))?;
            return Ok(Some(format!(
                "{} was readable by other users; made it private (0600)",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(None)
}

/// Reads a small file without following a symbolic link at its last component.
pub fn read_no_follow(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path)?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut out)?;
    Ok(out)
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Replaces `path` with `contents` so that a reader sees the old or the new
/// file, never a mix, even if the process dies half-way: write a temporary
/// file beside it, flush it to disk, rename it over the old one.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::unexpected(format!("{} has no parent directory", path.display())))?;
    create_private_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        // A leftover of a crashed run (or a planted file) goes first: the
        // temporary file is always created new, never reused.
        let _ = fs::remove_file(&tmp);
        let mut file = private_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        file.write_all(contents).map_err(|e| Error::io("write", &tmp, e))?;
        file.sync_all().map_err(|e| Error::io("flush", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("replace", path, e))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// An exclusive advisory lock held until dropped. The kernel releases it when
/// the holder dies, so a killed process never leaves a lock stuck.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Waits up to `timeout` for the lock on `path` (created 0600 if missing).
    pub fn acquire(path: &Path, timeout: Duration, what: &str) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("open lock file", path, e))?;
        match file.try_lock() {
            Ok(()) => return Ok(FileLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
        }
        // Someone else holds it: block on a helper thread so the wait can
        // have a deadline (a stopped holder must not hang every caller).
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let result = file.lock().map(|()| file);
            let _ = tx.send(result);
        });
        match rx.recv_timeout(timeout) {
            Ok(Ok(file)) => Ok(FileLock { _file: file }),
            Ok(Err(e)) => Err(Error::io("lock", path, e)),
            Err(_) => Err(Error::unexpected(format!(
                "another acronis-cred process has held the {what} lock ({}) for more than {} s",
                path.display(),
                timeout.as_secs()
            ))
            .with_hint(
                "find it with `fuser` or `lsof` on that file; it is released when that process exits",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_is_private_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }

    #[test]
    fn lock_times_out_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = FileLock::acquire(&path, Duration::from_secs(1), "test").unwrap();
        let err = FileLock::acquire(&path, Duration::from_millis(100), "test").err().unwrap();
        assert!(err.message().contains("held the test lock"), "{}", err.message());
        drop(held);
        FileLock::acquire(&path, Duration::from_millis(100), "test").unwrap();
    }
}
