//! When to try a request again, as a pure function of what happened.
//!
//! Retried: connection failures, 429, 502, 503, 504 (exponential backoff
//! with jitter, or the server's `Retry-After` up to a cap), and 500 at most
//! twice, 1-2 s apart, as the platform advises. Never retried: other 4xx
//! (a refused secret stays refused), redirects, timeouts (the time budget
//! is already spent).

use std::time::Duration;

use crate::time::{UnixTime, parse_http_date};

/// The longest `Retry-After` honoured; a longer one fails now instead.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// No retry starts later than this after the first attempt.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, budget: Duration::from_secs(30) }
    }
}

/// What an attempt ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    ConnectFailed,
    TimedOut,
    OtherTransport,
}

/// How long to wait before attempt `attempt + 1`, or `None` to give up.
/// `attempt` counts from 1; `jitter` is uniform in [0, 1).
pub fn delay_before_retry(
    outcome: Outcome,
    attempt: u32,
    retry_after: Option<Duration>,
    elapsed: Duration,
    policy: RetryPolicy,
    jitter: f64,
) -> Option<Duration> {
    if attempt >= policy.attempts {
        return None;
    }
    let backoff = || {
        let base =
            Duration::from_millis(500).saturating_mul(1 << (attempt - 1).min(5)).min(Duration::from_secs(8));
        // "Equal jitter": half fixed, half random, so callers spread out
        // without any of them retrying immediately.
        base / 2 + base.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    };
    let delay = match outcome {
        Outcome::Status(500) if attempt <= 2 => {
            Duration::from_secs(1) + Duration::from_secs(1).mul_f64(jitter.clamp(0.0, 1.0))
        }
        Outcome::Status(429 | 502 | 503 | 504) => match retry_after {
            Some(d) if d > RETRY_AFTER_CAP => return None,
            Some(d) => d,
            None => backoff(),
        },
        Outcome::ConnectFailed => backoff(),
        _ => return None,
    };
    (elapsed + delay <= policy.budget).then_some(delay)
}

/// `Retry-After`: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: UnixTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(Duration::from_secs(u64::try_from(at.saturating_sub(now)).unwrap_or(0)))
}

/// A number in [0, 1) from the process's random hasher keys: enough to
/// spread retries, no dependency needed.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RetryPolicy = RetryPolicy { attempts: 4, budget: Duration::from_secs(30) };
    const ZERO: Duration = Duration::ZERO;

    fn d(outcome: Outcome, attempt: u32) -> Option<Duration> {
        delay_before_retry(outcome, attempt, None, ZERO, P, 0.0)
    }

    #[test]
    fn never_retried() {
        for status in [200, 302, 400, 401, 403, 404, 418] {
            assert_eq!(d(Outcome::Status(status), 1), None, "{status}");
        }
        assert_eq!(d(Outcome::TimedOut, 1), None);
        assert_eq!(d(Outcome::OtherTransport, 1), None);
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        assert_eq!(d(Outcome::Status(503), 1), Some(Duration::from_millis(250)));
        assert_eq!(d(Outcome::Status(502), 2), Some(Duration::from_millis(500)));
        assert_eq!(d(Outcome::ConnectFailed, 3), Some(Duration::from_millis(1000)));
        let high = delay_before_retry(Outcome::Status(504), 1, None, ZERO, P, 0.999).unwrap();
        assert!(high > Duration::from_millis(490) && high < Duration::from_millis(500), "{high:?}");
    }

    #[test]
    fn bounded_by_attempts_and_budget() {
        assert_eq!(d(Outcome::Status(503), 4), None);
        let late = delay_before_retry(Outcome::Status(503), 1, None, Duration::from_secs(30), P, 0.0);
        assert_eq!(late, None);
    }

    #[test]
    fn five_hundred_twice_one_to_two_seconds() {
        let first = d(Outcome::Status(500), 1).unwrap();
        assert!(first >= Duration::from_secs(1) && first < Duration::from_secs(2));
        assert!(d(Outcome::Status(500), 2).is_some());
        assert_eq!(d(Outcome::Status(500), 3), None);
    }

    #[test]
    fn retry_after_honoured_up_to_cap() {
        let ra = |s| delay_before_retry(Outcome::Status(429), 1, Some(Duration::from_secs(s)), ZERO, P, 0.5);
        assert_eq!(ra(3), Some(Duration::from_secs(3)));
        assert_eq!(ra(31), None);
        assert_eq!(parse_retry_after(" 7 ", 0), Some(Duration::from_secs(7)));
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_790), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", 0), None);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
