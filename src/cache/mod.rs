//! The token cache: where a token waits between calls, and the single-flight
//! rule that makes many concurrent callers cause one exchange.

mod kernel;
mod record;
mod single_flight;
mod store_tier;

use std::fmt;

use crate::error::Result;
use crate::time::UnixTime;

pub use kernel::KernelCache;
pub use record::CachedToken;
pub use single_flight::{Binding, Obtained, Origin, TokenPolicy, obtain_token};
pub use store_tier::{MemoryCache, StoreCache};

/// A place to keep tokens, keyed by profile (or by the env-source key).
pub trait TokenCache {
    fn tier(&self) -> CacheTier;
    fn load(&self, key: &str) -> Result<Option<CachedToken>>;
    fn save(&self, key: &str, token: &CachedToken, now: UnixTime) -> Result<()>;
    fn remove(&self, key: &str) -> Result<()>;
}

/// Which cache a profile uses; shown by `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheTier {
    /// Linux kernel user keyring (`@u`): memory only, dropped by the kernel at expiry.
    Kernel,
    /// The profile's secret store, under its own entry.
    Store,
    /// Process memory (unit tests).
    Memory,
    /// No caching: every call exchanges.
    None,
}

impl CacheTier {
    pub fn describe(self) -> &'static str {
        match self {
            CacheTier::Kernel => "kernel user keyring (memory only, dropped at expiry)",
            CacheTier::Store => "secret store",
            CacheTier::Memory => "process memory",
            CacheTier::None => "none (every call exchanges)",
        }
    }
}

impl fmt::Display for CacheTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CacheTier::Kernel => "kernel",
            CacheTier::Store => "store",
            CacheTier::Memory => "memory",
            CacheTier::None => "none",
        })
    }
}

/// The `token_cache` setting of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSetting {
    Auto,
    Kernel,
    Store,
    None,
}

impl std::str::FromStr for CacheSetting {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(CacheSetting::Auto),
            "kernel" => Ok(CacheSetting::Kernel),
            "store" => Ok(CacheSetting::Store),
            "none" => Ok(CacheSetting::None),
            other => Err(format!("unknown token cache '{other}' (expected auto, kernel, store or none)")),
        }
    }
}

/// A cache that keeps nothing.
pub struct NoCache;

impl TokenCache for NoCache {
    fn tier(&self) -> CacheTier {
        CacheTier::None
    }
    fn load(&self, _: &str) -> Result<Option<CachedToken>> {
        Ok(None)
    }
    fn save(&self, _: &str, _: &CachedToken, _: UnixTime) -> Result<()> {
        Ok(())
    }
    fn remove(&self, _: &str) -> Result<()> {
        Ok(())
    }
}
