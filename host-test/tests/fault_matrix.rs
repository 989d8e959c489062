//! The component against a misbehaving endpoint: for every mix of injected
//! faults, the delivery contract holds and is asserted, not printed:
//!
//! - every event pushed is settled exactly once (delivered or failed);
//! - every event reported delivered is stored, under the reported shard and
//!   sequence number;
//! - nothing reported failed is stored, unless the failure says an earlier
//!   ambiguous attempt may have delivered it (`maybe_delivered`);
//! - an event is stored more than once only after ambiguous failures, and
//!   the component's `ambiguous_retries` counts at least every duplicate.

use kinesis_host::{KinesisRuntime, Tenant, wit};
use kinesis_local_endpoint::{
    DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Faults, LocalEndpoint, LocalEndpointConfig, RequestError,
};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

const EVENTS: u64 = 600;

fn runtime() -> &'static KinesisRuntime {
    static RUNTIME: OnceLock<KinesisRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| KinesisRuntime::new().expect("component compiles"))
}

/// Each event's data names its id, so stored copies can be counted.
fn event(id: u64) -> wit::Event {
    let data = format!("{{\"id\":{id},\"pad\":\"{}\"}}", "x".repeat((id % 97) as usize)).into_bytes();
    wit::Event { id, data }
}

fn id_of(data: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(data).expect("stored data is the event");
    v["id"].as_u64().expect("id")
}

struct Run {
    delivered: HashMap<u64, (String, String)>,
    /// Code, and whether an earlier attempt may have delivered it.
    failed: HashMap<u64, (String, bool)>,
    stats: kinesis_host::tenant::ComponentStats,
    /// Times the host re-offered events because the buffer was full.
    backpressure_waits: u64,
    /// Stored copies per id.
    stored: HashMap<u64, Vec<(String, String)>>,
}

/// Pushes `EVENTS` events in chunks through a target with `max_in_flight`
/// requests, against an endpoint injecting `faults`, and checks the contract.
async fn run(faults: Faults, max_in_flight: u32) -> Run {
    run_with(faults, max_in_flight, 16384).await
}

async fn run_with(faults: Faults, max_in_flight: u32, max_buffer_size: u32) -> Run {
    run_in("json", faults, max_in_flight, max_buffer_size).await
}

/// [`run_with`] with `protocol` `json` or `cbor`, and at most 12 retries.
async fn run_in(protocol: &str, faults: Faults, max_in_flight: u32, max_buffer_size: u32) -> Run {
    let retries = serde_json::json!({ "max_retries": 12, "protocol": protocol });
    run_configured(retries, faults, max_in_flight, max_buffer_size).await
}

/// One run with `extra` properties on top of the matrix's own.
async fn run_configured(extra: serde_json::Value, faults: Faults, max_in_flight: u32, max_buffer_size: u32) -> Run {
    let endpoint = LocalEndpoint::start(LocalEndpointConfig {
        faults,
        ..Default::default()
    })
    .await
    .unwrap();
    endpoint.create_stream("logs", 4);
    let mut config = serde_json::json!({"name": "t", "type": "amazonkinesis", "properties": {
        "key": DEFAULT_ACCESS_KEY, "secret": DEFAULT_SECRET_KEY, "region": "us-east-1",
        "endpoint": endpoint.url(), "stream": "logs", "partition_key": "pk",
        "max_events": 40, "timeout": 1, "max_in_flight": max_in_flight,
        "retry_initial_backoff": 0.005, "retry_max_backoff": 0.05, "max_record_size": 4096,
        "max_buffer_size": max_buffer_size}});
    for (k, v) in extra.as_object().expect("an object") {
        config["properties"][k] = v.clone();
    }
    let mut tenant = Tenant::start(runtime(), &config.to_string()).await.unwrap().unwrap();
    let events: Vec<wit::Event> = (1..=EVENTS).map(event).collect();
    let mut settled = Vec::new();
    for chunk in events.chunks(75) {
        settled.extend(tenant.push(chunk).await);
    }
    settled.extend(tenant.flush().await);
    let stats = tenant.stats().await.expect("no trap");
    let backpressure_waits = tenant.tally.backpressure_waits;
    assert_eq!(
        tenant.tally.protocol_errors, 0,
        "the component broke the exactly-once contract"
    );

    let mut delivered = HashMap::new();
    let mut failed = HashMap::new();
    for o in settled {
        let fresh = match o.outcome {
            wit::Outcome::Delivered(d) => delivered.insert(o.id, (d.shard_id, d.sequence_number)).is_none(),
            wit::Outcome::Failed(f) => failed.insert(o.id, (f.code, f.maybe_delivered)).is_none(),
        };
        assert!(fresh, "event {} settled twice", o.id);
    }
    for id in 1..=EVENTS {
        assert!(
            delivered.contains_key(&id) ^ failed.contains_key(&id),
            "event {id} settled {} times",
            u8::from(delivered.contains_key(&id)) + u8::from(failed.contains_key(&id))
        );
    }
    let mut stored: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for r in endpoint.records("logs") {
        stored
            .entry(id_of(&r.data))
            .or_default()
            .push((r.shard_id, r.sequence_number));
    }
    for (id, at) in &delivered {
        let copies = stored.get(id).map(Vec::as_slice).unwrap_or_default();
        assert!(
            copies.contains(at),
            "event {id} reported delivered at {at:?}, stored at {copies:?}"
        );
    }
    for (id, (code, maybe_delivered)) in &failed {
        assert!(
            *maybe_delivered || !stored.contains_key(id),
            "event {id} reported failed ({code}, not maybe-delivered) but stored"
        );
    }
    let duplicates: u64 = stored.values().map(|c| c.len() as u64 - 1).sum();
    assert!(
        duplicates <= stats.ambiguous_retries,
        "{duplicates} duplicates, only {} ambiguous retries counted",
        stats.ambiguous_retries
    );
    assert_eq!(stats.delivered + stats.failed, EVENTS);
    assert_eq!((stats.in_flight_requests, stats.buffered_bytes), (0, 0));
    endpoint.shutdown().await;
    Run {
        delivered,
        failed,
        stats,
        backpressure_waits,
        stored,
    }
}

fn faults(seed: u64) -> Faults {
    Faults {
        seed,
        ..Default::default()
    }
}

const RETRYABLE_ERRORS: [RequestError; 3] = [
    RequestError::InternalFailure500,
    RequestError::ServiceUnavailable503,
    RequestError::LimitExceeded400,
];

fn duplicates(run: &Run) -> usize {
    run.stored.values().map(|c| c.len() - 1).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn without_faults_everything_is_delivered_once() {
    for in_flight in [1, 4] {
        let run = run(faults(1), in_flight).await;
        assert_eq!(run.delivered.len() as u64, EVENTS);
        assert_eq!((run.stats.retries, duplicates(&run)), (0, 0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_records_are_resent_alone_until_delivered() {
    let run = run(
        Faults {
            throttle_records: 0.3,
            ..faults(2)
        },
        4,
    )
    .await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert!(run.stats.retries > 0);
    assert_eq!((run.stats.ambiguous_retries, duplicates(&run)), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_request_errors_are_retried_without_duplicates() {
    let run = run(
        Faults {
            fail_requests: 0.3,
            request_errors: RETRYABLE_ERRORS.to_vec(),
            ..faults(3)
        },
        4,
    )
    .await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert_eq!((run.stats.ambiguous_retries, duplicates(&run)), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validation_error_fails_its_events_at_once() {
    let run = run(
        Faults {
            fail_requests: 0.2,
            request_errors: vec![RequestError::Validation400],
            ..faults(4)
        },
        4,
    )
    .await;
    assert!(!run.failed.is_empty());
    assert!(
        run.failed
            .values()
            .all(|(c, maybe)| c == "ValidationException" && !maybe)
    );
    assert_eq!(run.stats.retries, 0, "a permanent error is not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connections_are_retried() {
    let run = run(
        Faults {
            refuse_connections: 0.3,
            ..faults(5)
        },
        4,
    )
    .await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert!(run.stats.retries > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_after_the_timeout_are_retried_and_duplicates_counted() {
    let run = run(
        Faults {
            slow_answers: 0.15,
            slow_answer: Duration::from_millis(1500),
            ..faults(6)
        },
        4,
    )
    .await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert!(
        duplicates(&run) > 0,
        "a slow answer stores the records: the retry duplicates them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_answers_are_retried_as_ambiguous() {
    let run = run(
        Faults {
            malformed_answers: 0.3,
            ..faults(7)
        },
        4,
    )
    .await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert!(duplicates(&run) > 0 && run.stats.ambiguous_retries > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_dropped_after_processing_are_retried_as_ambiguous() {
    let run = run(
        Faults {
            drop_after_processing: 0.3,
            ..faults(8)
        },
        2,
    )
    .await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert!(duplicates(&run) > 0);
}

fn every_fault(seed: u64) -> Faults {
    let mut errors = RETRYABLE_ERRORS.to_vec();
    errors.push(RequestError::Validation400);
    Faults {
        latency: Duration::from_millis(2),
        throttle_records: 0.2,
        fail_requests: 0.1,
        request_errors: errors,
        refuse_connections: 0.05,
        slow_answers: 0.03,
        slow_answer: Duration::from_millis(1200),
        malformed_answers: 0.05,
        drop_after_processing: 0.05,
        ..faults(seed)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_at_once_keeps_the_contract_in_cbor_too() {
    // Per-record throttling and request errors answered in CBOR.
    let run = run_in("cbor", every_fault(12), 4, 16384).await;
    assert!(run.stats.retries > 0 && !run.delivered.is_empty());
    assert!(run.failed.values().any(|(code, _)| code == "ValidationException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_at_once_keeps_the_contract() {
    for (seed, in_flight) in [(9, 1), (10, 4), (11, 16)] {
        run(every_fault(seed), in_flight).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_retryable_fault_at_once_delivers_everything_with_the_default_retries() {
    // Time bounds retries by default (5 minutes), not a count: no mix of
    // faults that waiting cures hands an event back.
    let mut mix = every_fault(13);
    mix.request_errors = RETRYABLE_ERRORS.to_vec();
    for (seed, in_flight) in [(13, 1), (14, 4)] {
        let run = run_configured(serde_json::json!({}), Faults { seed, ..mix.clone() }, in_flight, 16384).await;
        assert_eq!(
            run.delivered.len() as u64,
            EVENTS,
            "failed: {:?}",
            run.failed.values().take(3).collect::<Vec<_>>()
        );
        assert!(run.stats.retries > 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_buffer_pushes_back_and_loses_nothing() {
    let slow = Faults {
        latency: Duration::from_millis(20),
        ..faults(12)
    };
    // 4 KiB held at most, for about 60 KiB of events.
    let run = run_with(slow, 2, 4096).await;
    assert_eq!(run.delivered.len() as u64, EVENTS);
    assert!(run.backpressure_waits > 0 && run.stats.events_refused > 0);
    assert_eq!(duplicates(&run), 0);
}
