//! PutRecord(s): limits, validation, shard mapping, stream errors.

use http::StatusCode;
use serde_json::{Value, json};

use super::*;

#[test]
fn put_records_500_ok_501_rejected() {
    let state = state_with_stream("s", 2);
    let (status, body) = put_records(&state, entries(500));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["FailedRecordCount"], 0);
    assert_eq!(body["EncryptionType"], "NONE");
    assert_eq!(body["Records"].as_array().unwrap().len(), 500);
    let first = &body["Records"][0];
    assert!(first["ShardId"].as_str().unwrap().starts_with("shardId-00000000000"));
    assert_eq!(first["SequenceNumber"].as_str().unwrap().len(), 56);

    let (status, body) = put_records(&state, entries(501));
    assert_eq!(
        (status, body["__type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ValidationException"))
    );
    let (status, body) = put_records(&state, vec![]);
    assert_eq!(
        (status, body["__type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ValidationException"))
    );
    // Rejected requests store nothing.
    let stats = state.counters.snapshot();
    assert_eq!((stats.records_stored, stats.put_records_requests), (500, 3));
}

#[test]
fn record_size_limit_counts_partition_key() {
    let state = state_with_stream("s", 1);
    let max = LocalEndpointConfig::default().max_record_size;
    let record = |data_len: usize| json!({"Data": b64(&vec![7u8; data_len]), "PartitionKey": "key"});
    // data + 3-byte key exactly at the limit is fine...
    assert_eq!(put_records(&state, vec![record(max - 3)]).0, StatusCode::OK);
    // ...one byte over is not, in both operations.
    let (_, body) = put_records(&state, vec![record(max - 2)]);
    assert_eq!(body["__type"], "InvalidArgumentException", "{body}");
    let mut single = record(max - 2);
    single["StreamName"] = json!("s");
    assert_eq!(error_code(&state, "PutRecord", single), "InvalidArgumentException");
    // Data alone over the limit breaks the model constraint.
    let (_, body) = put_records(&state, vec![record(max + 1)]);
    assert_eq!(body["__type"], "ValidationException");
    assert_eq!(state.store().get("s").unwrap().stored_records().len(), 1);
}

#[test]
fn request_size_limit_is_enforced() {
    let config = LocalEndpointConfig {
        max_record_size: 1000,
        max_request_size: 5000,
        ..LocalEndpointConfig::default()
    };
    let state = state_with_config(config, "s", 1);
    // 5 records of 990 data + 10 key bytes: exactly 5000.
    let full = json!({"Data": b64(&[1u8; 990]), "PartitionKey": "0123456789"});
    assert_eq!(put_records(&state, vec![full.clone(); 5]).0, StatusCode::OK);
    // One more byte of partition key tips it over.
    let mut records = vec![full; 5];
    records.push(json!({"Data": "", "PartitionKey": "x"}));
    let (_, body) = put_records(&state, records);
    assert_eq!(body["__type"], "InvalidArgumentException", "{body}");
    assert!(body["message"].as_str().unwrap().contains("5001"), "{body}");
    assert_eq!(state.counters.snapshot().records_stored, 5);
}

#[test]
fn field_validation() {
    let state = state_with_stream("s", 1);
    let put = |pk: Value, ehk: Option<&str>, data: &str| {
        let mut r = json!({"StreamName": "s", "Data": data, "PartitionKey": pk});
        if let Some(h) = ehk {
            r["ExplicitHashKey"] = json!(h);
        }
        error_code(&state, "PutRecord", r)
    };
    assert_eq!(put(json!(""), None, "AA=="), "ValidationException");
    assert_eq!(put(json!("x".repeat(257)), None, "AA=="), "ValidationException");
    assert_eq!(put(Value::Null, None, "AA=="), "ValidationException");
    assert_eq!(put(json!("k"), Some("01"), "AA=="), "ValidationException");
    assert_eq!(put(json!("k"), Some("-1"), "AA=="), "ValidationException");
    let too_big = (u128::MAX).to_string() + "0"; // 40 digits
    assert_eq!(put(json!("k"), Some(&too_big), "AA=="), "ValidationException");
    let just_over = "340282366920938463463374607431768211456"; // 2^128, 39 digits
    assert_eq!(put(json!("k"), Some(just_over), "AA=="), "InvalidArgumentException");
    assert_eq!(put(json!("k"), None, "not base64!"), "SerializationException");
    assert_eq!(put(json!(5), None, "AA=="), "SerializationException");
    // 256 multi-byte characters are fine: the limit is in characters.
    let (status, _) = call(
        &state,
        "PutRecord",
        json!({"StreamName": "s", "Data": "", "PartitionKey": "é".repeat(256)}),
    );
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn unknown_stream_and_operation() {
    let state = state_with_stream("s", 1);
    let body = json!({"StreamName": "nope", "Data": "AA==", "PartitionKey": "k"});
    assert_eq!(error_code(&state, "PutRecord", body), "ResourceNotFoundException");
    assert_eq!(
        error_code(&state, "DescribeStreamSummary", json!({"StreamName": "nope"})),
        "ResourceNotFoundException"
    );
    assert_eq!(
        error_code(&state, "DeleteStream", json!({"StreamName": "s"})),
        "UnknownOperationException"
    );
    assert_eq!(
        error_code(&state, "CreateStream", json!({"StreamName": "s", "ShardCount": 1})),
        "ResourceInUseException"
    );
    assert_eq!(
        error_code(
            &state,
            "CreateStream",
            json!({"StreamName": "bad name", "ShardCount": 1})
        ),
        "ValidationException"
    );
}

#[test]
fn shard_mapping_follows_md5_with_4_shards() {
    let state = state_with_stream("s", 4);
    let keys: Vec<String> = (0..64).map(|i| format!("user-{i}")).collect();
    let records = keys
        .iter()
        .map(|k| json!({"Data": "AA==", "PartitionKey": k}))
        .collect();
    let (status, body) = put_records(&state, records);
    assert_eq!(status, StatusCode::OK);
    for (key, result) in keys.iter().zip(body["Records"].as_array().unwrap()) {
        // 4 even ranges: the top two bits of the MD5 pick the shard.
        let hash = u128::from_be_bytes(md5::compute(key).0);
        let expected = format!("shardId-{:012}", hash >> 126);
        assert_eq!(result["ShardId"], expected.as_str(), "key {key}");
    }
    // An ExplicitHashKey overrides the partition key's hash.
    let start_of_shard_2 = (2u128 << 126).to_string();
    for (ehk, shard) in [("0", 0), (start_of_shard_2.as_str(), 2), (&*(u128::MAX.to_string()), 3)] {
        let body = json!({"StreamName": "s", "Data": "AA==", "PartitionKey": "user-0", "ExplicitHashKey": ehk});
        let (_, out) = call(&state, "PutRecord", body);
        assert_eq!(out["ShardId"], format!("shardId-{shard:012}"));
    }
    // ListShards reports the same ranges.
    let (_, shards) = call(&state, "ListShards", json!({"StreamName": "s"}));
    assert_eq!(
        shards["Shards"][2]["HashKeyRange"]["StartingHashKey"],
        start_of_shard_2.as_str()
    );
    assert_eq!(
        shards["Shards"][3]["HashKeyRange"]["EndingHashKey"],
        u128::MAX.to_string()
    );
}
