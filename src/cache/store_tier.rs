//! Tokens cached in a secret store (where the kernel keyring is not usable),
//! and in memory for unit tests.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use secrecy::{ExposeSecret, SecretString};

use crate::error::Result;
use crate::store::{SecretStore, token_account};
use crate::time::UnixTime;

use super::{CacheTier, CachedToken, TokenCache};

/// Keeps each token as its own store entry, user `<profile>:token`.
pub struct StoreCache {
    pub store: Rc<dyn SecretStore>,
}

impl TokenCache for StoreCache {
    fn tier(&self) -> CacheTier {
        CacheTier::Store
    }

    fn load(&self, key: &str) -> Result<Option<CachedToken>> {
        let Some(value) = self.store.get(&token_account(key))? else {
            return Ok(None);
        };
        Ok(CachedToken::decode(value.expose_secret().as_bytes()))
    }

    fn save(&self, key: &str, token: &CachedToken, _now: UnixTime) -> Result<()> {
        let bytes = token.encode();
        // encode() produces ASCII JSON.
        let text = SecretString::from(String::from_utf8_lossy(&bytes).into_owned());
        self.store.set(&token_account(key), &text)
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.store.delete(&token_account(key)).map(|_| ())
    }
}

/// For unit tests of the cache logic.
#[derive(Default)]
pub struct MemoryCache {
    entries: RefCell<HashMap<String, CachedToken>>,
}

impl TokenCache for MemoryCache {
    fn tier(&self) -> CacheTier {
        CacheTier::Memory
    }
    fn load(&self, key: &str) -> Result<Option<CachedToken>> {
        Ok(self.entries.borrow().get(key).cloned())
    }
    fn save(&self, key: &str, token: &CachedToken, _now: UnixTime) -> Result<()> {
        self.entries.borrow_mut().insert(key.to_string(), token.clone());
        Ok(())
    }
    fn remove(&self, key: &str) -> Result<()> {
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}
