//! Counters over a target's life, exported through the WIT `stats` call.

/// What `max_buffer_size` counts for each event besides its data and key:
/// its record, its place in a request and in the report that settles it.
/// Measured: 1-byte events held at the cap peak at about this per event.
pub const EVENT_OVERHEAD: usize = 256;

/// What a target has done since it was created, and what it holds now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Events taken by `push`, including those failed at once (too large, disabled).
    pub events_accepted: u64,
    /// Offers `push` turned down because `max_buffer_size` was reached.
    pub events_refused: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Sorted by code, so reports are stable. A sorted `Vec`, not a
    /// `BTreeMap`: a handful of codes, and the map's code costs the component KBs.
    pub failed_by_code: Vec<(String, u64)>,
    /// PutRecords requests started, retries included.
    pub requests: u64,
    /// Records sent again after a retryable failure.
    pub retries: u64,
    /// Of those, records sent again after an ambiguous failure: possible duplicates.
    pub ambiguous_retries: u64,
    pub bytes_sent: u64,
    /// Events `field_format` sent as they came because they are not a JSON object.
    pub normalize_passthrough: u64,
    /// Requests started and not answered yet.
    pub in_flight_requests: u64,
    /// Events in those requests.
    pub in_flight_events: u64,
    /// Events buffered or waiting for a retry.
    pub buffered_events: u64,
    /// What `max_buffer_size` counts as held: each event's data and key plus
    /// [`EVENT_OVERHEAD`], buffered, waiting and in flight, and the bytes
    /// batch buffers keep for events gone ([`crate::record::Pinned`]).
    pub buffered_bytes: u64,
    /// Kinesis records answered `ProvisionedThroughputExceededException`
    /// (per record, or in a request throttled whole), each attempt counted.
    pub throttled: u64,
    /// One entry per shard the target paces, in shard map order.
    pub shards: Vec<ShardStats>,
}

/// How one shard took the target's writes (WIT `shard-stats`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShardStats {
    /// The shard's id (`shardId-000000000001`); before the first answer names
    /// it, the hash key it is paced for in decimal; `*` when the target could
    /// not list the shards and paces the whole stream as one.
    pub shard_id: String,
    /// Kinesis records sent to it, each attempt counted.
    pub records_sent: u64,
    /// Of those, answered `ProvisionedThroughputExceededException`.
    pub records_throttled: u64,
    /// The write budget it is paced at now, records per second.
    pub records_per_second: u64,
    /// The write budget it is paced at now, bytes (data + partition key) per second.
    pub bytes_per_second: u64,
    /// Kinesis records waiting for its budget (or a retry) now.
    pub waiting: u64,
    /// How long it spent at its write limit: records waited for its budget, or it throttled.
    pub at_limit_ms: u64,
    /// How long the target has paced it, for `at_limit_ms` as a share.
    pub paced_ms: u64,
}

impl Stats {
    /// Counts one failure with `code`.
    pub fn count_failure(&mut self, code: &str) {
        self.failed += 1;
        match self.failed_by_code.binary_search_by(|(c, _)| c.as_str().cmp(code)) {
            Ok(i) => self.failed_by_code[i].1 += 1,
            Err(i) => self.failed_by_code.insert(i, (code.to_string(), 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_code_in_code_order() {
        let mut s = Stats::default();
        for code in ["Timeout", "AccessDeniedException", "Timeout"] {
            s.count_failure(code);
        }
        assert_eq!(s.failed, 3);
        assert_eq!(
            s.failed_by_code,
            [("AccessDeniedException".to_string(), 1), ("Timeout".to_string(), 2)]
        );
    }
}
