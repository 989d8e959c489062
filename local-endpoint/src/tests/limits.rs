//! Per-shard write limits and the simulated outage: what is throttled,
//! what is stored, and when the endpoint is down.
//!
//! The limits refill with real time, so bounds that depend on how long a
//! call took are measured, not assumed (the machine may be busy).

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::{exchange, post};
use super::*;
use crate::limits::Buckets;
use crate::{LocalEndpoint, Outage, OutageKind, ShardLimits};

/// A handler state enforcing `limits` on a 2-shard stream "s".
fn limited(limits: ShardLimits) -> State {
    let config = LocalEndpointConfig {
        shard_limits: Some(limits),
        ..LocalEndpointConfig::default()
    };
    state_with_config(config, "s", 2)
}

/// A handler state with this outage and a 2-shard stream "s".
fn outage_state(outage: Outage) -> State {
    let config = LocalEndpointConfig {
        outage: Some(outage),
        ..LocalEndpointConfig::default()
    };
    state_with_config(config, "s", 2)
}

/// `count` entries "r{from}".. all routed to `shard` (0 or 1) by their
/// ExplicitHashKey.
fn for_shard(shard: usize, from: usize, count: usize) -> Vec<Value> {
    let hash_key = if shard == 0 {
        "0".to_owned()
    } else {
        u128::MAX.to_string()
    };
    (from..from + count)
        .map(|i| json!({"Data": b64(format!("r{i}").as_bytes()), "PartitionKey": format!("pk-{i}"), "ExplicitHashKey": hash_key}))
        .collect()
}

/// PutRecords that must answer 200; returns how many records it stored,
/// after checking that the throttled ones carry AWS's per-record error and
/// come after all stored ones (same-size records in one instant).
fn put_ok(state: &State, records: Vec<Value>) -> usize {
    let (status, body) = put_records(state, records);
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["Records"].as_array().unwrap();
    let stored = results.iter().take_while(|r| r.get("SequenceNumber").is_some()).count();
    for r in &results[stored..] {
        assert_eq!(r["ErrorCode"], "ProvisionedThroughputExceededException", "{r}");
        let shard = r["ErrorMessage"].as_str().unwrap();
        assert!(
            shard.starts_with("Rate exceeded for shard shardId-00000000000")
                && shard.ends_with(" in stream s under account 000000000000."),
            "{shard}"
        );
    }
    assert_eq!(body["FailedRecordCount"], results.len() - stored);
    stored
}

/// Data of shard `shard`'s records, in sequence order.
fn shard_data(state: &State, shard: usize) -> Vec<String> {
    let id = format!("shardId-{shard:012}");
    let store = state.store();
    store
        .get("s")
        .unwrap()
        .stored_records()
        .into_iter()
        .filter(|r| r.shard_id == id)
        .map(|r| String::from_utf8(r.data).unwrap())
        .collect()
}

/// Records a full bucket refilled during `since.elapsed()` at `rate`, plus one
/// for rounding: an upper bound on what fits beyond the burst.
fn refilled_at_most(since: Instant, rate: f64) -> usize {
    (since.elapsed().as_secs_f64() * rate) as usize + 1
}

#[test]
fn buckets_refill_by_elapsed_time() {
    let limits = ShardLimits::default();
    let t0 = Instant::now();
    let mut b = Buckets::full(&limits, t0);
    assert_eq!((0..1200).filter(|_| b.take(&limits, t0, 10)).count(), 1000);
    let t1 = t0 + Duration::from_millis(250);
    assert_eq!((0..1000).filter(|_| b.take(&limits, t1, 10)).count(), 250);
    // An idle shard refills to one second's worth, no more.
    let t2 = t1 + Duration::from_secs(10);
    assert_eq!((0..2000).filter(|_| b.take(&limits, t2, 10)).count(), 1000);
    // An earlier instant refills nothing and does not move the clock back.
    assert!(!b.take(&limits, t0, 10));
}

#[test]
fn other_producer_and_bytes_shrink_the_buckets() {
    let limits = ShardLimits {
        other_producer: 0.5,
        ..ShardLimits::default()
    };
    let t0 = Instant::now();
    let mut b = Buckets::full(&limits, t0);
    assert_eq!((0..1000).filter(|_| b.take(&limits, t0, 1)).count(), 500);
    // 512 KiB left per second: two 200 KiB records fit, the third doesn't.
    let mut b = Buckets::full(&limits, t0);
    assert_eq!((0..3).filter(|_| b.take(&limits, t0, 200 * 1024)).count(), 2);
    assert!(limits.check().is_ok());
    for bad in [
        ShardLimits {
            other_producer: 1.0,
            ..limits
        },
        ShardLimits {
            other_producer: -0.1,
            ..limits
        },
        ShardLimits {
            records_per_second: 0,
            ..limits
        },
    ] {
        assert!(bad.check().is_err(), "{bad:?}");
    }
}

#[test]
fn batch_within_the_limit_passes_whole() {
    let state = limited(ShardLimits::default());
    assert_eq!(put_ok(&state, for_shard(0, 0, 500)), 500);
    let expected: Vec<String> = (0..500).map(|i| format!("r{i}")).collect();
    assert_eq!(shard_data(&state, 0), expected);
    assert_eq!(state.counters.snapshot().limit_throttled_records, 0);
}

#[test]
fn burst_past_the_limit_is_throttled_per_record() {
    let state = limited(ShardLimits::default());
    let start = Instant::now();
    let first = put_ok(&state, for_shard(0, 0, 500));
    let second = put_ok(&state, for_shard(0, 500, 500));
    let third = put_ok(&state, for_shard(0, 1000, 200));
    assert_eq!((first, second), (500, 500));
    assert!(
        third <= refilled_at_most(start, 1000.0),
        "{third} of the third batch fit"
    );
    // The other shard has its own buckets.
    assert_eq!(put_ok(&state, for_shard(1, 0, 500)), 500);
    // What fit is stored in order; nothing else is.
    let expected: Vec<String> = (0..1000 + third).map(|i| format!("r{i}")).collect();
    assert_eq!(shard_data(&state, 0), expected);
    let stats = state.counters.snapshot();
    assert_eq!(stats.limit_throttled_records, 200 - third as u64);
    assert_eq!(stats.records_stored, 1500 + third as u64);
    assert_eq!(stats.faults_throttled_records, 0);
    let shards = state.store().get("s").unwrap().shard_stats();
    assert_eq!(
        (shards[0].records_stored, shards[0].limit_throttled_records),
        (1000 + third as u64, 200 - third as u64)
    );
    assert_eq!((shards[1].records_stored, shards[1].limit_throttled_records), (500, 0));
}

#[test]
fn capacity_refills_with_time() {
    let state = limited(ShardLimits::default());
    let start = Instant::now();
    let drained = put_ok(&state, for_shard(0, 0, 500)) + put_ok(&state, for_shard(0, 500, 500));
    assert_eq!(drained, 1000);
    std::thread::sleep(Duration::from_millis(300));
    let refilled = put_ok(&state, for_shard(0, 1000, 500));
    // At least the 300 ms of refill, at most what the whole test's time gave.
    assert!(
        (299..=refilled_at_most(start, 1000.0)).contains(&refilled),
        "{refilled} fit after 300 ms"
    );
}

#[test]
fn other_producer_halves_the_capacity() {
    let state = limited(ShardLimits {
        other_producer: 0.5,
        ..ShardLimits::default()
    });
    let start = Instant::now();
    let stored = put_ok(&state, for_shard(0, 0, 500)) + put_ok(&state, for_shard(0, 500, 200));
    assert!(
        (500..=500 + refilled_at_most(start, 500.0)).contains(&stored),
        "{stored} fit"
    );
}

#[test]
fn bytes_limit_counts_partition_keys() {
    let state = limited(ShardLimits {
        bytes_per_second: 1000,
        ..ShardLimits::default()
    });
    // 500 bytes of data and a 1-byte key: the second record makes 1002
    // bytes, over 1000 although the data alone would fit.
    let record = json!({"Data": b64(&[7; 500]), "PartitionKey": "k", "ExplicitHashKey": "0"});
    assert_eq!(put_ok(&state, vec![record.clone(), record]), 1);
}

#[test]
fn bytes_limit_throttles_large_records() {
    let state = limited(ShardLimits::default());
    // 300 KiB each: three fit into 1 MiB, the fourth doesn't; a small one
    // after it still does, so the order of the answer is the batch's.
    let big = json!({"Data": b64(&[1; 300 * 1024]), "PartitionKey": "big", "ExplicitHashKey": "0"});
    let small = json!({"Data": b64(b"small"), "PartitionKey": "small", "ExplicitHashKey": "0"});
    let batch = vec![big.clone(), big.clone(), big.clone(), big, small];
    let (status, body) = put_records(&state, batch);
    assert_eq!(status, StatusCode::OK, "{body}");
    let failed: Vec<bool> = body["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.get("ErrorCode").is_some())
        .collect();
    assert_eq!(failed, [false, false, false, true, false]);
    assert_eq!(body["FailedRecordCount"], 1);
    assert_eq!(state.counters.snapshot().limit_throttled_records, 1);
}

#[test]
fn put_record_over_the_limit_fails_whole() {
    let state = limited(ShardLimits {
        records_per_second: 1,
        ..ShardLimits::default()
    });
    let record = json!({"StreamName": "s", "Data": "AA==", "PartitionKey": "k", "ExplicitHashKey": "0"});
    let (status, body) = call(&state, "PutRecord", record.clone());
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&state, "PutRecord", record);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["__type"], "ProvisionedThroughputExceededException");
    assert_eq!(
        body["message"],
        "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000."
    );
    assert_eq!(shard_data(&state, 0).len(), 1);
    assert_eq!(state.counters.snapshot().limit_throttled_records, 1);
}

#[tokio::test]
async fn shard_limits_change_at_runtime() {
    let endpoint = LocalEndpoint::start(LocalEndpointConfig::default()).await.unwrap();
    endpoint.create_stream("s", 2);
    let body = |from| json!({"StreamName": "s", "Records": for_shard(0, from, 500)});
    // No limits by default: any rate goes.
    for from in [0, 500, 1000] {
        let (status, answer) = post(&endpoint, "PutRecords", body(from)).await;
        assert_eq!(
            (status.as_str(), &answer["FailedRecordCount"]),
            ("HTTP/1.1 200 OK", &json!(0))
        );
    }
    let limits = ShardLimits {
        records_per_second: 100,
        ..ShardLimits::default()
    };
    endpoint.set_shard_limits(Some(limits));
    assert_eq!(endpoint.shard_limits(), Some(limits));
    // Buckets start over full under the new limits, and the batch
    // arrived at one instant: exactly 100 fit.
    let (_, answer) = post(&endpoint, "PutRecords", body(1500)).await;
    let failed = answer["FailedRecordCount"].as_u64().unwrap();
    assert_eq!(failed, 400);
    let shards = endpoint.shard_stats("s");
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[0].records_stored, 2000 - failed);
    assert_eq!(shards[0].limit_throttled_records, failed);
    assert_eq!(endpoint.stats().limit_throttled_records, failed);
    assert!(endpoint.shard_stats("nope").is_empty());
}

#[test]
fn outage_answers_503_during_its_window() {
    let state = outage_state(Outage {
        start_after: Duration::from_millis(200),
        duration: Duration::from_millis(400),
        kind: OutageKind::Http503,
    });
    let list = json!({"StreamName": "s"});
    // ListShards does not start the clock; the first PutRecords does.
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(call(&state, "ListShards", list.clone()).0, StatusCode::OK);
    assert_eq!(put_ok(&state, for_shard(0, 0, 1)), 1);
    std::thread::sleep(Duration::from_millis(300));
    for op in ["PutRecords", "ListShards"] {
        let body = if op == "PutRecords" {
            json!({"StreamName": "s", "Records": for_shard(0, 1, 1)})
        } else {
            list.clone()
        };
        // call() checks the x-amzn-ErrorType header matches the body.
        let (status, answer) = call(&state, op, body);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{op}: {answer}");
        assert_eq!(answer["__type"], "ServiceUnavailable");
        assert!(answer["message"].as_str().unwrap().contains("outage"), "{answer}");
    }
    // Reads still work, so a test can see what arrived.
    let summary = call(&state, "DescribeStreamSummary", json!({"StreamName": "s"}));
    assert_eq!(summary.0, StatusCode::OK);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(put_ok(&state, for_shard(0, 2, 1)), 1);
    assert_eq!(shard_data(&state, 0), ["r0", "r2"]);
    let stats = state.counters.snapshot();
    assert_eq!((stats.outage_unavailable_answers, stats.put_records_requests), (2, 3));
}

#[test]
fn outage_clock_starts_at_the_first_write() {
    let state = outage_state(Outage {
        start_after: Duration::ZERO,
        duration: Duration::from_secs(60),
        kind: OutageKind::Http503,
    });
    assert_eq!(call(&state, "ListShards", json!({"StreamName": "s"})).0, StatusCode::OK);
    let (status, _) = put_records(&state, for_shard(0, 0, 1));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = call(&state, "ListShards", json!({"StreamName": "s"}));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Lifting it ends the outage at once.
    state.outage.set(None);
    assert_eq!(put_ok(&state, for_shard(0, 0, 1)), 1);
}

/// Whether an exchange ended without an answer (early EOF or a reset).
fn unanswered(result: std::io::Result<Vec<u8>>) -> bool {
    match result {
        Ok(answer) => answer.is_empty(),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

#[tokio::test]
async fn outage_refuses_connections_during_its_window() {
    let endpoint = LocalEndpoint::start(LocalEndpointConfig::default()).await.unwrap();
    endpoint.create_stream("s", 2);
    let body = |from| json!({"StreamName": "s", "Records": for_shard(0, from, 1)});
    endpoint.set_outage(Some(Outage {
        start_after: Duration::from_millis(100),
        duration: Duration::from_millis(400),
        kind: OutageKind::RefuseConnections,
    }));
    let (status, _) = post(&endpoint, "PutRecords", body(0)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Any operation: nothing answers.
    assert!(unanswered(exchange(&endpoint, "PutRecords", &body(1)).await));
    assert!(unanswered(
        exchange(&endpoint, "DescribeStreamSummary", &json!({"StreamName": "s"})).await
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _) = post(&endpoint, "PutRecords", body(2)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let data: Vec<Vec<u8>> = endpoint.records("s").into_iter().map(|r| r.data).collect();
    assert_eq!(data, [b"r0".to_vec(), b"r2".to_vec()]);
    let stats = endpoint.stats();
    assert_eq!((stats.outage_refused_connections, stats.requests), (2, 2));
}

/// Sends a signed PutRecords on a kept-alive connection and reads one answer
/// (by its content-length); None if the server closed the connection instead.
async fn keep_alive_put(stream: &mut TcpStream, body: &Value) -> Option<String> {
    let req = signed(&Signer::default(), "PutRecords", body.to_string().as_bytes());
    let mut wire = format!("POST / HTTP/1.1\r\ncontent-length: {}\r\n", req.body.len());
    for (name, value) in &req.headers {
        wire += &format!("{name}: {}\r\n", value.to_str().unwrap());
    }
    wire += "\r\n";
    stream.write_all(wire.as_bytes()).await.ok()?;
    stream.write_all(&req.body).await.ok()?;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => answer.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8(answer).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(head.lines().next().unwrap().to_owned())
}

#[tokio::test]
async fn outage_breaks_kept_alive_connections() {
    let config = LocalEndpointConfig {
        outage: Some(Outage {
            start_after: Duration::from_millis(100),
            duration: Duration::from_secs(60),
            kind: OutageKind::RefuseConnections,
        }),
        ..LocalEndpointConfig::default()
    };
    let endpoint = LocalEndpoint::start(config).await.unwrap();
    endpoint.create_stream("s", 2);
    let body = json!({"StreamName": "s", "Records": for_shard(1, 0, 1)});
    let mut stream = TcpStream::connect(endpoint.local_addr()).await.unwrap();
    let status = keep_alive_put(&mut stream, &body).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(keep_alive_put(&mut stream, &body).await, None);
    assert_eq!(endpoint.records("s").len(), 1);
    let stats = endpoint.stats();
    assert_eq!(
        (stats.outage_dropped_connections, stats.outage_refused_connections),
        (1, 0)
    );
}
