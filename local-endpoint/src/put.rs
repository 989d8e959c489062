//! PutRecord and PutRecords, with Kinesis' limit checks.
//!
//! Checks run in AWS's order: body deserialization (bad base64 is a
//! SerializationException, as real Kinesis answers), then model constraints
//! (ValidationException, all violations in one message), then service rules
//! (InvalidArgumentException), then the stream lookup. A rejected request
//! stores nothing. A valid record can still be throttled, by an injected
//! fault or by its shard's write limits ([`super::ShardLimits`]).

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::api::{ApiError, OpResult, Violations, json, shown};
use super::faults::Plan;
use super::shapes::*;
use super::store::{ACCOUNT_ID, hash_key_of};
use super::streams::{not_found, stream_name};
use super::{State, bump};

/// Kinesis' maximum number of records in one PutRecords call.
const MAX_RECORDS: usize = 500;
/// Partition keys are 1..=256 Unicode characters.
const MAX_PARTITION_KEY_CHARS: usize = 256;

/// A record that passed all checks, ready to store.
struct Checked {
    data: Vec<u8>,
    partition_key: String,
    explicit_hash_key: Option<String>,
    hash: u128,
}

pub(super) fn put_record(state: &State, input: PutRecordInput, now_ms: u64) -> OpResult {
    let data = decode(input.data.as_deref())?;
    let name = stream_name(state, input.stream)?;
    let mut v = Violations::default();
    if let Some(seq) = input
        .sequence_number_for_ordering
        .as_deref()
        .filter(|s| !is_decimal(s, 129))
    {
        v.add(
            &shown(seq),
            "sequenceNumberForOrdering",
            "must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
        );
    }
    let paths = ["data", "partitionKey", "explicitHashKey"];
    let raw = (data, input.partition_key, input.explicit_hash_key);
    let max = state.config.max_record_size;
    let fields = validate(&mut v, paths, raw, max);
    v.finish()?;
    let record = check_rules(fields, max)?;
    // Faults never throttle PutRecord, its shard's limits may: then the
    // whole call fails, as on AWS.
    let placed = store(state, &name, vec![record], now_ms, || false)?;
    let (shard_id, sequence_number) = match placed.into_iter().next().expect("one record in, one out") {
        Placed::Stored(shard_id, seq) => (shard_id, seq),
        Placed::Throttled(shard_id) => {
            return Err(ApiError::new(
                "ProvisionedThroughputExceededException",
                rate_exceeded(&shard_id, &name),
            ));
        }
    };
    json(&PutRecordOutput {
        shard_id,
        sequence_number,
        encryption_type: "NONE",
    })
}

/// PutRecords; `plan` picks the records to throttle among valid ones.
pub(super) fn put_records(state: &State, input: PutRecordsInput, now_ms: u64, plan: &mut Plan) -> OpResult {
    let entries = input.records.unwrap_or_default();
    let data: Vec<_> = entries
        .iter()
        .map(|e| decode(e.data.as_deref()))
        .collect::<Result<_, _>>()?;
    let name = stream_name(state, input.stream)?;
    let mut v = Violations::default();
    let shown = format!("'[{} records]'", entries.len());
    if entries.is_empty() {
        v.add(&shown, "records", "must have length greater than or equal to 1");
    } else if entries.len() > MAX_RECORDS {
        v.add(
            &shown,
            "records",
            &format!("must have length less than or equal to {MAX_RECORDS}"),
        );
    }
    let max = state.config.max_record_size;
    let mut fields = Vec::with_capacity(entries.len());
    for (i, (e, data)) in entries.into_iter().zip(data).enumerate() {
        let n = i + 1; // AWS numbers list members from 1
        let paths = [
            format!("records.{n}.member.data"),
            format!("records.{n}.member.partitionKey"),
            format!("records.{n}.member.explicitHashKey"),
        ];
        let paths = [paths[0].as_str(), paths[1].as_str(), paths[2].as_str()];
        fields.push(validate(
            &mut v,
            paths,
            (data, e.partition_key, e.explicit_hash_key),
            max,
        ));
    }
    v.finish()?;
    let records: Vec<Checked> = fields
        .into_iter()
        .map(|f| check_rules(f, max))
        .collect::<Result<_, _>>()?;
    // The 5 MiB rule counts partition keys too.
    let total: usize = records.iter().map(|r| r.data.len() + r.partition_key.len()).sum();
    if total > state.config.max_request_size {
        return Err(ApiError::new(
            "InvalidArgumentException",
            format!(
                "Records size exceeds the request limit: {total} bytes of data and partition keys, at most {} allowed.",
                state.config.max_request_size
            ),
        ));
    }
    let placed = store(state, &name, records, now_ms, || plan.throttle_record(state))?;
    let stored = placed.iter().filter(|p| matches!(p, Placed::Stored(..))).count();
    if stored > 0 {
        bump(&state.counters.put_records_stored_requests, 1);
    }
    let failed_record_count = (placed.len() - stored) as u32; // at most 500
    let results = placed
        .into_iter()
        .map(|p| match p {
            Placed::Stored(shard_id, seq) => PutRecordsResultEntry {
                sequence_number: Some(seq),
                shard_id: Some(shard_id),
                ..Default::default()
            },
            Placed::Throttled(shard_id) => PutRecordsResultEntry {
                error_code: Some("ProvisionedThroughputExceededException".to_owned()),
                error_message: Some(rate_exceeded(&shard_id, &name)),
                ..Default::default()
            },
        })
        .collect();
    json(&PutRecordsOutput {
        failed_record_count,
        records: results,
        encryption_type: "NONE",
    })
}

/// AWS's message for a record over its shard's throughput.
fn rate_exceeded(shard_id: &str, stream: &str) -> String {
    format!("Rate exceeded for shard {shard_id} in stream {stream} under account {ACCOUNT_ID}.")
}

/// Base64-decodes a Data member (None stays None for the null check).
fn decode(data: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(text) = data else { return Ok(None) };
    match STANDARD.decode(text) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) => Err(ApiError::new(
            "SerializationException",
            format!("{} can not be converted to a Blob: {e}", shown(text)),
        )),
    }
}

/// `0|([1-9]\d{0,max_digits-1})`: the pattern of hash keys and sequence numbers.
pub(super) fn is_decimal(s: &str, max_digits: usize) -> bool {
    s == "0" || ((1..=max_digits).contains(&s.len()) && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()))
}

type Fields = (Option<Vec<u8>>, Option<String>, Option<String>);

/// Model constraints of one record; records violations, passes values on.
fn validate(v: &mut Violations, paths: [&str; 3], fields: Fields, max: usize) -> Fields {
    let (data, pk, ehk) = &fields;
    match data {
        None => v.null(paths[0]),
        Some(d) if d.len() > max => {
            let shown = format!("'{} bytes'", d.len());
            v.add(
                &shown,
                paths[0],
                &format!("must have length less than or equal to {max}"),
            );
        }
        Some(_) => {}
    }
    match pk {
        None => v.null(paths[1]),
        Some(k) => {
            let chars = k.chars().count();
            if chars == 0 {
                v.add("''", paths[1], "must have length greater than or equal to 1");
            } else if chars > MAX_PARTITION_KEY_CHARS {
                let rule = format!("must have length less than or equal to {MAX_PARTITION_KEY_CHARS}");
                v.add(&shown(k), paths[1], &rule);
            }
        }
    }
    if let Some(h) = ehk.as_ref().filter(|h| !is_decimal(h, 39)) {
        v.add(
            &shown(h),
            paths[2],
            "must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
        );
    }
    fields
}

/// Service rules on a record that passed [`validate`].
fn check_rules((data, pk, ehk): Fields, max: usize) -> Result<Checked, ApiError> {
    let (data, partition_key) = (data.unwrap_or_default(), pk.unwrap_or_default());
    let size = data.len() + partition_key.len();
    if size > max {
        return Err(ApiError::new(
            "InvalidArgumentException",
            format!(
                "Record size {size} (data {} + partition key {} bytes) exceeds the limit of {max} bytes.",
                data.len(),
                partition_key.len()
            ),
        ));
    }
    // An explicit hash key overrides the MD5 of the partition key.
    let hash = match &ehk {
        None => hash_key_of(&partition_key),
        Some(h) => h.parse::<u128>().map_err(|_| {
            ApiError::new(
                "InvalidArgumentException",
                format!("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {h}"),
            )
        })?,
    };
    Ok(Checked {
        data,
        partition_key,
        explicit_hash_key: ehk,
        hash,
    })
}

/// Where a record went: stored at (shard id, sequence number), or turned
/// away by an injected throttle or the write limits of its shard.
enum Placed {
    Stored(String, String),
    Throttled(String),
}

/// Appends checked records under one lock, so a batch is contiguous per
/// shard, skipping those `throttle` picks and those over their shard's
/// write limits; returns where each went, in order.
fn store(
    state: &State,
    name: &str,
    records: Vec<Checked>,
    now_ms: u64,
    mut throttle: impl FnMut() -> bool,
) -> Result<Vec<Placed>, ApiError> {
    let mut store = state.store();
    let limits = store.shard_limits();
    let stream = store.get_mut(name).ok_or_else(|| not_found(name))?;
    // One instant for the batch: it arrived at once.
    let now = Instant::now();
    let (mut count, mut bytes, mut limited) = (0u64, 0u64, 0u64);
    let out = records
        .into_iter()
        .map(|r| {
            let shard = stream.shard_for(r.hash);
            // The fault draws first, so a record it throttles takes no
            // capacity, and the draws don't depend on the limits.
            if throttle() {
                return Placed::Throttled(stream.shards[shard].id.clone());
            }
            let size = (r.data.len() + r.partition_key.len()) as u64;
            if limits.is_some_and(|l| !stream.admit(shard, &l, now, size)) {
                limited += 1;
                return Placed::Throttled(stream.shards[shard].id.clone());
            }
            count += 1;
            bytes += r.data.len() as u64;
            let (shard, seq) = stream.append(r.hash, r.partition_key, r.explicit_hash_key, r.data, now_ms);
            Placed::Stored(stream.shards[shard].id.clone(), seq)
        })
        .collect();
    bump(&state.counters.records_stored, count);
    bump(&state.counters.data_bytes_stored, bytes);
    bump(&state.counters.limit_throttled_records, limited);
    Ok(out)
}
