//! GetShardIterator and GetRecords.
//!
//! A shard iterator is base64 of
//! `v1|stream created ms|shard index|position|issued ms|stream name`:
//! opaque to clients like AWS's, and expiring after 5 minutes like them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::State;
use super::api::{ApiError, OpResult, Violations, json, shown};
use super::put::is_decimal;
use super::shapes::*;
use super::store::{ACCOUNT_ID, Stream};
use super::streams::{not_found, stream_name};

/// AWS shard iterators are valid for 5 minutes.
const ITERATOR_TTL_MS: u64 = 5 * 60 * 1000;
/// GetRecords returns at most 10 MiB of data per call.
const MAX_GET_BYTES: usize = 10 * 1024 * 1024;
const ITERATOR_TYPES: [&str; 5] = [
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
];

/// A decoded shard iterator.
struct Iter {
    created_ms: u64,
    shard: usize,
    position: usize,
    issued_ms: u64,
    stream: String,
}

impl Iter {
    fn encode(&self) -> String {
        let Iter {
            created_ms,
            shard,
            position,
            issued_ms,
            stream,
        } = self;
        STANDARD.encode(format!("v1|{created_ms}|{shard}|{position}|{issued_ms}|{stream}"))
    }

    fn decode(token: &str) -> Option<Iter> {
        let raw = String::from_utf8(STANDARD.decode(token).ok()?).ok()?;
        let mut parts = raw.splitn(6, '|');
        if parts.next()? != "v1" {
            return None;
        }
        let mut num = || parts.next()?.parse::<u64>().ok();
        let (created_ms, shard, position, issued_ms) = (num()?, num()?, num()?, num()?);
        Some(Iter {
            created_ms,
            shard: usize::try_from(shard).ok()?,
            position: usize::try_from(position).ok()?,
            issued_ms,
            stream: parts.next()?.to_owned(),
        })
    }
}

fn shard_not_found(shard: &str, stream: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        format!("Shard {shard} in stream {stream} under account {ACCOUNT_ID} does not exist"),
    )
}

pub(super) fn get_shard_iterator(state: &State, input: GetShardIteratorInput, now_ms: u64) -> OpResult {
    let name = stream_name(state, input.stream)?;
    let mut v = Violations::default();
    if input.shard_id.is_none() {
        v.null("shardId");
    }
    match input.shard_iterator_type.as_deref() {
        None => v.null("shardIteratorType"),
        Some(t) if !ITERATOR_TYPES.contains(&t) => {
            let rule = format!("must satisfy enum value set: [{}]", ITERATOR_TYPES.join(", "));
            v.add(&shown(t), "shardIteratorType", &rule);
        }
        Some(_) => {}
    }
    if let Some(seq) = input
        .starting_sequence_number
        .as_deref()
        .filter(|s| !is_decimal(s, 129))
    {
        v.add(
            &shown(seq),
            "startingSequenceNumber",
            "must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
        );
    }
    v.finish()?;
    let (shard_id, kind) = (
        input.shard_id.unwrap_or_default(),
        input.shard_iterator_type.unwrap_or_default(),
    );

    let store = state.store();
    let s = store.get(&name).ok_or_else(|| not_found(&name))?;
    let shard = s
        .shard_index(&shard_id)
        .ok_or_else(|| shard_not_found(&shard_id, &name))?;
    let records = &s.shards[shard].records;
    let position = match kind.as_str() {
        "TRIM_HORIZON" => 0,
        "LATEST" => records.len(),
        "AT_TIMESTAMP" => {
            let ts = input.timestamp.ok_or_else(|| {
                ApiError::new(
                    "InvalidArgumentException",
                    "Must specify timestamp for AT_TIMESTAMP iterator type.",
                )
            })?;
            let ts_ms = (ts * 1000.0).max(0.0) as u64;
            records.partition_point(|r| r.arrival_ms < ts_ms)
        }
        after_or_at => {
            let at = after_or_at == "AT_SEQUENCE_NUMBER";
            let counter = sequence_counter(s, shard, input.starting_sequence_number.as_deref(), &kind)?;
            // Counter n is the record at position n-1; counter 0 precedes all.
            if at { counter.saturating_sub(1) } else { counter }
        }
    };
    let iter = Iter {
        created_ms: s.created_ms,
        shard,
        position,
        issued_ms: now_ms,
        stream: name,
    };
    json(&GetShardIteratorOutput {
        shard_iterator: iter.encode(),
    })
}

/// The counter of a starting sequence number that must belong to this shard
/// and not lie beyond its last record.
fn sequence_counter(s: &Stream, shard: usize, seq: Option<&str>, kind: &str) -> Result<usize, ApiError> {
    let seq = seq.ok_or_else(|| {
        ApiError::new(
            "InvalidArgumentException",
            format!("Must specify StartingSequenceNumber for {kind} iterator type."),
        )
    })?;
    s.parse_sequence_number(shard, seq)
        .filter(|c| *c <= s.shards[shard].records.len())
        .ok_or_else(|| {
            ApiError::new(
                "InvalidArgumentException",
                format!(
                    "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {ACCOUNT_ID} is invalid because it did not come from this stream.",
                    s.shards[shard].id, s.name
                ),
            )
        })
}

pub(super) fn get_records(state: &State, input: GetRecordsInput, now_ms: u64) -> OpResult {
    let mut v = Violations::default();
    match input.shard_iterator.as_deref() {
        None => v.null("shardIterator"),
        Some(it) if it.is_empty() || it.len() > 512 => {
            v.add("'...'", "shardIterator", "must have length between 1 and 512");
        }
        Some(_) => {}
    }
    let limit = input.limit.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        v.add(&format!("'{limit}'"), "limit", "must have value between 1 and 10000");
    }
    v.finish()?;
    let token = input.shard_iterator.unwrap_or_default();
    let iter =
        Iter::decode(&token).ok_or_else(|| ApiError::new("InvalidArgumentException", "Invalid ShardIterator."))?;
    if now_ms.saturating_sub(iter.issued_ms) > ITERATOR_TTL_MS {
        return Err(ApiError::new(
            "ExpiredIteratorException",
            format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
                iter.issued_ms, now_ms
            ),
        ));
    }
    let store = state.store();
    // A stream recreated under the same name does not accept old iterators.
    let s = store
        .get(&iter.stream)
        .filter(|s| s.created_ms == iter.created_ms)
        .ok_or_else(|| not_found(&iter.stream))?;
    let shard = s
        .shards
        .get(iter.shard)
        .ok_or_else(|| shard_not_found(&iter.shard.to_string(), &s.name))?;

    let start = iter.position.min(shard.records.len());
    let (mut end, mut bytes) = (start, 0usize);
    while end < shard.records.len() && end - start < limit as usize {
        let size = shard.records[end].data.len();
        // Always return at least one record, as AWS does.
        if end > start && bytes + size > MAX_GET_BYTES {
            break;
        }
        bytes += size;
        end += 1;
    }
    let records = (start..end)
        .map(|i| {
            let r = &shard.records[i];
            RecordShape {
                sequence_number: s.sequence_number(iter.shard, i),
                approximate_arrival_timestamp: r.arrival_ms as f64 / 1000.0,
                data: STANDARD.encode(&r.data),
                partition_key: r.partition_key.clone(),
            }
        })
        .collect();
    let millis_behind_latest = shard
        .records
        .get(end)
        .map_or(0, |next| now_ms.saturating_sub(next.arrival_ms));
    let next = Iter {
        position: end,
        issued_ms: now_ms,
        ..iter
    };
    json(&GetRecordsOutput {
        records,
        next_shard_iterator: next.encode(),
        millis_behind_latest,
    })
}
