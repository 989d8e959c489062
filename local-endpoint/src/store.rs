//! In-memory streams: shards, hash key ranges and sequence numbers.
//!
//! Nothing is ever trimmed (no retention), so a record's position in its
//! shard's vector determines the counter inside its sequence number.

use std::collections::BTreeMap;
use std::time::Instant;

use super::limits::{Buckets, ShardLimits};
use super::{ShardStats, StoredRecord};

/// Fake 12-digit account id used in ARNs and error messages.
pub(super) const ACCOUNT_ID: &str = "000000000000";

/// One stored record; the sequence number is derived from its index.
pub(super) struct Record {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub arrival_ms: u64,
}

/// An open shard owning the inclusive hash key range `start..=end`.
pub(super) struct Shard {
    pub id: String,
    pub start: u128,
    pub end: u128,
    pub records: Vec<Record>,
    /// Token buckets of the write limits; None until the shard is first
    /// written to under limits (it starts full then).
    pub buckets: Option<Buckets>,
    /// Records turned away by the write limits.
    pub limit_throttled: u64,
}

/// A stream with a fixed set of shards (no resharding).
pub(super) struct Stream {
    pub name: String,
    pub created_ms: u64,
    pub shards: Vec<Shard>,
}

/// All streams of the endpoint, keyed by name, and the write limits their
/// shards enforce (kept here so that changing them and admitting a batch
/// take the same lock).
#[derive(Default)]
pub(super) struct Store {
    streams: BTreeMap<String, Stream>,
    shard_limits: Option<ShardLimits>,
}

/// Kinesis' MD5 hash key: the digest of the partition key's UTF-8 bytes read
/// as a big-endian 128-bit integer.
pub(super) fn hash_key_of(partition_key: &str) -> u128 {
    u128::from_be_bytes(md5::compute(partition_key.as_bytes()).0)
}

/// Splits 0..=2^128-1 evenly into `count` inclusive ranges the way
/// CreateStream does: each shard gets floor(2^128 / count) keys and the last
/// one also takes the remainder.
pub(super) fn hash_ranges(count: u32) -> Vec<(u128, u128)> {
    assert!(count > 0, "a stream needs at least one shard");
    let n = u128::from(count);
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    // floor(2^128 / n) without overflowing: 2^128 = u128::MAX + 1.
    let step = u128::MAX / n + u128::from(u128::MAX % n == n - 1);
    (0..n)
        .map(|i| {
            let start = i * step;
            let end = if i == n - 1 { u128::MAX } else { start + step - 1 };
            (start, end)
        })
        .collect()
}

/// The shard id format AWS uses: `shardId-` and 12 zero-padded digits.
pub(super) fn shard_id(index: usize) -> String {
    format!("shardId-{index:012}")
}

impl Stream {
    fn new(name: &str, shard_count: u32, created_ms: u64) -> Self {
        let shards = hash_ranges(shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| Shard {
                id: shard_id(i),
                start,
                end,
                records: Vec::new(),
                buckets: None,
                limit_throttled: 0,
            })
            .collect();
        Stream {
            name: name.to_owned(),
            created_ms,
            shards,
        }
    }

    /// The stream ARN in the given region (account is always [`ACCOUNT_ID`]).
    pub fn arn(&self, region: &str) -> String {
        format!("arn:aws:kinesis:{region}:{ACCOUNT_ID}:stream/{}", self.name)
    }

    /// Index of the shard whose hash key range contains `hash`.
    pub fn shard_for(&self, hash: u128) -> usize {
        // Ranges are contiguous and sorted, so the owner is the last shard
        // starting at or below the key.
        self.shards.partition_point(|s| s.start <= hash) - 1
    }

    /// Index of the shard with this id, if any.
    pub fn shard_index(&self, id: &str) -> Option<usize> {
        self.shards.iter().position(|s| s.id == id)
    }

    /// Sequence numbers look like AWS's 56-digit ones: "49", the stream's
    /// creation time (so numbers from a previous incarnation don't parse), the
    /// shard index and a counter, all zero-padded, so they grow with the
    /// counter both numerically and as strings. Counter 0 is the shard's
    /// StartingSequenceNumber; the record at `position` has `position + 1`.
    fn format_sequence(&self, shard: usize, counter: usize) -> String {
        format!("49{:013}{shard:07}{counter:034}", self.created_ms)
    }

    /// Sequence number of the record at `position` of `shard`.
    pub fn sequence_number(&self, shard: usize, position: usize) -> String {
        self.format_sequence(shard, position + 1)
    }

    /// The shard's StartingSequenceNumber: below all of its records.
    pub fn starting_sequence_number(&self, shard: usize) -> String {
        self.format_sequence(shard, 0)
    }

    /// The counter encoded in `seq` if it is a sequence number of this
    /// stream and shard (0 = starting number, n = record at position n-1).
    pub fn parse_sequence_number(&self, shard: usize, seq: &str) -> Option<usize> {
        if seq.len() != 56 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix = format!("49{:013}{shard:07}", self.created_ms);
        seq.strip_prefix(&prefix)?.parse().ok()
    }

    /// Appends a record to the shard owning `hash`; returns (shard index,
    /// sequence number).
    pub fn append(
        &mut self,
        hash: u128,
        partition_key: String,
        explicit_hash_key: Option<String>,
        data: Vec<u8>,
        now_ms: u64,
    ) -> (usize, String) {
        let shard = self.shard_for(hash);
        let records = &mut self.shards[shard].records;
        // Arrival timestamps never go backwards within a shard, even if the
        // wall clock does, so AT_TIMESTAMP reads stay consistent.
        let arrival_ms = records.last().map_or(now_ms, |r| r.arrival_ms.max(now_ms));
        records.push(Record {
            partition_key,
            explicit_hash_key,
            data,
            arrival_ms,
        });
        let position = records.len() - 1;
        (shard, self.sequence_number(shard, position))
    }

    /// Whether `shard` admits one more record of `size` data + partition
    /// key bytes under `limits` at `now`; a record turned away is counted.
    pub fn admit(&mut self, shard: usize, limits: &ShardLimits, now: Instant, size: u64) -> bool {
        let shard = &mut self.shards[shard];
        let buckets = shard.buckets.get_or_insert_with(|| Buckets::full(limits, now));
        let admitted = buckets.take(limits, now, size);
        if !admitted {
            shard.limit_throttled += 1;
        }
        admitted
    }

    /// Per-shard counters, in shard order.
    pub fn shard_stats(&self) -> Vec<ShardStats> {
        self.shards
            .iter()
            .map(|s| ShardStats {
                shard_id: s.id.clone(),
                records_stored: s.records.len() as u64,
                bytes_stored: s
                    .records
                    .iter()
                    .map(|r| (r.data.len() + r.partition_key.len()) as u64)
                    .sum(),
                limit_throttled_records: s.limit_throttled,
            })
            .collect()
    }

    /// Copies every record out, shard by shard, in sequence order.
    pub fn stored_records(&self) -> Vec<StoredRecord> {
        let mut out = Vec::new();
        for (shard_index, shard) in self.shards.iter().enumerate() {
            for (position, r) in shard.records.iter().enumerate() {
                out.push(StoredRecord {
                    shard_id: shard.id.clone(),
                    sequence_number: self.sequence_number(shard_index, position),
                    partition_key: r.partition_key.clone(),
                    explicit_hash_key: r.explicit_hash_key.clone(),
                    data: r.data.clone(),
                });
            }
        }
        out
    }
}

impl Store {
    /// An empty store enforcing `shard_limits`.
    pub fn new(shard_limits: Option<ShardLimits>) -> Self {
        Store {
            streams: BTreeMap::new(),
            shard_limits,
        }
    }

    /// The write limits in force.
    pub fn shard_limits(&self) -> Option<ShardLimits> {
        self.shard_limits
    }

    /// Replaces the write limits; every shard's buckets start over full.
    pub fn set_shard_limits(&mut self, limits: Option<ShardLimits>) {
        self.shard_limits = limits;
        for shard in self.streams.values_mut().flat_map(|s| s.shards.iter_mut()) {
            shard.buckets = None;
        }
    }

    /// Creates the stream; returns false (and changes nothing) if it exists.
    pub fn create(&mut self, name: &str, shard_count: u32, now_ms: u64) -> bool {
        if self.streams.contains_key(name) {
            return false;
        }
        let stream = Stream::new(name, shard_count, now_ms);
        self.streams.insert(name.to_owned(), stream);
        true
    }

    /// Looks a stream up by name.
    pub fn get(&self, name: &str) -> Option<&Stream> {
        self.streams.get(name)
    }

    /// Looks a stream up by name, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Stream> {
        self.streams.get_mut(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ranges_match_aws_layout() {
        let r = hash_ranges(4);
        assert_eq!(r[0], (0, (1u128 << 126) - 1));
        assert_eq!(r[1].0, 1u128 << 126);
        assert_eq!(r[3].1, u128::MAX);
        // 3 shards: AWS's first range ends at 113427455640312821154458202477256070484.
        let r = hash_ranges(3);
        assert_eq!(r[0].1, 113427455640312821154458202477256070484);
        assert_eq!(r[2].1, u128::MAX);
        for w in r.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
        assert_eq!(hash_ranges(1), vec![(0, u128::MAX)]);
    }

    #[test]
    fn sequence_numbers_round_trip_and_grow() {
        let mut store = Store::default();
        assert!(store.create("s", 2, 1_700_000_000_000));
        assert!(!store.create("s", 5, 0));
        let s = store.get_mut("s").unwrap();
        let (shard, a) = s.append(0, "a".into(), None, vec![1], 5);
        let (_, b) = s.append(0, "b".into(), None, vec![2], 4);
        assert_eq!((shard, a.len()), (0, 56));
        // Same length, so string order is numeric order.
        assert!(a.len() == b.len() && a < b);
        assert_eq!(s.parse_sequence_number(0, &b), Some(2));
        assert_eq!(s.parse_sequence_number(0, &s.starting_sequence_number(0)), Some(0));
        assert_eq!(s.parse_sequence_number(1, &b), None);
        // The clock went backwards; the arrival time did not.
        assert_eq!(s.shards[0].records[1].arrival_ms, 5);
    }
}
