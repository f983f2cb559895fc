//! Runs a command with the kernel keyring system calls refused (EPERM), as
//! container runtimes' default seccomp profiles do.

use std::os::unix::process::CommandExt;
use std::process::Command;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_MODE_FILTER: libc::c_ulong = 2;
// offsetof(struct seccomp_data, nr) and (…, arch).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: BPF_JEQ_K, jt, jf, k }
}

/// Makes `cmd`'s process get EPERM from add_key, request_key and keyctl.
pub fn deny_keyring_syscalls(cmd: &mut Command) {
    let deny = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let filter = vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        // Another architecture's numbers mean other calls: leave them alone.
        jump(AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
        jump(libc::SYS_add_key as u32, 3, 0),
        jump(libc::SYS_request_key as u32, 2, 0),
        jump(libc::SYS_keyctl as u32, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        stmt(BPF_RET_K, deny),
    ];
    // SAFETY: only async-signal-safe prctl calls between fork and exec; the
    // filter vector is moved into the closure and outlives both calls.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog as *const libc::sock_fprog)
                    != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
