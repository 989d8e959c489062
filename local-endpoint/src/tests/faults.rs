//! Injected faults through the handler: what each one answers, what it
//! stores, and that a seed repeats them. `faults_wire` has the ones that
//! act on the connection.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::faults::Delivery;
use crate::{Faults, LocalEndpoint, RequestError};

/// A handler state with these faults and a 2-shard stream "s".
fn faulty(faults: Faults) -> State {
    let config = LocalEndpointConfig {
        faults,
        ..LocalEndpointConfig::default()
    };
    state_with_config(config, "s", 2)
}

/// A running endpoint with these faults and a 2-shard stream "s".
pub(super) async fn faulty_endpoint(faults: Faults) -> LocalEndpoint {
    let config = LocalEndpointConfig {
        faults,
        ..LocalEndpointConfig::default()
    };
    let endpoint = LocalEndpoint::start(config).await.unwrap();
    endpoint.create_stream("s", 2);
    endpoint
}

/// Data of every record of stream "s" (copies included), sorted.
fn stored_data(state: &State) -> Vec<Vec<u8>> {
    let mut data: Vec<_> = state
        .store()
        .get("s")
        .unwrap()
        .stored_records()
        .into_iter()
        .map(|r| r.data)
        .collect();
    data.sort();
    data
}

/// A PutRecords call through the handler: status, delivery and raw body.
fn put_raw(state: &State, records: Vec<Value>) -> (StatusCode, Delivery, Vec<u8>) {
    let body = json!({"StreamName": "s", "Records": records}).to_string();
    let req = signed(&Signer::default(), "PutRecords", body.as_bytes());
    let handled = api::handle(state, &req.method, &req.uri, &req.headers, &req.body);
    (
        handled.response.status(),
        handled.delivery,
        handled.response.into_body(),
    )
}

const ALL_ERRORS: [RequestError; 4] = [
    RequestError::InternalFailure500,
    RequestError::ServiceUnavailable503,
    RequestError::LimitExceeded400,
    RequestError::Validation400,
];

#[test]
fn throttled_records_are_not_stored() {
    let state = faulty(Faults {
        seed: 7,
        throttle_records: 0.5,
        ..Faults::default()
    });
    let (status, body) = put_records(&state, entries(100));
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["Records"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    let throttled: Vec<usize> = (0..100).filter(|&i| results[i].get("ErrorCode").is_some()).collect();
    assert!((20..80).contains(&throttled.len()), "{} throttled", throttled.len());
    assert_eq!(body["FailedRecordCount"], throttled.len());
    let mut expected = Vec::new();
    for (i, r) in results.iter().enumerate() {
        if throttled.contains(&i) {
            assert_eq!(r["ErrorCode"], "ProvisionedThroughputExceededException");
            let message = r["ErrorMessage"].as_str().unwrap();
            assert!(message.starts_with("Rate exceeded for shard shardId-"), "{message}");
            assert!(r.get("SequenceNumber").is_none() && r.get("ShardId").is_none(), "{r}");
        } else {
            assert!(r.get("ErrorMessage").is_none(), "{r}");
            expected.push(format!("event {i}").into_bytes());
        }
    }
    // Exactly the records answered with a sequence number are stored.
    expected.sort();
    assert_eq!(stored_data(&state), expected);
    let stats = state.counters.snapshot();
    assert_eq!(stats.faults_throttled_records, throttled.len() as u64);
    assert_eq!(stats.records_stored, 100 - throttled.len() as u64);
    assert_eq!(stats.put_records_stored_requests, 1);
}

#[test]
fn fully_throttled_batch_stores_nothing() {
    let state = faulty(Faults {
        throttle_records: 1.0,
        ..Faults::default()
    });
    let (status, body) = put_records(&state, entries(3));
    assert_eq!((status, &body["FailedRecordCount"]), (StatusCode::OK, &json!(3)));
    assert!(stored_data(&state).is_empty());
    let stats = state.counters.snapshot();
    assert_eq!(
        (stats.put_records_stored_requests, stats.faults_throttled_records),
        (0, 3)
    );
    // PutRecord is never faulted.
    let (status, _) = call(
        &state,
        "PutRecord",
        json!({"StreamName": "s", "Data": "AA==", "PartitionKey": "k"}),
    );
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn failed_requests_store_nothing() {
    let expected = [
        (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
        (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        (StatusCode::BAD_REQUEST, "LimitExceededException"),
        (StatusCode::BAD_REQUEST, "ValidationException"),
    ];
    for (error, (status, code)) in ALL_ERRORS.into_iter().zip(expected) {
        let state = faulty(Faults {
            fail_requests: 1.0,
            request_errors: vec![error],
            ..Faults::default()
        });
        // `call` also checks that x-amzn-ErrorType matches __type.
        let (got, body) = put_records(&state, entries(3));
        assert_eq!((got, body["__type"].as_str()), (status, Some(code)), "{error:?}");
        assert!(stored_data(&state).is_empty(), "{error:?}");
        let stats = state.counters.snapshot();
        assert_eq!((stats.faults_failed_requests, stats.records_stored), (1, 0));
        assert_eq!((stats.put_records_requests, stats.error_responses), (1, 1));
    }
}

#[test]
fn failed_requests_draw_every_listed_error_and_none_from_an_empty_list() {
    let state = faulty(Faults {
        seed: 3,
        fail_requests: 1.0,
        request_errors: ALL_ERRORS.to_vec(),
        ..Faults::default()
    });
    let mut codes: Vec<String> = (0..40)
        .map(|_| put_records(&state, entries(1)).1["__type"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 4, "{codes:?}");

    let state = faulty(Faults {
        fail_requests: 1.0,
        ..Faults::default()
    });
    assert_eq!(put_records(&state, entries(2)).0, StatusCode::OK);
    assert_eq!(state.counters.snapshot().faults_failed_requests, 0);
}

/// Every PutRecords fault on; the answer and its delivery are unharmed.
fn every_put_records_fault() -> Faults {
    Faults {
        throttle_records: 1.0,
        fail_requests: 1.0,
        request_errors: vec![RequestError::InternalFailure500],
        slow_answers: 1.0,
        slow_answer: Duration::from_secs(60),
        malformed_answers: 1.0,
        drop_after_processing: 1.0,
        ..Faults::default()
    }
}

#[test]
fn other_operations_and_unauthenticated_requests_are_not_faulted() {
    let state = faulty(every_put_records_fault());
    let ops = [
        ("CreateStream", json!({"StreamName": "t", "ShardCount": 1})),
        (
            "PutRecord",
            json!({"StreamName": "s", "Data": "AA==", "PartitionKey": "k"}),
        ),
        ("DescribeStreamSummary", json!({"StreamName": "s"})),
        ("ListShards", json!({"StreamName": "s"})),
        (
            "GetShardIterator",
            json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
        ),
    ];
    for (op, body) in ops {
        let req = signed(&Signer::default(), op, body.to_string().as_bytes());
        let handled = api::handle(&state, &req.method, &req.uri, &req.headers, &req.body);
        assert_eq!(handled.response.status(), StatusCode::OK, "{op}");
        assert_eq!(handled.delivery, Delivery::default(), "{op}");
    }
    // A PutRecords that fails authentication gets the auth error, not a fault.
    let wrong = Signer {
        secret_key: "wrong".to_owned(),
        ..Signer::default()
    };
    let body = json!({"StreamName": "s", "Records": entries(1)}).to_string();
    let (status, _, body) = send(&state, &signed(&wrong, "PutRecords", body.as_bytes()));
    assert_eq!(
        (status, body["__type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidSignatureException"))
    );
    let stats = state.counters.snapshot();
    assert_eq!((stats.put_records_requests, stats.faults_failed_requests), (0, 0));
    assert_eq!(stats.records_stored, 1);
}

#[test]
fn malformed_answer_still_stores() {
    let state = faulty(Faults {
        malformed_answers: 1.0,
        ..Faults::default()
    });
    let answers: Vec<(StatusCode, Vec<u8>)> = (0..4)
        .map(|_| {
            let (status, delivery, body) = put_raw(&state, entries(4));
            assert_eq!(delivery, Delivery::default());
            (status, body)
        })
        .collect();
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
    // The kinds take turns: cut in half, a Records array one short, not JSON.
    let cut = &answers[0].1;
    assert!(cut.starts_with(br#"{"FailedRecordCount":0,"Records":["#), "{cut:?}");
    assert!(serde_json::from_slice::<Value>(cut).is_err());
    let short: Value = serde_json::from_slice(&answers[1].1).unwrap();
    assert_eq!(
        (
            short["FailedRecordCount"].as_u64(),
            short["Records"].as_array().unwrap().len()
        ),
        (Some(0), 3)
    );
    assert!(serde_json::from_slice::<Value>(&answers[2].1).is_err());
    assert!(answers[2].1.starts_with(b"<html>"));
    assert_eq!(answers[3].1.len(), cut.len(), "the turns start over");
    assert_eq!(stored_data(&state).len(), 16);
    let stats = state.counters.snapshot();
    assert_eq!(
        (stats.faults_malformed_answers, stats.put_records_stored_requests),
        (4, 4)
    );
}

/// What each of `batches` PutRecords calls met, as text: status, error or
/// spoiled body, throttled record indices and delivery.
fn fault_trace(state: &State, batches: &[usize]) -> Vec<String> {
    batches
        .iter()
        .map(|&n| {
            let (status, delivery, body) = put_raw(state, entries(n));
            let seen = match serde_json::from_slice::<Value>(&body) {
                Ok(json) if json["Records"].as_array().is_some_and(|r| r.len() == n) => {
                    let records = json["Records"].as_array().unwrap();
                    let failed: Vec<usize> = (0..n).filter(|&i| records[i].get("ErrorCode").is_some()).collect();
                    format!("throttled {failed:?}")
                }
                Ok(json) if json.get("__type").is_some() => format!("{}", json["__type"]),
                _ => "malformed".to_owned(),
            };
            format!("{status} {seen} {delivery:?}")
        })
        .collect()
}

fn mixed_faults(seed: u64) -> Faults {
    Faults {
        seed,
        throttle_records: 0.2,
        fail_requests: 0.2,
        request_errors: ALL_ERRORS.to_vec(),
        slow_answers: 0.2,
        slow_answer: Duration::from_secs(1),
        malformed_answers: 0.2,
        drop_after_processing: 0.2,
        ..Faults::default()
    }
}

#[test]
fn same_seed_same_faults() {
    let batches = [5; 30];
    let first = fault_trace(&faulty(mixed_faults(42)), &batches);
    assert_eq!(fault_trace(&faulty(mixed_faults(42)), &batches), first);
    assert_ne!(fault_trace(&faulty(mixed_faults(43)), &batches), first);
    // Every kind of fault shows up in the run, so the comparison means something.
    let all = first.join("\n");
    for seen in ["500", "503", "throttled [", "malformed", "drop: true", "hold: 1s"] {
        assert!(all.contains(seen), "{seen} missing from\n{all}");
    }
}

#[test]
fn request_faults_do_not_depend_on_earlier_batch_sizes() {
    // Throttling draws per record; the request-level faults of the n-th
    // call must not shift with how many records came before.
    let request_level = |trace: Vec<String>| -> Vec<String> {
        trace
            .into_iter()
            .map(|t| {
                if t.contains("throttled") {
                    t.split(" throttled").next().unwrap().to_owned()
                } else {
                    t
                }
            })
            .collect()
    };
    let small = request_level(fault_trace(&faulty(mixed_faults(9)), &[2; 20]));
    let large = request_level(fault_trace(&faulty(mixed_faults(9)), &[50; 20]));
    assert_eq!(small, large);
}

#[tokio::test]
async fn set_faults_reseeds_at_runtime() {
    let endpoint = faulty_endpoint(Faults::default()).await;
    let batches = [3; 20];
    assert!(
        fault_trace(&endpoint.state, &batches)
            .iter()
            .all(|t| t.starts_with("200 OK throttled []"))
    );
    endpoint.set_faults(mixed_faults(5));
    assert_eq!(endpoint.faults().seed, 5);
    let first = fault_trace(&endpoint.state, &batches);
    endpoint.set_faults(mixed_faults(5));
    assert_eq!(fault_trace(&endpoint.state, &batches), first);
    let bad = Faults {
        drop_after_processing: 1.5,
        ..Faults::default()
    };
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| endpoint.set_faults(bad.clone())));
    assert!(panicked.is_err());
    let config = LocalEndpointConfig {
        faults: Faults {
            throttle_records: f64::NAN,
            ..Faults::default()
        },
        ..LocalEndpointConfig::default()
    };
    let err = LocalEndpoint::start(config).await.err().unwrap();
    assert!(err.to_string().contains("throttle_records"), "{err}");
}
