//! Tokens cached in the Linux kernel's user keyring (`@u`).
//!
//! No disk is involved, a read is one `keyctl_search` plus one `keyctl_read`,
//! and the key's kernel timeout is set to the token's expiry, so the kernel
//! itself drops a token that nobody asked for again.

use crate::error::{Error, Result};
use crate::time::UnixTime;

use super::{CacheTier, CachedToken, TokenCache};

/// Description prefix of every cache key: `keyctl search @u user acronis-cred:token:default`.
pub const KEY_PREFIX: &str = "acronis-cred:token:";

pub struct KernelCache {
    #[cfg(target_os = "linux")]
    ring: linux_keyutils::KeyRing,
}

impl KernelCache {
    /// The user keyring, or `None` where keyutils is not usable (other
    /// platforms; containers whose seccomp profile blocks the keyctl calls).
    pub fn open() -> Option<KernelCache> {
        #[cfg(target_os = "linux")]
        {
            use linux_keyutils::{KeyRing, KeyRingIdentifier};
            KeyRing::from_special_id(KeyRingIdentifier::User, false).ok().map(|ring| KernelCache { ring })
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use linux_keyutils::{Key, KeyError, KeyPermissionsBuilder, Permission};
    use zeroize::Zeroizing;

    use super::*;

    fn description(key: &str) -> String {
        format!("{KEY_PREFIX}{key}")
    }

    fn kernel_error(action: &str, e: KeyError) -> Error {
        Error::unexpected(format!("cannot {action} the token in the kernel keyring: {e}"))
    }

    impl KernelCache {
        fn find(&self, key: &str) -> Result<Option<Key>> {
            match self.ring.search(&description(key)) {
                Ok(k) => Ok(Some(k)),
                // Missing, expired, revoked: all just "no cached token".
                Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => Ok(None),
                Err(KeyError::AccessDenied) => Ok(None),
                Err(e) => Err(kernel_error("look up", e)),
            }
        }
    }

    impl TokenCache for KernelCache {
        fn tier(&self) -> CacheTier {
            CacheTier::Kernel
        }

        fn load(&self, key: &str) -> Result<Option<CachedToken>> {
            let Some(k) = self.find(key)? else {
                return Ok(None);
            };
            // Most records fit 4 KiB; keyctl_read reports the full size when
            // they do not, and a record is bounded by the 16 KiB token limit.
            let mut buf = Zeroizing::new(vec![0u8; 4096]);
            for _ in 0..2 {
                let n = match k.read(&mut *buf) {
                    Ok(n) => n,
                    Err(KeyError::KeyExpired | KeyError::KeyRevoked | KeyError::KeyDoesNotExist) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(kernel_error("read", e)),
                };
                if n <= buf.len() {
                    return Ok(CachedToken::decode(&buf[..n]));
                }
                if n > 64 * 1024 {
                    return Ok(None);
                }
                buf = Zeroizing::new(vec![0u8; n]);
            }
            Ok(None)
        }

        fn save(&self, key: &str, token: &CachedToken, now: UnixTime) -> Result<()> {
            let bytes = token.encode();
            // Adding a key with an existing description replaces its payload
            // in place, atomically for readers.
            let k = self.ring.add_key(&description(key), &*bytes).map_err(|e| kernel_error("store", e))?;
            // Possessor all; same-uid processes read it even from a session
            // keyring that does not link @u. Nobody else gets anything.
            let perms =
                KeyPermissionsBuilder::builder().posessor(Permission::ALL).user(Permission::ALL).build();
            k.set_perms(perms).map_err(|e| kernel_error("protect", e))?;
            let ttl = token.token.expires_at().saturating_sub(now).max(1);
            k.set_timeout(usize::try_from(ttl).unwrap_or(usize::MAX))
                .map_err(|e| kernel_error("set the expiry of", e))
        }

        fn remove(&self, key: &str) -> Result<()> {
            if let Some(k) = self.find(key)? {
                match k.invalidate() {
                    Ok(()) | Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                    }
                    Err(e) => return Err(kernel_error("remove", e)),
                }
            }
            Ok(())
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl TokenCache for KernelCache {
    fn tier(&self) -> CacheTier {
        CacheTier::Kernel
    }
    fn load(&self, _: &str) -> Result<Option<CachedToken>> {
        Ok(None)
    }
    fn save(&self, _: &str, _: &CachedToken, _: UnixTime) -> Result<()> {
        Err(Error::unexpected("the kernel keyring exists only on Linux"))
    }
    fn remove(&self, _: &str) -> Result<()> {
        Ok(())
    }
}
