//! Reading back: ListShards, DescribeStreamSummary, shard iterators and
//! GetRecords.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::{Value, json};

use super::*;

#[test]
fn list_shards_pages_and_describe_summary() {
    let state = state_with_stream("s", 3);
    let (_, page) = call(&state, "ListShards", json!({"StreamName": "s", "MaxResults": 2}));
    assert_eq!(page["Shards"].as_array().unwrap().len(), 2);
    let token = page["NextToken"].as_str().unwrap();
    let (_, rest) = call(&state, "ListShards", json!({"NextToken": token}));
    assert_eq!(rest["Shards"][0]["ShardId"], "shardId-000000000002");
    assert!(rest.get("NextToken").is_none());
    let body = json!({"StreamName": "s", "NextToken": token});
    assert_eq!(error_code(&state, "ListShards", body), "InvalidArgumentException");

    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    let (_, d) = call(&state, "DescribeStreamSummary", json!({"StreamARN": arn}));
    let d = &d["StreamDescriptionSummary"];
    assert_eq!(
        (d["StreamName"].as_str(), d["StreamARN"].as_str()),
        (Some("s"), Some(arn))
    );
    assert_eq!(
        (d["StreamStatus"].as_str(), d["OpenShardCount"].as_u64()),
        (Some("ACTIVE"), Some(3))
    );
}

fn iterator(state: &State, shard: &str, kind: &str, seq: Option<&str>) -> String {
    let mut body = json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": kind});
    if let Some(seq) = seq {
        body["StartingSequenceNumber"] = json!(seq);
    }
    let (status, out) = call(state, "GetShardIterator", body);
    assert_eq!(status, StatusCode::OK, "{out}");
    out["ShardIterator"].as_str().unwrap().to_owned()
}

fn get(state: &State, iterator: &str, limit: Option<u32>) -> Value {
    let mut body = json!({"ShardIterator": iterator});
    if let Some(l) = limit {
        body["Limit"] = json!(l);
    }
    let (status, out) = call(state, "GetRecords", body);
    assert_eq!(status, StatusCode::OK, "{out}");
    out
}

fn data_of(out: &Value) -> Vec<Vec<u8>> {
    let records = out["Records"].as_array().unwrap();
    records
        .iter()
        .map(|r| STANDARD.decode(r["Data"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn get_records_reads_back_what_was_put() {
    let state = state_with_stream("s", 1);
    let latest = iterator(&state, "shardId-000000000000", "LATEST", None);
    let (_, put) = put_records(&state, entries(5));
    let seqs: Vec<&str> = put["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["SequenceNumber"].as_str().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));

    let out = get(
        &state,
        &iterator(&state, "shardId-000000000000", "TRIM_HORIZON", None),
        Some(3),
    );
    assert_eq!(
        data_of(&out),
        [b"event 0".to_vec(), b"event 1".to_vec(), b"event 2".to_vec()]
    );
    assert_eq!(out["Records"][1]["PartitionKey"], "pk-1");
    assert_eq!(out["Records"][1]["SequenceNumber"], seqs[1]);
    assert!(out["Records"][0]["ApproximateArrivalTimestamp"].as_f64().unwrap() > 1.7e9);
    let next = out["NextShardIterator"].as_str().unwrap();
    let out = get(&state, next, None);
    assert_eq!(data_of(&out).len(), 2);
    assert_eq!(out["MillisBehindLatest"], 0);

    // The LATEST iterator taken before the put sees all five.
    assert_eq!(data_of(&get(&state, &latest, None)).len(), 5);
    let at = get(
        &state,
        &iterator(&state, "shardId-000000000000", "AT_SEQUENCE_NUMBER", Some(seqs[3])),
        None,
    );
    assert_eq!(data_of(&at), [b"event 3".to_vec(), b"event 4".to_vec()]);
    let after = get(
        &state,
        &iterator(&state, "shardId-000000000000", "AFTER_SEQUENCE_NUMBER", Some(seqs[3])),
        None,
    );
    assert_eq!(data_of(&after), [b"event 4".to_vec()]);

    // The endpoint's own view agrees.
    let stored = state.store().get("s").unwrap().stored_records();
    assert_eq!(stored.len(), 5);
    assert_eq!(stored[4].sequence_number, seqs[4]);
    assert_eq!(stored[4].data, b"event 4");
}

#[test]
fn iterator_errors() {
    let state = state_with_stream("s", 2);
    let body = json!({"StreamName": "s", "ShardId": "shardId-000000000009", "ShardIteratorType": "LATEST"});
    assert_eq!(
        error_code(&state, "GetShardIterator", body),
        "ResourceNotFoundException"
    );
    let body = json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "SOMETIME"});
    assert_eq!(error_code(&state, "GetShardIterator", body), "ValidationException");
    let body = json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER"});
    assert_eq!(error_code(&state, "GetShardIterator", body), "InvalidArgumentException");
    // A sequence number of another shard does not belong here.
    let (_, shards) = call(&state, "ListShards", json!({"StreamName": "s"}));
    let other = shards["Shards"][1]["SequenceNumberRange"]["StartingSequenceNumber"]
        .as_str()
        .unwrap();
    let body = json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": other});
    assert_eq!(error_code(&state, "GetShardIterator", body), "InvalidArgumentException");
    assert_eq!(
        error_code(&state, "GetRecords", json!({"ShardIterator": "garbage"})),
        "InvalidArgumentException"
    );
}
