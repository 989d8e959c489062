//! Request and response bodies of the Kinesis JSON 1.1 protocol.
//!
//! Request members are Options so that a missing or null member becomes an
//! AWS-style ValidationException instead of a serde error; a member of the
//! wrong JSON type is a SerializationException, as on AWS. Unknown members
//! are ignored.

use serde::{Deserialize, Serialize};

/// StreamName / StreamARN pair most operations take.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamRef {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateStreamInput {
    pub stream_name: Option<String>,
    pub shard_count: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListShardsInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRecordInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub data: Option<String>,
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
    pub sequence_number_for_ordering: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRecordsInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub records: Option<Vec<PutRecordsEntry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRecordsEntry {
    pub data: Option<String>,
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetShardIteratorInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub starting_sequence_number: Option<String>,
    /// Epoch seconds, as JSON 1.1 encodes timestamps.
    pub timestamp: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    pub kind: &'a str,
    #[serde(rename = "message")]
    pub message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeStreamSummaryOutput {
    pub stream_description_summary: StreamDescriptionSummary,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamDescriptionSummary {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: &'static str,
    pub stream_mode_details: StreamModeDetails,
    pub retention_period_hours: u32,
    pub stream_creation_timestamp: f64,
    pub enhanced_monitoring: Vec<EnhancedMetrics>,
    pub encryption_type: &'static str,
    pub open_shard_count: usize,
    pub consumer_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamModeDetails {
    pub stream_mode: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EnhancedMetrics {
    pub shard_level_metrics: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListShardsOutput {
    pub shards: Vec<ShardShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ShardShape {
    pub shard_id: String,
    pub hash_key_range: HashKeyRange,
    pub sequence_number_range: SequenceNumberRange,
}

/// Hash keys are decimal strings: they do not fit JSON numbers.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct HashKeyRange {
    pub starting_hash_key: String,
    pub ending_hash_key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SequenceNumberRange {
    pub starting_sequence_number: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRecordOutput {
    pub shard_id: String,
    pub sequence_number: String,
    pub encryption_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRecordsOutput {
    pub failed_record_count: u32,
    pub records: Vec<PutRecordsResultEntry>,
    pub encryption_type: &'static str,
}

/// Either SequenceNumber+ShardId (success) or ErrorCode+ErrorMessage.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRecordsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetShardIteratorOutput {
    pub shard_iterator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetRecordsOutput {
    pub records: Vec<RecordShape>,
    pub next_shard_iterator: String,
    pub millis_behind_latest: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordShape {
    pub sequence_number: String,
    /// Epoch seconds with millisecond precision.
    pub approximate_arrival_timestamp: f64,
    /// Base64 of the record data.
    pub data: String,
    pub partition_key: String,
}
