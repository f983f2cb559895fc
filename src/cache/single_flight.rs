//! Cache first, then one exchange per profile at a time.
//!
//! The decision is a pure function ([`TokenPolicy::serves`]); the sequence is:
//! read the cache; on a miss take the profile's lock; read the cache again
//! (another process may have refreshed it while we waited); only then load
//! the secret and exchange. So N concurrent cold callers cause one exchange,
//! and the secret store is not touched at all on a hit.

use std::path::Path;
use std::time::Duration;

use crate::error::{ErrorKind, Result};
use crate::fsutil::FileLock;
use crate::time::{Clock, UnixTime};
use crate::token::AccessToken;

use super::{CachedToken, TokenCache};

/// How long a waiting caller waits for another's exchange; bounded because a
/// stopped holder must not hang every script.
const LOCK_WAIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
pub struct TokenPolicy {
    /// A cached token with less validity left than this is replaced.
    pub min_valid: i64,
    /// Ignore the cache and exchange.
    pub refresh: bool,
}

impl TokenPolicy {
    /// Whether `cached` may be served for (`datacenter`, `client_id`) at `now`.
    pub fn serves(&self, cached: &CachedToken, datacenter: &str, client_id: &str, now: UnixTime) -> bool {
        !self.refresh
            && cached.is_for(datacenter, client_id)
            && cached.token.remaining(now) > 0
            && cached.token.remaining(now) >= self.min_valid
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Served from the cache.
    Cache,
    /// Served from the cache after waiting for another process's exchange.
    CacheAfterWait,
    /// Obtained by an exchange in this process.
    Exchange,
    /// The exchange failed with the datacenter unavailable (the message);
    /// a cached token inside the margin was served instead.
    Stale(String),
}

pub struct Obtained {
    pub token: AccessToken,
    pub origin: Origin,
    /// Set when the new token could not be cached (the caller warns).
    pub cache_error: Option<crate::error::Error>,
}

/// Everything [`obtain_token`] needs besides the credentials.
pub struct Binding<'a> {
    /// Cache key and lock name: the profile, or the env-source key.
    pub key: &'a str,
    pub datacenter: &'a str,
    pub client_id: &'a str,
}

/// Returns a token for `binding`, from the cache or from `fetch` (which
/// loads the secret and exchanges it, and says which client the token is
/// for), called only on a miss and only by one process at a time per binding.
pub fn obtain_token(
    binding: &Binding<'_>,
    policy: TokenPolicy,
    cache: &dyn TokenCache,
    lock_dir: &Path,
    clock: &dyn Clock,
    fetch: impl FnOnce() -> Result<(AccessToken, String)>,
    on_cache_error: &mut dyn FnMut(&crate::error::Error),
) -> Result<Obtained> {
    let load = |on_err: &mut dyn FnMut(&crate::error::Error)| match cache.load(binding.key) {
        Ok(found) => found,
        Err(e) => {
            on_err(&e);
            None
        }
    };
    let serves = |c: &CachedToken| policy.serves(c, binding.datacenter, binding.client_id, clock.now());
    // --refresh wants a new token whatever is cached: no lookups at all.
    if !policy.refresh
        && let Some(c) = load(on_cache_error).filter(|c| serves(c))
    {
        return Ok(Obtained { token: c.token, origin: Origin::Cache, cache_error: None });
    }
    let lock_path = lock_dir.join(format!("{}.lock", binding.key));
    let _lock = FileLock::acquire(&lock_path, LOCK_WAIT, "token")?;
    let cached = if policy.refresh { None } else { load(on_cache_error) };
    if let Some(c) = cached.as_ref().filter(|c| serves(c)) {
        return Ok(Obtained { token: c.token.clone(), origin: Origin::CacheAfterWait, cache_error: None });
    }
    let fetched = match fetch() {
        Ok(fetched) => fetched,
        // The datacenter is down but a token that has not expired is at hand
        // (inside the margin): better a short-lived token than none. Never
        // when the caller asked for a new one.
        Err(e) if e.kind() == ErrorKind::Unavailable && !policy.refresh => {
            let still_valid = cached.filter(|c| {
                c.is_for(binding.datacenter, binding.client_id) && c.token.remaining(clock.now()) > 0
            });
            match still_valid {
                Some(c) => {
                    return Ok(Obtained {
                        token: c.token,
                        origin: Origin::Stale(e.message().to_string()),
                        cache_error: None,
                    });
                }
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let (token, client_id) = fetched;
    // Recorded under the client it was really issued to: a token obtained
    // with another client's credentials is never served for this binding.
    let record = CachedToken {
        datacenter: binding.datacenter.to_string(),
        client_id,
        token: token.clone(),
        obtained_at: clock.now(),
    };
    let cache_error = cache.save(binding.key, &record, clock.now()).err();
    Ok(Obtained { token, origin: Origin::Exchange, cache_error })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use secrecy::SecretString;

    use super::*;
    use crate::cache::MemoryCache;
    use crate::datacenter::{ClientCredentials, DatacenterUrl, TokenExchange};
    use crate::error::Error;
    use crate::time::FixedClock;

    const DC: &str = "https://eu2-cloud.acronis.com";

    struct Counting {
        calls: Cell<u32>,
        lifetime: i64,
        now: i64,
        fail: bool,
    }

    impl TokenExchange for Counting {
        fn exchange(&self, creds: &ClientCredentials) -> Result<AccessToken> {
            self.calls.set(self.calls.get() + 1);
            if self.fail {
                return Err(Error::rejected("no"));
            }
            let value = format!("tok-{}-{}", creds.client_id, self.calls.get());
            Ok(AccessToken::new(SecretString::from(value), self.now + self.lifetime).unwrap())
        }
    }

    fn creds(client: &str) -> Result<ClientCredentials> {
        Ok(ClientCredentials {
            datacenter: DatacenterUrl::parse(DC).unwrap(),
            client_id: client.into(),
            secret: SecretString::from("s"),
        })
    }

    struct Rig {
        cache: MemoryCache,
        dir: tempfile::TempDir,
    }

    impl Rig {
        fn new() -> Self {
            Rig { cache: MemoryCache::default(), dir: tempfile::tempdir().unwrap() }
        }

        fn get(&self, client: &str, now: i64, policy: TokenPolicy, ex: &Counting) -> Result<Obtained> {
            let binding = Binding { key: "p", datacenter: DC, client_id: client };
            obtain_token(
                &binding,
                policy,
                &self.cache,
                self.dir.path(),
                &FixedClock(now),
                || Ok((ex.exchange(&creds(client)?)?, client.to_string())),
                &mut |_| {},
            )
        }
    }

    fn exch(now: i64) -> Counting {
        Counting { calls: Cell::new(0), lifetime: 7200, now, fail: false }
    }

    const FIVE_MIN: TokenPolicy = TokenPolicy { min_valid: 300, refresh: false };

    #[test]
    fn hit_after_first_exchange() {
        let rig = Rig::new();
        let ex = exch(1000);
        let first = rig.get("c", 1000, FIVE_MIN, &ex).unwrap();
        assert_eq!(first.origin, Origin::Exchange);
        let second = rig.get("c", 1500, FIVE_MIN, &ex).unwrap();
        assert_eq!(second.origin, Origin::Cache);
        assert_eq!(second.token.expose(), first.token.expose());
        assert_eq!(ex.calls.get(), 1);
    }

    #[test]
    fn margin_replaces_a_token_about_to_expire() {
        let rig = Rig::new();
        let ex = exch(0);
        rig.get("c", 0, FIVE_MIN, &ex).unwrap();
        // 7200 - 6901 = 299 s left: less than five minutes.
        assert_eq!(rig.get("c", 6901, FIVE_MIN, &ex).unwrap().origin, Origin::Exchange);
        // 300 s left exactly is still enough.
        let rig = Rig::new();
        rig.get("c", 0, FIVE_MIN, &ex).unwrap();
        assert_eq!(rig.get("c", 6900, FIVE_MIN, &ex).unwrap().origin, Origin::Cache);
    }

    #[test]
    fn never_serves_expired_even_with_zero_margin() {
        let rig = Rig::new();
        let ex = exch(0);
        let zero = TokenPolicy { min_valid: 0, refresh: false };
        rig.get("c", 0, zero, &ex).unwrap();
        assert_eq!(rig.get("c", 7199, zero, &ex).unwrap().origin, Origin::Cache);
        assert_eq!(rig.get("c", 7200, zero, &ex).unwrap().origin, Origin::Exchange);
    }

    #[test]
    fn refresh_forces_an_exchange() {
        let rig = Rig::new();
        let ex = exch(0);
        rig.get("c", 0, FIVE_MIN, &ex).unwrap();
        let again = rig.get("c", 1, TokenPolicy { min_valid: 300, refresh: true }, &ex).unwrap();
        assert_eq!(again.origin, Origin::Exchange);
        assert_eq!(ex.calls.get(), 2);
    }

    #[test]
    fn token_of_another_client_is_not_served() {
        let rig = Rig::new();
        let ex = exch(0);
        rig.get("c1", 0, FIVE_MIN, &ex).unwrap();
        let other = rig.get("c2", 1, FIVE_MIN, &ex).unwrap();
        assert_eq!(other.origin, Origin::Exchange);
        assert!(other.token.expose().starts_with("tok-c2-"));
    }

    #[test]
    fn failed_exchange_caches_nothing_and_keeps_the_old_token() {
        let rig = Rig::new();
        rig.get("c", 0, FIVE_MIN, &exch(0)).unwrap();
        let failing = Counting { fail: true, ..exch(0) };
        let refresh = TokenPolicy { min_valid: 300, refresh: true };
        assert!(rig.get("c", 1, refresh, &failing).is_err());
        assert_eq!(rig.get("c", 2, FIVE_MIN, &failing).unwrap().token.expose(), "tok-c-1");
    }

    #[test]
    fn datacenter_down_serves_a_valid_token_inside_the_margin() {
        let rig = Rig::new();
        rig.get("c", 0, FIVE_MIN, &exch(0)).unwrap();
        let down = |now| {
            let binding = Binding { key: "p", datacenter: DC, client_id: "c" };
            obtain_token(
                &binding,
                FIVE_MIN,
                &rig.cache,
                rig.dir.path(),
                &FixedClock(now),
                || Err(Error::unavailable("down")),
                &mut |_| {},
            )
        };
        // 100 s left: inside the 5-minute margin, still served, marked stale.
        let got = down(7100).unwrap();
        assert_eq!(got.origin, Origin::Stale("down".into()));
        // Expired: never.
        assert_eq!(down(7200).err().map(|e| e.kind()), Some(ErrorKind::Unavailable));
        // A rejection is not an outage: no stale token.
        let binding = Binding { key: "p", datacenter: DC, client_id: "c" };
        let rejected = obtain_token(
            &binding,
            FIVE_MIN,
            &rig.cache,
            rig.dir.path(),
            &FixedClock(7100),
            || Err(Error::rejected("no")),
            &mut |_| {},
        );
        assert_eq!(rejected.err().map(|e| e.kind()), Some(ErrorKind::Rejected));
        // --refresh asked for a new token: no stale one either.
        let refresh = TokenPolicy { min_valid: 300, refresh: true };
        let forced = obtain_token(
            &binding,
            refresh,
            &rig.cache,
            rig.dir.path(),
            &FixedClock(7100),
            || Err(Error::unavailable("down")),
            &mut |_| {},
        );
        assert!(forced.is_err());
    }

    #[test]
    fn secret_is_not_loaded_on_a_hit() {
        let rig = Rig::new();
        let ex = exch(0);
        rig.get("c", 0, FIVE_MIN, &ex).unwrap();
        let binding = Binding { key: "p", datacenter: DC, client_id: "c" };
        let got = obtain_token(
            &binding,
            FIVE_MIN,
            &rig.cache,
            rig.dir.path(),
            &FixedClock(10),
            || -> Result<(AccessToken, String)> { panic!("the secret was loaded on a cache hit") },
            &mut |_| {},
        );
        assert!(got.is_ok());
    }
}
