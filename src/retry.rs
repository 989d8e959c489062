//! When a retryable failure is sent again: exponential backoff with full
//! jitter, bounded by time since the first attempt (and by attempts where
//! `max_retries` is set).

use crate::report::{Failure, codes};
use crate::rng::{Draw, Rng, Stream};
use std::time::Duration;

/// Extension: when and how often retryable failures are sent again.
///
/// A failure that waiting would cure is held, not handed back: records are
/// sent again until `max_duration` after their first attempt (5 minutes by
/// default, past a minute's outage), and `max_retries` caps attempts only
/// where it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Re-sends of a record after its first attempt (`max_retries`); `None`: only time bounds them.
    pub max_retries: Option<u32>,
    /// Backoff ceiling before the first re-send; doubles per attempt (`retry_initial_backoff`).
    pub initial_backoff: Duration,
    /// Backoff ceiling never grows past this (`retry_max_backoff`).
    pub max_backoff: Duration,
    /// No re-send starts later than this after the record's first attempt (`retry_max_duration`).
    pub max_duration: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: None,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_duration: Duration::from_secs(300),
        }
    }
}

/// Backoff draws for one target.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    /// Jitter needs spread between instances, not secrecy.
    rng: Rng,
}

impl Backoff {
    /// `seed` spreads instances started at the same moment; any value works.
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            policy,
            rng: Rng::new(seed, Stream::RETRY),
        }
    }

    /// The wait before re-send number `retry` (1-based): uniform in
    /// `[0, min(max_backoff, initial_backoff * 2^(retry-1))]` (full jitter).
    ///
    /// ```
    /// use kinesis_target::retry::{Backoff, RetryPolicy};
    /// let mut b = Backoff::new(RetryPolicy::default(), 7);
    /// assert!(b.delay(1) <= RetryPolicy::default().initial_backoff);
    /// ```
    pub fn delay(&mut self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let ceiling = self
            .policy
            .initial_backoff
            .saturating_mul(1 << exp)
            .min(self.policy.max_backoff);
        ceiling.mul_f64((self.rng.next_u64() % 10_001) as f64 / 10_000.0)
    }

    /// Whether re-send number `retry` may still start, `elapsed` after the
    /// first attempt: within `retry_max_duration`, and `max_retries` where set.
    pub fn allows(&self, retry: u32, elapsed: Duration) -> bool {
        self.policy.max_retries.is_none_or(|max| retry <= max) && elapsed <= self.policy.max_duration
    }
}

/// Whether the records may have landed although the attempt failed: the
/// request left and no readable answer came back. Re-sending is right
/// (at-least-once) and is counted apart, since it can duplicate.
pub fn is_ambiguous(failure: &Failure, transport_ambiguous: bool) -> bool {
    transport_ambiguous || failure.code == codes::MALFORMED_RESPONSE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_stays_under_the_doubling_ceiling_and_the_cap() {
        let policy = RetryPolicy {
            max_retries: Some(10),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_duration: Duration::from_secs(60),
        };
        let mut b = Backoff::new(policy, 42);
        for retry in 1..=10 {
            let ceiling = Duration::from_millis(100 * (1 << (retry - 1))).min(Duration::from_millis(1000));
            for _ in 0..50 {
                assert!(b.delay(retry) <= ceiling);
            }
        }
    }

    #[test]
    fn delays_are_spread_not_constant() {
        let mut b = Backoff::new(RetryPolicy::default(), 1);
        let draws: std::collections::HashSet<Duration> = (0..20).map(|_| b.delay(3)).collect();
        assert!(draws.len() > 10, "{draws:?}");
    }

    #[test]
    fn allows_is_bounded_by_time_and_by_attempts_only_where_set() {
        let b = Backoff::new(RetryPolicy::default(), 1);
        assert!(
            b.allows(1_000, Duration::from_secs(299)),
            "no cap on attempts by default"
        );
        assert!(b.allows(1, Duration::from_secs(300)));
        assert!(!b.allows(1, Duration::from_secs(301)), "five minutes by default");
        let capped = Backoff::new(
            RetryPolicy {
                max_retries: Some(3),
                ..RetryPolicy::default()
            },
            1,
        );
        assert!(capped.allows(3, Duration::from_secs(1)));
        assert!(!capped.allows(4, Duration::from_secs(1)));
    }

    #[test]
    fn an_unreadable_answer_is_ambiguous() {
        let f = Failure::target(codes::MALFORMED_RESPONSE, "cut", true);
        assert!(is_ambiguous(&f, false));
        let f = Failure::target("InternalFailure", "x", true);
        assert!(!is_ambiguous(&f, false));
        assert!(is_ambiguous(&f, true));
    }
}
