//! An in-memory store for unit tests of the logic above the stores, with
//! one-shot failure injection.

use std::cell::RefCell;
use std::collections::HashMap;

use secrecy::SecretString;

use crate::error::{Error, Result};

use super::{SecretStore, StoreKind};

#[derive(Default)]
pub struct MemoryStore {
    entries: RefCell<HashMap<String, SecretString>>,
    fail_next: RefCell<Option<&'static str>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call fails with a store error carrying `message`.
    pub fn fail_next(&self, message: &'static str) {
        *self.fail_next.borrow_mut() = Some(message);
    }

    pub fn contains(&self, account: &str) -> bool {
        self.entries.borrow().contains_key(account)
    }

    fn check(&self) -> Result<()> {
        match self.fail_next.borrow_mut().take() {
            Some(msg) => Err(Error::store(msg)),
            None => Ok(()),
        }
    }
}

impl SecretStore for MemoryStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }

    fn get(&self, account: &str) -> Result<Option<SecretString>> {
        self.check()?;
        Ok(self.entries.borrow().get(account).cloned())
    }

    fn set(&self, account: &str, secret: &SecretString) -> Result<()> {
        self.check()?;
        self.entries.borrow_mut().insert(account.to_string(), secret.clone());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool> {
        self.check()?;
        Ok(self.entries.borrow_mut().remove(account).is_some())
    }
}
