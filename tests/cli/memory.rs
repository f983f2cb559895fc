//! Memory hygiene, proven on the real binary: stop it when its work is done
//! (a test-only hook), read all of its writable memory through
//! /proc/PID/mem, and look for the secret, the Basic credentials and the
//! token. The same run with the zeroing allocator turned off must find
//! them, which shows the test can fail.

use std::io::{Read, Seek, SeekFrom};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::support::sandbox::{Backend, CLIENT_ID, SECRET, Sandbox};

fn wait_stopped(child: &Child) {
    let stat = format!("/proc/{}/stat", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&stat).expect("read /proc/PID/stat");
        // The state follows the parenthesised command name.
        let state = text.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
        if state == Some("T") || state == Some("t") {
            return;
        }
        assert!(Instant::now() < deadline, "the process never stopped: {text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every writable mapping of `pid`, concatenated.
fn writable_memory(pid: u32) -> Vec<u8> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .expect("read maps (needs root: the process is not dumpable)");
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem"))
        .expect("open /proc/PID/mem: run the tests as root (CAP_SYS_PTRACE), as CI does");
    let mut all = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else {
            continue;
        };
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut region).is_ok() {
            all.extend_from_slice(&region);
        }
    }
    assert!(all.len() > 100_000, "read too little memory ({} bytes)", all.len());
    all
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs `args` until it stops at exit; returns its writable memory.
fn memory_at_exit(sb: &Sandbox, args: &[&str], stdin: &[u8], zeroing: bool) -> Vec<u8> {
    let mut cmd = sb.cmd(args);
    cmd.env("ACRONIS_CRED_TEST_STOP_AT_EXIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !zeroing {
        cmd.env("ACRONIS_CRED_TEST_NO_ZEROING", "1");
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin).unwrap();
    }
    wait_stopped(&child);
    let memory = writable_memory(child.id());
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_none(),
        "the process exited by itself: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    memory
}

fn present(memory: &[u8], needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    needles.iter().filter(|(_, n)| find(memory, n)).map(|(name, _)| name.to_string()).collect()
}

fn secret_needles() -> Vec<(&'static str, Vec<u8>)> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    vec![("secret", SECRET.as_bytes().to_vec()), ("basic credentials", basic.into_bytes())]
}

#[test]
fn no_secret_or_token_left_in_memory() {
    for backend in [Backend::Keyutils, Backend::SecretService] {
        let sb = Sandbox::new(backend);
        let url = sb.dc.url();
        let register = ["register", "--datacenter", url.as_str(), "--client-id", CLIENT_ID, "--secret-stdin"];
        let memory = memory_at_exit(&sb, &register, format!("{SECRET}\n").as_bytes(), true);
        let found = present(&memory, &secret_needles());
        assert!(found.is_empty(), "{backend:?} register left {found:?} in memory");

        // A real exchange: the secret is loaded and sent, the token printed.
        let memory = memory_at_exit(&sb, &["token", "--refresh"], b"", true);
        let mut needles = secret_needles();
        needles.push(("token", sb.dc.last_token().unwrap().into_bytes()));
        let found = present(&memory, &needles);
        assert!(found.is_empty(), "{backend:?} token --refresh left {found:?} in memory");

        // A cache hit: the token is read from the cache and printed.
        let memory = memory_at_exit(&sb, &["token"], b"", true);
        let found = present(&memory, &[("token", sb.dc.last_token().unwrap().into_bytes())]);
        assert!(found.is_empty(), "{backend:?} cached token left {found:?} in memory");
    }
}

#[test]
fn the_memory_test_bites_without_the_zeroing_allocator() {
    let sb = Sandbox::new(Backend::Keyutils);
    sb.register().success();
    let memory = memory_at_exit(&sb, &["token", "--refresh"], b"", false);
    let mut needles = secret_needles();
    needles.push(("token", sb.dc.last_token().unwrap().into_bytes()));
    let found = present(&memory, &needles);
    eprintln!("without zeroing, found in memory: {found:?}");
    assert!(
        !found.is_empty(),
        "without zeroing the secret should still be in memory; the test proves nothing"
    );
}
