//! Shared by the fuzz targets (each includes it with `#[path]`).

#![allow(dead_code)]

use std::sync::OnceLock;

/// `ACRONIS_FUZZ_TOLERATE_KNOWN=1` stops the targets from failing on the
/// bugs already reported in fuzz/README.md ("Findings"), so that a long run
/// can look for new ones. Unset (the default, and what CI uses) every
/// property is enforced.
pub fn tolerate_known() -> bool {
    static FLAG: OnceLock<bool> = OnceLock::new();
    *FLAG.get_or_init(|| std::env::var_os("ACRONIS_FUZZ_TOLERATE_KNOWN").is_some_and(|v| v != "0"))
}

/// Panics already reported in fuzz/README.md: (source file suffix, message
/// prefix). Only consulted with `ACRONIS_FUZZ_TOLERATE_KNOWN=1`.
const KNOWN_PANICS: &[(&str, &str)] = &[
    // Finding 3: `now - expires_at` in parse_success for a hugely negative expiry.
    ("src/datacenter/response.rs", "attempt to subtract with overflow"),
];

thread_local! {
    static KNOWN_HIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn is_known(info: &std::panic::PanicHookInfo<'_>) -> bool {
    let file = info.location().map(|l| l.file()).unwrap_or("");
    let msg = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    KNOWN_PANICS.iter().any(|(f, m)| file.ends_with(f) && msg.starts_with(m))
}

/// Runs `f`. Normally just `Some(f())`. When tolerating known bugs, a panic
/// listed in `KNOWN_PANICS` becomes `None` (the input is skipped); any other
/// panic still reaches libFuzzer's hook and aborts.
pub fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    if !tolerate_known() || KNOWN_PANICS.is_empty() {
        return Some(f());
    }
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if is_known(info) {
                KNOWN_HIT.with(|h| h.set(true));
            } else {
                prev(info);
            }
        }));
    });
    KNOWN_HIT.with(|h| h.set(false));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(payload) if KNOWN_HIT.with(|h| h.get()) => {
            drop(payload);
            None
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
