//! Stream-level operations (CreateStream, DescribeStreamSummary,
//! ListShards) and StreamName / StreamARN resolution.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::State;
use super::api::{ApiError, OpResult, Violations, json, shown};
use super::shapes::*;
use super::store::{ACCOUNT_ID, Stream, shard_id};

/// Stream names: 1..=128 of these characters.
const STREAM_NAME_CHARS: &str = "[a-zA-Z0-9_.-]+";

fn valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Resolves StreamName / StreamARN to a stream name (the stream may not
/// exist; see [`not_found`]).
pub(super) fn stream_name(state: &State, r: StreamRef) -> Result<String, ApiError> {
    let mut v = Violations::default();
    if let Some(name) = &r.stream_name.as_ref().filter(|n| !valid_stream_name(n)) {
        v.add(
            &shown(name),
            "streamName",
            &format!("must satisfy regular expression pattern: {STREAM_NAME_CHARS}"),
        );
    }
    let prefix = format!("arn:aws:kinesis:{}:{ACCOUNT_ID}:stream/", state.config.region);
    let from_arn = r.stream_arn.as_deref().map(|arn| arn.strip_prefix(prefix.as_str()));
    if let Some(None) = from_arn {
        let arn = r.stream_arn.as_deref().unwrap_or_default();
        v.add(
            &shown(arn),
            "streamARN",
            &format!("must be a stream ARN starting with {prefix}"),
        );
    }
    v.finish()?;
    match (r.stream_name, from_arn.flatten()) {
        (Some(name), Some(arn_name)) if name != arn_name => Err(ApiError::new(
            "InvalidArgumentException",
            "StreamName and StreamARN refer to different streams.",
        )),
        (Some(name), _) => Ok(name),
        (None, Some(arn_name)) => Ok(arn_name.to_owned()),
        (None, None) => Err(ApiError::new(
            "InvalidArgumentException",
            "Either StreamName or StreamARN must be provided.",
        )),
    }
}

/// ResourceNotFoundException for a stream, worded like AWS's.
pub(super) fn not_found(name: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        format!("Stream {name} under account {ACCOUNT_ID} not found."),
    )
}

pub(super) fn create_stream(state: &State, input: CreateStreamInput, now_ms: u64) -> OpResult {
    let mut v = Violations::default();
    match &input.stream_name {
        None => v.null("streamName"),
        Some(n) if !valid_stream_name(n) => v.add(
            &shown(n),
            "streamName",
            &format!("must satisfy regular expression pattern: {STREAM_NAME_CHARS}"),
        ),
        Some(_) => {}
    }
    if let Some(c) = input.shard_count.filter(|c| *c < 1) {
        v.add(
            &format!("'{c}'"),
            "shardCount",
            "must have value greater than or equal to 1",
        );
    }
    v.finish()?;
    let name = input.stream_name.unwrap_or_default();
    // On-demand streams start with 4 shards; a cap keeps memory bounded.
    let count = input.shard_count.unwrap_or(4);
    let count = u32::try_from(count).ok().filter(|c| *c <= 10_000).ok_or_else(|| {
        ApiError::new(
            "LimitExceededException",
            format!("ShardCount {count} exceeds the local limit of 10000."),
        )
    })?;
    if !state.store().create(&name, count, now_ms) {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!("Stream {name} under account {ACCOUNT_ID} already exists."),
        ));
    }
    // Streams are ACTIVE immediately (AWS goes through CREATING first).
    Ok(b"{}".to_vec())
}

pub(super) fn describe_stream_summary(state: &State, input: StreamRef) -> OpResult {
    let name = stream_name(state, input)?;
    let store = state.store();
    let s = store.get(&name).ok_or_else(|| not_found(&name))?;
    json(&DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            stream_name: s.name.clone(),
            stream_arn: s.arn(&state.config.region),
            stream_status: "ACTIVE",
            stream_mode_details: StreamModeDetails {
                stream_mode: "PROVISIONED",
            },
            retention_period_hours: 24,
            stream_creation_timestamp: s.created_ms as f64 / 1000.0,
            enhanced_monitoring: vec![EnhancedMetrics {
                shard_level_metrics: vec![],
            }],
            encryption_type: "NONE",
            open_shard_count: s.shards.len(),
            consumer_count: 0,
        },
    })
}

/// ListShards pages with an opaque token: base64 of "stream|next index".
pub(super) fn list_shards(state: &State, input: ListShardsInput) -> OpResult {
    let max = input.max_results.unwrap_or(1000);
    if !(1..=10_000).contains(&max) {
        let mut v = Violations::default();
        v.add(&format!("'{max}'"), "maxResults", "must have value between 1 and 10000");
        v.finish()?;
    }
    let has_stream = input.stream.stream_name.is_some() || input.stream.stream_arn.is_some();
    let (name, mut start) = match input.next_token {
        Some(_) if has_stream => {
            return Err(ApiError::new(
                "InvalidArgumentException",
                "NextToken and StreamName/StreamARN cannot be provided together.",
            ));
        }
        Some(token) => decode_list_token(&token)?,
        None => (stream_name(state, input.stream)?, 0),
    };
    let store = state.store();
    let s: &Stream = store.get(&name).ok_or_else(|| not_found(&name))?;
    if let Some(after) = &input.exclusive_start_shard_id {
        // Shard ids sort by index, so "after" works for unknown ids too.
        start = start.max(s.shards.iter().take_while(|sh| sh.id <= *after).count());
    }
    let end = s.shards.len().min(start + max as usize);
    let shards = (start..end)
        .map(|i| ShardShape {
            shard_id: shard_id(i),
            hash_key_range: HashKeyRange {
                starting_hash_key: s.shards[i].start.to_string(),
                ending_hash_key: s.shards[i].end.to_string(),
            },
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: s.starting_sequence_number(i),
            },
        })
        .collect();
    let next_token = (end < s.shards.len()).then(|| STANDARD.encode(format!("{name}|{end}")));
    json(&ListShardsOutput { shards, next_token })
}

fn decode_list_token(token: &str) -> Result<(String, usize), ApiError> {
    let bad = || ApiError::new("InvalidArgumentException", "Invalid NextToken.");
    let raw = STANDARD.decode(token).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (name, index) = raw.rsplit_once('|').ok_or_else(bad)?;
    Ok((name.to_owned(), index.parse().map_err(|_| bad())?))
}
