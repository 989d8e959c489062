//! Kinesis' per-shard write limits: every shard takes at most so many
//! records and bytes per second, and answers the excess with
//! ProvisionedThroughputExceededException. A client that paces per shard
//! should meet few of those; one that doesn't meets many.
//!
//! Each shard has two token buckets (records, and data + partition key
//! bytes) holding one second's worth, refilled continuously by elapsed time.
//! The buckets live with the shard in the store, so a batch is admitted
//! under the same lock that stores it.

use std::time::Instant;

/// Kinesis' write limit per shard: 1000 records per second.
pub const KINESIS_RECORDS_PER_SECOND: u32 = 1000;
/// Kinesis' write limit per shard: 1 MiB per second of data plus
/// partition key bytes.
pub const KINESIS_BYTES_PER_SECOND: u64 = 1024 * 1024;

/// Per-shard write limits the endpoint enforces on PutRecords and
/// PutRecord. The default is Kinesis' (1000 records and 1 MiB per second,
/// no other producer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShardLimits {
    /// Records per second one shard accepts.
    pub records_per_second: u32,
    /// Data plus partition key bytes per second one shard accepts (AWS
    /// counts the keys too).
    pub bytes_per_second: u64,
    /// Share (0.0..1.0) of every shard's capacity used at the same time by
    /// an invisible second producer: 0.5 leaves half for the client.
    pub other_producer: f64,
}

impl Default for ShardLimits {
    fn default() -> Self {
        ShardLimits {
            records_per_second: KINESIS_RECORDS_PER_SECOND,
            bytes_per_second: KINESIS_BYTES_PER_SECOND,
            other_producer: 0.0,
        }
    }
}

impl ShardLimits {
    /// Checks that both rates are positive and `other_producer` is in 0.0..1.0.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.records_per_second == 0 || self.bytes_per_second == 0 {
            return Err(format!(
                "ShardLimits rates must be positive, not {} records and {} bytes per second",
                self.records_per_second, self.bytes_per_second
            ));
        }
        if !(0.0..1.0).contains(&self.other_producer) {
            return Err(format!(
                "ShardLimits::other_producer must be in 0.0..1.0, not {}",
                self.other_producer
            ));
        }
        Ok(())
    }

    /// Records and bytes per second left for the client.
    fn rates(&self) -> (f64, f64) {
        let share = 1.0 - self.other_producer;
        (
            f64::from(self.records_per_second) * share,
            self.bytes_per_second as f64 * share,
        )
    }
}

/// One shard's two token buckets. Capacity is one second's worth, so a
/// shard that was idle takes a burst of up to a second's records at once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Buckets {
    records: f64,
    bytes: f64,
    at: Instant,
}

impl Buckets {
    /// Full buckets: a shard seen for the first time has all its capacity.
    pub fn full(limits: &ShardLimits, now: Instant) -> Self {
        let (records, bytes) = limits.rates();
        Buckets {
            records,
            bytes,
            at: now,
        }
    }

    /// Takes one record of `size` bytes if both buckets hold enough; a
    /// record that does not fit takes nothing, so a throttled resend does
    /// not cost capacity twice.
    pub fn take(&mut self, limits: &ShardLimits, now: Instant, size: u64) -> bool {
        let (records_rate, bytes_rate) = limits.rates();
        // Instants from different threads may arrive slightly out of order:
        // time never runs backwards for a bucket.
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        // Clamping also fits buckets filled under older, larger limits.
        self.records = (self.records + elapsed * records_rate).min(records_rate);
        self.bytes = (self.bytes + elapsed * bytes_rate).min(bytes_rate);
        let size = size as f64;
        if self.records < 1.0 || self.bytes < size {
            return false;
        }
        self.records -= 1.0;
        self.bytes -= size;
        true
    }
}
