//! Injected faults that act on the connection, through the real server:
//! refused connections, dropped and slow answers, latency.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::faults::faulty_endpoint;
use super::server::{exchange, post};
use crate::{Faults, LocalEndpoint};

fn put_body(records: &[&str]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|d| json!({"Data": super::b64(d.as_bytes()), "PartitionKey": d}))
        .collect();
    json!({"StreamName": "s", "Records": records})
}

/// How many copies of each datum stream "s" holds, sorted by datum.
fn copies(endpoint: &LocalEndpoint) -> Vec<(String, usize)> {
    let mut data: Vec<String> = endpoint
        .records("s")
        .into_iter()
        .map(|r| String::from_utf8(r.data).unwrap())
        .collect();
    data.sort();
    let mut out: Vec<(String, usize)> = Vec::new();
    for d in data {
        match out.last_mut() {
            Some((last, n)) if *last == d => *n += 1,
            _ => out.push((d, 1)),
        }
    }
    out
}

#[tokio::test]
async fn refused_connection_is_closed_before_reading() {
    let endpoint = faulty_endpoint(Faults {
        refuse_connections: 1.0,
        ..Faults::default()
    })
    .await;
    // The client sees an early end of stream or a reset, never an answer.
    match exchange(&endpoint, "PutRecords", &put_body(&["a"])).await {
        Ok(answer) => assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer)),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
    assert!(endpoint.records("s").is_empty());
    let stats = endpoint.stats();
    assert_eq!((stats.faults_refused_connections, stats.requests), (1, 0));
    // Once the fault is lifted the same request goes through.
    endpoint.set_faults(Faults::default());
    let (status, body) = post(&endpoint, "PutRecords", put_body(&["a"])).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(copies(&endpoint), [("a".to_owned(), 1)]);
}

#[tokio::test]
async fn dropped_connection_stores_without_answering() {
    let endpoint = faulty_endpoint(Faults {
        drop_after_processing: 1.0,
        ..Faults::default()
    })
    .await;
    let answer = exchange(&endpoint, "PutRecords", &put_body(&["a", "b"])).await.unwrap();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(copies(&endpoint), [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    let stats = endpoint.stats();
    assert_eq!(
        (stats.faults_dropped_connections, stats.put_records_stored_requests),
        (1, 1)
    );
    // Other operations still answer, so a test can read back what arrived.
    let (status, _) = post(&endpoint, "DescribeStreamSummary", json!({"StreamName": "s"})).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn retry_after_dropped_answer_stores_twice() {
    let endpoint = faulty_endpoint(Faults {
        drop_after_processing: 1.0,
        ..Faults::default()
    })
    .await;
    let body = put_body(&["a", "b"]);
    assert!(exchange(&endpoint, "PutRecords", &body).await.unwrap().is_empty());
    endpoint.set_faults(Faults::default());
    let (status, answer) = post(&endpoint, "PutRecords", body).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
    // records() holds every copy: this is how a test spots duplicates.
    assert_eq!(copies(&endpoint), [("a".to_owned(), 2), ("b".to_owned(), 2)]);
    assert_eq!(endpoint.stats().put_records_stored_requests, 2);
}

#[tokio::test]
async fn slow_answer_stores_before_answering() {
    let slow_answer = Duration::from_millis(400);
    let endpoint = faulty_endpoint(Faults {
        slow_answers: 1.0,
        slow_answer,
        ..Faults::default()
    })
    .await;
    // An impatient client gives up, but its records did arrive.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        exchange(&endpoint, "PutRecords", &put_body(&["a"])),
    )
    .await;
    assert!(gave_up.is_err(), "answered early: {gave_up:?}");
    // (On a loaded machine the server may not have got to it yet.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while endpoint.records("s").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(copies(&endpoint), [("a".to_owned(), 1)]);
    // A patient one gets the normal answer, late.
    let start = Instant::now();
    let (status, answer) = post(&endpoint, "PutRecords", put_body(&["b"])).await;
    assert!(start.elapsed() >= slow_answer, "{:?}", start.elapsed());
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(answer["FailedRecordCount"], 0);
    assert_eq!(copies(&endpoint), [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    assert_eq!(endpoint.stats().faults_slow_answers, 2);
}

#[tokio::test]
async fn latency_delays_every_operation() {
    let latency = Duration::from_millis(150);
    let endpoint = faulty_endpoint(Faults {
        latency,
        ..Faults::default()
    })
    .await;
    for (op, body) in [
        ("DescribeStreamSummary", json!({"StreamName": "s"})),
        ("PutRecords", put_body(&["a"])),
    ] {
        let start = Instant::now();
        let (status, answer) = post(&endpoint, op, body).await;
        assert!(start.elapsed() >= latency, "{op}: {:?}", start.elapsed());
        assert_eq!(status, "HTTP/1.1 200 OK", "{op}: {answer}");
    }
    assert_eq!(copies(&endpoint), [("a".to_owned(), 1)]);
}
