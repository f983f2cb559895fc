//! Process hardening done first thing in `main`: a crash or a debugger must
//! not be a way to read the secret out of this process.

/// On Linux: no core dumps, and no ptrace attach by other processes of the
/// same user (`PR_SET_DUMPABLE` 0 also makes `/proc/PID/mem` root-only).
/// Failures are ignored: hardening is best effort and must not stop the tool.
pub fn harden_process() {
    #[cfg(unix)]
    {
        let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: setrlimit reads a valid rlimit struct for the duration of the call.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes plain integer arguments and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Whether the process is currently marked non-dumpable (for tests).
#[cfg(target_os = "linux")]
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 }
}
