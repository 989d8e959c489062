//! Per-shard write budgets: what a shard can take now, and how that adapts
//! when other producers share it.
//!
//! Kinesis takes 1,000 records and 1 MiB per second per shard, shared by
//! every producer that writes to it. A [`Budget`] is a token bucket for
//! records and one for bytes, refilled at the shard's limits times a share
//! that adapts (AIMD): a throttled answer cuts the share by a quarter, at
//! most once per [`DECREASE_GAP`]; each second without throttling adds 5 %
//! of the limits (or of the share, when that is larger) back, up to the
//! shard's own limits. Where the shards are not known the whole stream is
//! one budget with no ceiling, starting as if unlimited and learning its
//! rate from the first throttle.

use std::time::Duration;

/// Kinesis' write limits of one shard (extensions
/// `shard_max_records_per_second`, `shard_max_bytes_per_second`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    pub records_per_second: u32,
    /// Data + partition key bytes, as Kinesis counts them.
    pub bytes_per_second: u64,
}

impl Default for ShardLimits {
    fn default() -> Self {
        Self {
            records_per_second: 1000,
            bytes_per_second: 1024 * 1024,
        }
    }
}

/// How much a bucket holds at most: this long at the current rate, the
/// window Kinesis' own per-second limits are measured over (so a request of
/// 500 records may go to one shard at once).
pub const BURST: Duration = Duration::from_secs(1);
/// A lane sends once this much of its rate has gathered (or all it holds
/// fits): fewer, fuller requests instead of one per refill.
pub const QUANTUM: Duration = Duration::from_millis(50);
/// Throttled answers closer together than this are one congestion signal.
pub const DECREASE_GAP: Duration = Duration::from_millis(500);
/// Share kept on a throttle.
const DECREASE: f64 = 0.75;
/// Share added back per second without a throttle, of the limits.
const INCREASE_PER_SECOND: f64 = 0.05;
/// The share never drops below this: a shard always gets some writes.
const MIN_SHARE: f64 = 0.02;
/// A stream-wide budget starts as if it had this many shards (unpaced).
const UNKNOWN_SHARDS: f64 = 10_000.0;

/// One shard's (or, uncapped, the whole stream's) write budget.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: ShardLimits,
    /// The fraction of `limits` paced at now; above 1 only when uncapped.
    share: f64,
    /// `Some(1.0)` for a known shard; `None` for the stream as a whole.
    ceiling: Option<f64>,
    /// The largest record: the byte bucket always holds one.
    max_record: f64,
    records: f64,
    bytes: f64,
    /// Monotonic time the buckets were last refilled.
    at: Duration,
    /// When the share was last cut.
    last_decrease: Option<Duration>,
    /// Records and bytes accepted since `meter_since`: the rate the stream
    /// really took, for the first cut of an uncapped budget.
    metered: (f64, f64),
    meter_since: Duration,
}

impl Budget {
    /// A shard's budget, full, at 100 % of `limits`.
    ///
    /// ```
    /// use kinesis_target::pacing::{Budget, ShardLimits};
    /// use std::time::Duration;
    /// let mut b = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
    /// assert_eq!(b.records_per_second(), 1000);
    /// assert!(b.fits(1, 100, Duration::ZERO));
    /// ```
    pub fn shard(limits: ShardLimits, max_record: usize, now: Duration) -> Self {
        Self::new(limits, (1.0, Some(1.0)), max_record, now)
    }

    /// The whole stream's budget when its shards are unknown: no ceiling,
    /// effectively unpaced until Kinesis throttles it.
    pub fn stream(limits: ShardLimits, max_record: usize, now: Duration) -> Self {
        Self::new(limits, (UNKNOWN_SHARDS, None), max_record, now)
    }

    fn new(limits: ShardLimits, (share, ceiling): (f64, Option<f64>), max_record: usize, now: Duration) -> Self {
        let mut budget = Self {
            limits,
            share,
            ceiling,
            max_record: max_record as f64,
            records: 0.0,
            bytes: 0.0,
            at: now,
            last_decrease: None,
            metered: (0.0, 0.0),
            meter_since: now,
        };
        (budget.records, budget.bytes) = budget.capacity();
        budget
    }

    fn rates(&self) -> (f64, f64) {
        (
            self.limits.records_per_second as f64 * self.share,
            self.limits.bytes_per_second as f64 * self.share,
        )
    }

    /// At most [`BURST`] of the rate, and never less than one record of
    /// the largest size, so that every record can go.
    fn capacity(&self) -> (f64, f64) {
        let (records, bytes) = self.rates();
        let burst = BURST.as_secs_f64();
        ((records * burst).max(1.0), (bytes * burst).max(self.max_record))
    }

    /// Adds what `now - at` earns, and grows the share for the time since.
    fn refill(&mut self, now: Duration) {
        let Some(elapsed) = now.checked_sub(self.at).filter(|e| !e.is_zero()) else {
            return;
        };
        self.at = now;
        let secs = elapsed.as_secs_f64();
        let growth = INCREASE_PER_SECOND * secs * self.share.max(1.0);
        self.share = match self.ceiling {
            Some(ceiling) => (self.share + growth).min(ceiling),
            None => self.share + growth,
        };
        let (rate_records, rate_bytes) = self.rates();
        let (cap_records, cap_bytes) = self.capacity();
        self.records = (self.records + rate_records * secs).min(cap_records);
        self.bytes = (self.bytes + rate_bytes * secs).min(cap_bytes);
    }

    /// Whether `records` records of `bytes` in all may go now.
    pub fn fits(&mut self, records: usize, bytes: usize, now: Duration) -> bool {
        self.refill(now);
        self.records >= records as f64 && self.bytes >= bytes as f64
    }

    /// Whether a lane holding `records` records of `bytes` should send now:
    /// all of it fits, or at least a [`QUANTUM`] of the rate does.
    pub fn worth_sending(&mut self, records: usize, bytes: usize, now: Duration) -> bool {
        self.refill(now);
        let (want_records, want_bytes) = self.want(records, bytes);
        self.records >= want_records && self.bytes >= want_bytes
    }

    /// What a lane holding `records` records of `bytes` waits to have in
    /// the buckets before it sends: one [`QUANTUM`]'s worth of budget (at
    /// least one record and one byte), or all it holds when that is less.
    fn want(&self, records: usize, bytes: usize) -> (f64, f64) {
        let (rate_records, rate_bytes) = self.rates();
        let q = QUANTUM.as_secs_f64();
        (
            (records as f64).min((rate_records * q).max(1.0)),
            (bytes as f64).min((rate_bytes * q).max(1.0)),
        )
    }

    /// Spends one request's share of the budget.
    pub fn take(&mut self, records: usize, bytes: usize) {
        self.records -= records as f64;
        self.bytes -= bytes as f64;
    }

    /// When a lane holding `records` records of `bytes`
    /// is [`Self::worth_sending`].
    pub fn ready_at(&mut self, records: usize, bytes: usize, now: Duration) -> Duration {
        self.refill(now);
        let (rate_records, rate_bytes) = self.rates();
        let (want_records, want_bytes) = self.want(records, bytes);
        let wait = ((want_records - self.records) / rate_records)
            .max((want_bytes - self.bytes) / rate_bytes)
            .max(0.0);
        // A millisecond more: rounding must not wake it a hair early, and a
        // wake that is due already would spin.
        now + Duration::from_secs_f64(wait.min(60.0)) + Duration::from_millis(1)
    }

    /// The shard took `records` records of `bytes`: metered, for an
    /// uncapped budget's first cut.
    pub fn accepted(&mut self, records: usize, bytes: usize) {
        self.metered.0 += records as f64;
        self.metered.1 += bytes as f64;
    }

    /// The shard throttled a write: it is full now, and the share is cut
    /// (once per [`DECREASE_GAP`]). An uncapped budget is first cut to
    /// what the stream was seen to take.
    pub fn throttled(&mut self, now: Duration) {
        self.refill(now);
        self.records = 0.0;
        self.bytes = 0.0;
        if self.last_decrease.is_some_and(|at| now < at + DECREASE_GAP) {
            return;
        }
        self.last_decrease = Some(now);
        if self.ceiling.is_none() && self.share >= UNKNOWN_SHARDS {
            let secs = now.saturating_sub(self.meter_since).as_secs_f64().max(1.0);
            let seen = (self.metered.0 / secs / self.limits.records_per_second as f64)
                .max(self.metered.1 / secs / self.limits.bytes_per_second as f64);
            self.share = seen.max(1.0);
        }
        self.share = (self.share * DECREASE).max(MIN_SHARE);
    }

    /// The records-per-second rate paced at now.
    pub fn records_per_second(&self) -> u64 {
        self.rates().0 as u64
    }

    /// The bytes-per-second rate paced at now.
    pub fn bytes_per_second(&self) -> u64 {
        self.rates().1 as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// Sends what the budget allows every 10 ms for `secs` of virtual time
    /// to a shard that takes `capacity` records per second (a token bucket
    /// of one second), returning (sent, throttled).
    fn run(budget: &mut Budget, capacity: f64, secs: u64, start: Duration) -> (u64, u64) {
        let (mut sent, mut throttled) = (0, 0);
        let mut server = capacity;
        for step in 0..secs * 100 {
            let now = start + MS(step * 10);
            server = (server + capacity / 100.0).min(capacity);
            let mut n = 0;
            while n < 500 && budget.fits(1, 100, now) {
                budget.take(1, 100);
                n += 1;
            }
            let taken = (n as f64).min(server.floor()) as usize;
            server -= taken as f64;
            budget.accepted(taken, taken * 100);
            sent += taken as u64;
            if taken < n {
                throttled += (n - taken) as u64;
                budget.throttled(now);
            }
        }
        (sent, throttled)
    }

    #[test]
    fn a_shard_budget_sends_at_the_shard_limit_and_never_throttles_alone() {
        let mut budget = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
        let (sent, throttled) = run(&mut budget, 1000.0, 10, Duration::ZERO);
        assert_eq!(throttled, 0);
        // A full second's bucket at the start, then the shard's rate.
        assert!((10_900..=11_100).contains(&sent), "{sent} records in 10 s");
    }

    #[test]
    fn a_shared_shard_is_found_within_a_few_throttles() {
        // Another producer takes half: the budget settles near 500/s.
        let mut budget = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
        let (sent, throttled) = run(&mut budget, 500.0, 30, Duration::ZERO);
        assert!(sent >= 13_500, "{sent} of the 15,000 the shard could take in 30 s");
        assert!(throttled * 100 <= sent * 5, "{throttled} throttled of {sent}");
        assert!(budget.records_per_second() <= 700, "{}", budget.records_per_second());
    }

    #[test]
    fn the_share_comes_back_when_the_other_producer_stops() {
        let mut budget = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
        run(&mut budget, 250.0, 10, Duration::ZERO);
        assert!(budget.records_per_second() < 400);
        run(&mut budget, 1000.0, 20, Duration::from_secs(10));
        assert_eq!(
            budget.records_per_second(),
            1000,
            "back to the shard's limit, never past it"
        );
    }

    #[test]
    fn throttles_close_together_cut_the_share_once() {
        let mut budget = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
        budget.throttled(MS(1000));
        budget.throttled(MS(1100));
        budget.throttled(MS(1400));
        // Cut to 750 once, then grown back by 5 % a second for 0.4 s.
        assert!(
            (750..=775).contains(&budget.records_per_second()),
            "{}",
            budget.records_per_second()
        );
        assert!(!budget.fits(1, 1, MS(1400)), "a throttle empties the buckets");
        budget.throttled(MS(1500));
        assert!(budget.records_per_second() < 600);
    }

    #[test]
    fn bytes_pace_large_records() {
        // 100 KiB records: 1 MiB/s is ten a second, whatever the record count allows.
        let mut budget = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
        let mut sent = 0;
        for step in 0..1000 {
            let now = MS(step * 10);
            while budget.fits(1, 100 * 1024, now) {
                budget.take(1, 100 * 1024);
                sent += 1;
            }
        }
        assert!(
            (108..=114).contains(&sent),
            "{sent} records of 100 KiB in 10 s (a second's bucket first)"
        );
    }

    #[test]
    fn an_unknown_stream_is_unpaced_until_throttled_then_learns_its_rate() {
        let mut budget = Budget::stream(ShardLimits::default(), 1 << 20, Duration::ZERO);
        assert!(budget.fits(100_000, 1 << 20, Duration::ZERO));
        // A 4-shard stream takes 4,000/s.
        let (sent, throttled) = run(&mut budget, 4000.0, 20, Duration::ZERO);
        assert!(sent >= 60_000, "{sent}");
        assert!(throttled * 100 <= sent * 15, "{throttled} throttled of {sent}");
        assert!(budget.records_per_second() < 8_000, "{}", budget.records_per_second());
    }

    #[test]
    fn a_lane_waits_for_a_quantum_unless_it_holds_less() {
        let mut budget = Budget::shard(ShardLimits::default(), 1 << 20, Duration::ZERO);
        budget.throttled(Duration::ZERO);
        assert!(
            !budget.worth_sending(500, 50_000, MS(10)),
            "10 records gathered, 50 ms' worth wanted"
        );
        assert!(budget.worth_sending(5, 500, MS(10)), "all five it holds fit");
        let at = budget.ready_at(500, 50_000, MS(10));
        assert!(at > MS(10) && at <= MS(80), "{at:?}");
        assert!(budget.worth_sending(500, 50_000, at));
    }
}
