//! Process hardening done first thing in `main`: a crash or a debugger must
//! not be a way to read the secret out of this process.

#[cfg(unix)]
use std::sync::OnceLock;

/// The core-dump limit found at start, given back to commands run by `exec`.
#[cfg(unix)]
static ORIGINAL_CORE_LIMIT: OnceLock<libc::rlimit> = OnceLock::new();

/// On Linux: no core dumps, and no ptrace attach by other processes of the
/// same user (`PR_SET_DUMPABLE` 0 also makes `/proc/PID/mem` root-only).
/// Failures are ignored: hardening is best effort and must not stop the tool.
pub fn harden_process() {
    #[cfg(unix)]
    {
        let mut original = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into a valid, owned rlimit struct.
        if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut original) } == 0 {
            let _ = ORIGINAL_CORE_LIMIT.set(original);
        }
        // Lower only the soft limit, so the child of `exec` can get it back.
        let off = libc::rlimit { rlim_cur: 0, rlim_max: original.rlim_max };
        // SAFETY: setrlimit reads a valid rlimit struct for the duration of the call.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &off);
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes plain integer arguments and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Undoes what a program started by `exec` should not inherit. (The kernel
/// resets the dumpable flag itself on execve.)
pub fn restore_for_child() {
    #[cfg(unix)]
    if let Some(original) = ORIGINAL_CORE_LIMIT.get() {
        // SAFETY: as above.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, original);
        }
    }
}

/// Test-only hooks, read from the environment (see docs/SECURITY.md):
/// `ACRONIS_CRED_TEST_NO_ZEROING=1` turns the zeroing allocator off, to show
/// that the memory test notices.
pub fn apply_test_hooks_at_start(env: &crate::env::Env) {
    if env.get("ACRONIS_CRED_TEST_NO_ZEROING") == Some("1") {
        crate::alloc::disable_zeroing();
    }
}

/// `ACRONIS_CRED_TEST_STOP_AT_EXIT=1` stops the process (SIGSTOP) when its
/// work is done, so a test can read its memory before it exits.
pub fn apply_test_hooks_at_exit(env: &crate::env::Env) {
    #[cfg(unix)]
    if env.get("ACRONIS_CRED_TEST_STOP_AT_EXIT") == Some("1") {
        // SAFETY: raising a signal on ourselves has no memory effects.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
}
