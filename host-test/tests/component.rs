//! The component inside wasmtime, against the embedded local endpoint: the
//! whole path from `push` to stored records, and the failure paths a user
//! meets first (wrong secret, unreachable endpoint, push before configure).

use kinesis_host::{KinesisRuntime, Tenant, wit};
use kinesis_local_endpoint::{DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Faults, LocalEndpoint, LocalEndpointConfig};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Compiling the component takes a while; every test shares one runtime.
fn runtime() -> &'static KinesisRuntime {
    static RUNTIME: OnceLock<KinesisRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| KinesisRuntime::new().expect("component compiles"))
}

fn config(endpoint: &str, secret: &str, extra: serde_json::Value) -> String {
    let mut c = serde_json::json!({"name": "t", "type": "amazonkinesis", "pipelines": ["checkpoint"], "properties": {
        "key": DEFAULT_ACCESS_KEY, "secret": secret, "region": "us-east-1",
        "endpoint": endpoint, "stream": "logs", "partition_key": "pk-1", "timeout": 5}});
    for (k, v) in extra.as_object().unwrap() {
        c["properties"][k] = v.clone();
    }
    c.to_string()
}

async fn endpoint() -> LocalEndpoint {
    let e = LocalEndpoint::start(LocalEndpointConfig::default()).await.unwrap();
    e.create_stream("logs", 2);
    e
}

async fn tenant(config: &str) -> Tenant {
    Tenant::start(runtime(), config).await.unwrap().unwrap()
}

fn event(id: u64, data: Vec<u8>) -> wit::Event {
    wit::Event { id, data }
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_events_arrive_byte_for_byte_with_the_configured_key() {
    let ep = endpoint().await;
    // Unpaced: 1,234 records at once are over a shard's 1,000 a second, and
    // pacing would split the batches; here they are 13 full requests.
    let mut t = tenant(&config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"max_events": 100, "shard_pacing": false}),
    ))
    .await;
    assert_eq!(t.info.pipelines, ["checkpoint"]);
    let events: Vec<wit::Event> = (0..1234u64)
        .map(|i| {
            event(
                i,
                (0..(i % 300) as usize + 1).map(|b| (b as u64 * 31 + i) as u8).collect(),
            )
        })
        .collect();
    let mut settled = t.push(&events).await;
    settled.append(t.flush().await);
    assert_eq!(settled.len(), events.len());
    assert_eq!(t.tally.delivered, 1234);
    assert_eq!(t.tally.requests, 13);
    let stored = ep.records("logs");
    assert_eq!(stored.len(), events.len());
    let by_seq: HashMap<(String, String), Vec<u8>> = stored
        .iter()
        .map(|r| ((r.shard_id.clone(), r.sequence_number.clone()), r.data.clone()))
        .collect();
    assert!(stored.iter().all(|r| r.partition_key == "pk-1"));
    for o in settled {
        let wit::Outcome::Delivered(d) = o.outcome else {
            panic!("event {} not delivered", o.id)
        };
        assert_eq!(
            by_seq[&(d.shard_id, d.sequence_number)],
            events[o.id as usize].data,
            "event {}",
            o.id
        );
    }
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aggregates_in_either_protocol_each_end_with_the_md5_of_their_own_protobuf() {
    // The component hashes a request's aggregates four side by side in wasm
    // SIMD lanes (src/md5x4.rs); the unit tests run the native build of the
    // same code, so this is where the lanes the component runs are checked.
    for protocol in ["cbor", "json"] {
        let ep = endpoint().await;
        let mut t = tenant(&config(
            &ep.url(),
            DEFAULT_SECRET_KEY,
            serde_json::json!({"aggregation": true, "protocol": protocol, "shard_pacing": false}),
        ))
        .await;
        let events = varied_events(0..6000);
        let mut settled = t.push(&events).await;
        settled.append(t.flush().await);
        assert_eq!((settled.len(), t.tally.delivered), (6000, 6000), "{protocol}");
        let stored = ep.records("logs");
        assert!(
            stored.len() >= 9,
            "{protocol}: aggregates of varied lengths, more than four a body: {}",
            stored.len()
        );
        for (i, r) in stored.iter().enumerate() {
            let (head, rest) = r.data.split_at(4);
            let (protobuf, trailer) = rest.split_at(rest.len() - 16);
            assert_eq!(head, [0xF3, 0x89, 0x9A, 0xC2], "{protocol} record {i}: the KPL magic");
            assert_eq!(
                trailer,
                md5::compute(protobuf).0,
                "{protocol} record {i} of {} bytes: the MD5 of its protobuf",
                r.data.len()
            );
        }
        ep.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_go_over_kept_alive_connections() {
    let ep = endpoint().await;
    // One request at a time, 20 of them: a connection each before the pool.
    let mut t = tenant(&config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"max_events": 50, "max_in_flight": 1, "shard_pacing": false}),
    ))
    .await;
    let events: Vec<wit::Event> = (0..1000u64).map(|i| event(i, vec![b'x'; 100])).collect();
    t.push(&events).await;
    t.flush().await;
    assert_eq!((t.tally.delivered, t.tally.requests), (1000, 20));
    let stats = ep.stats();
    assert_eq!(stats.put_records_requests, 20);
    // A request may start before the last one's connection is back in the
    // pool (its answer read to the end): then a second one opens, no more.
    assert!(
        stats.connections <= 2,
        "{} connections for 20 requests one at a time: not kept alive",
        stats.connections
    );
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_fails_every_event_with_the_signature_code() {
    let ep = endpoint().await;
    let mut t = tenant(&config(&ep.url(), "not-the-secret", serde_json::json!({}))).await;
    t.push(&[event(1, b"a".to_vec()), event(2, b"b".to_vec())]).await;
    t.flush().await;
    assert_eq!(t.tally.failed, 2);
    assert_eq!(
        t.tally.failed_by_code.keys().collect::<Vec<_>>(),
        ["InvalidSignatureException"]
    );
    assert!(!t.tally.failures[0].retryable);
    assert!(!t.tally.failures[0].message.contains("not-the-secret"));
    assert!(ep.records("logs").is_empty());
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_fails_with_connection_error_after_retries() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut t = tenant(&config(
        &format!("http://127.0.0.1:{port}"),
        "s",
        serde_json::json!({"max_retries": 1}),
    ))
    .await;
    t.push(&[event(7, b"x".to_vec())]).await;
    t.flush().await;
    assert_eq!(t.tally.failed_by_code.keys().collect::<Vec<_>>(), ["ConnectionError"]);
    assert_eq!(t.tally.requests, 2);
    assert!(t.tally.failures[0].retryable);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_over_the_endpoint_limit_are_caught_before_sending() {
    let ep = endpoint().await;
    let mut t = tenant(&config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({}))).await;
    let at_limit = vec![b'x'; 1024 * 1024 - "pk-1".len()];
    let over = vec![b'y'; 1024 * 1024 - "pk-1".len() + 1];
    t.push(&[event(1, at_limit.clone()), event(2, over), event(3, b"small".to_vec())])
        .await;
    t.flush().await;
    assert_eq!((t.tally.delivered, t.tally.failed), (2, 1));
    assert_eq!(t.tally.failures[0].id, 2);
    assert_eq!(t.tally.failures[0].code, "RecordTooLarge");
    assert!(ep.records("logs").iter().any(|r| r.data == at_limit));
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn push_before_configure_fails_each_event_not_the_instance() {
    let mut instance = runtime().instantiate().await.unwrap();
    let report = instance.push(&[event(1, b"a".to_vec())]).await.unwrap();
    let wit::Outcome::Failed(f) = &report.outcomes[0].outcome else {
        panic!()
    };
    assert_eq!(f.code, "NotConfigured");
    let err = instance
        .configure(&config(
            "http://127.0.0.1:1",
            "s",
            serde_json::json!({"max_events": 501}),
        ))
        .await
        .unwrap();
    let e = err.unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("properties.max_events", "must be 1..=500, got 501")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reconfigure_delivers_buffered_events_under_the_old_stream() {
    let ep = endpoint().await;
    ep.create_stream("other", 1);
    let mut instance = runtime().instantiate().await.unwrap();
    instance
        .configure(&config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({})))
        .await
        .unwrap()
        .unwrap();
    instance.push(&[event(1, b"old".to_vec())]).await.unwrap();
    instance
        .configure(&config(
            &ep.url(),
            DEFAULT_SECRET_KEY,
            serde_json::json!({"stream": "other"}),
        ))
        .await
        .unwrap()
        .unwrap();
    // The old event's outcome comes with the first report after the switch.
    let mut outcomes = instance
        .push(&[event(2, b"new".to_vec())])
        .await
        .unwrap()
        .into_outcomes();
    outcomes.extend(instance.flush().await.unwrap().into_outcomes());
    let mut ids: Vec<u64> = outcomes.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
    assert_eq!(ep.records("logs")[0].data, b"old");
    assert_eq!(ep.records("other")[0].data, b"new");
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_target_hands_events_back_and_the_endpoint_gets_nothing() {
    let ep = endpoint().await;
    let mut def: serde_json::Value =
        serde_json::from_str(&config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({}))).unwrap();
    def["status"] = serde_json::json!(false);
    let mut t = tenant(&def.to_string()).await;
    assert!(!t.info.enabled);
    t.push(&[event(1, b"a".to_vec()), event(2, b"b".to_vec())]).await;
    t.flush().await;
    assert_eq!((t.tally.delivered, t.tally.failed, t.tally.requests), (0, 2, 0));
    assert_eq!(t.tally.failed_by_code.keys().collect::<Vec<_>>(), ["TargetDisabled"]);
    assert_eq!(ep.stats().requests, 0);
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn push_returns_before_the_answer_and_poll_collects_it() {
    let slow = LocalEndpointConfig {
        faults: Faults {
            // Before the endpoint reads a request: until then no answer exists.
            latency: Duration::from_secs(3),
            ..Default::default()
        },
        ..Default::default()
    };
    let ep = LocalEndpoint::start(slow).await.unwrap();
    ep.create_stream("logs", 1);
    let mut instance = runtime().instantiate().await.unwrap();
    let cfg = config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({"max_events": 2}));
    instance.configure(&cfg).await.unwrap().unwrap();

    let report = instance
        .push(&[event(1, b"a".to_vec()), event(2, b"b".to_vec())])
        .await
        .unwrap();
    // Not a stopwatch: the endpoint stores records only once its latency is
    // over, and answers after that, so a push that waited for the answer
    // would find them stored.
    assert!(
        ep.records("logs").is_empty(),
        "push returned only after the endpoint had handled the request"
    );
    assert_eq!(
        (report.accepted, report.requests, report.pending, report.settled()),
        (2, 1, 2, 0)
    );
    assert!(
        report.poll_after_ns.is_some(),
        "an answer is due: the host is asked to poll"
    );
    let stats = instance.stats().await.unwrap();
    assert_eq!((stats.in_flight_requests, stats.in_flight_events), (1, 2));

    let report = instance.poll(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (
            report.delivered.len(),
            report.outcomes.len(),
            report.pending,
            report.poll_after_ns
        ),
        (2, 0, 0, None)
    );
    let stats = instance.stats().await.unwrap();
    assert_eq!((stats.delivered, stats.requests, stats.in_flight_requests), (2, 1, 0));
    assert_eq!(ep.records("logs").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cron_target_inside_wasmtime_holds_events_until_its_minute_or_a_flush() {
    let ep = endpoint().await;
    // A minute about half an hour away: the run cannot fall inside this test.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let minute = (now / 60 + 30) % 60;
    let cron = format!("{minute} * * * *");
    let mut t = tenant(&config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"cron": cron, "interval": "5m"}),
    ))
    .await;
    assert_eq!(t.info.interval_ms, None, "cron wins over interval");
    let settled = t
        .push(&(0..10).map(|i| event(i, vec![b'c'; 10])).collect::<Vec<_>>())
        .await;
    assert!(settled.is_empty());
    let polled = t.poll(Duration::from_millis(200)).await;
    assert!(polled.is_empty(), "nothing is sent before the cron minute");
    assert!(ep.records("logs").is_empty());
    // The minute is 30 minutes after `now`'s: the run is due at its start.
    let due = Duration::from_secs(1800 - now % 60);
    let wake = t.poll_after().expect("the run is scheduled");
    let elapsed = Duration::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - now,
    );
    assert!(
        wake <= due && wake + elapsed + Duration::from_secs(2) >= due,
        "wakes in {wake:?}, the run is due in {due:?} of {elapsed:?} ago"
    );
    let settled = t.flush().await;
    assert_eq!(settled.len(), 10);
    assert_eq!(ep.records("logs").len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_timeout_inside_wasmtime_sends_a_batch_that_is_not_full_when_polled() {
    let ep = endpoint().await;
    let mut t = tenant(&config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"batch_timeout": 0.3, "protocol": "cbor"}),
    ))
    .await;
    let settled = t
        .push(&(0..10).map(|i| event(i, vec![b'b'; 10])).collect::<Vec<_>>())
        .await;
    assert!(settled.is_empty(), "10 of max_events 500: not full");
    let wake = t.poll_after().expect("the open batch is due");
    assert!(wake <= Duration::from_millis(300), "{wake:?}");
    let mut delivered = 0;
    for _ in 0..50 {
        delivered += t.poll(Duration::from_millis(100)).await.len();
        if delivered == 10 {
            break;
        }
    }
    assert_eq!(delivered, 10, "sent by poll, without a flush");
    assert_eq!(ep.records("logs").len(), 10);
    assert_eq!(t.poll_after(), None, "nothing held");
}

/// Events of 1..=300 bytes, each byte depending on the event.
fn varied_events(ids: std::ops::Range<u64>) -> Vec<wit::Event> {
    ids.map(|i| {
        event(
            i,
            (0..(i % 300) as usize + 1).map(|b| (b as u64 * 7 + i) as u8).collect(),
        )
    })
    .collect()
}

fn failure(o: &wit::EventOutcome) -> &wit::Failed {
    match &o.outcome {
        wit::Outcome::Failed(f) => f,
        wit::Outcome::Delivered(_) => panic!("event {} delivered, expected a failure", o.id),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn push_batch_delivers_like_push() {
    let ep = endpoint().await;
    let mut instance = runtime().instantiate().await.unwrap();
    let cfg = config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({"max_events": 100}));
    instance.configure(&cfg).await.unwrap().unwrap();
    let events = varied_events(0..250);
    let batch = wit::EventBatch::pack(&events);
    assert_eq!(
        (batch.len(), batch.data.len()),
        (250, events.iter().map(|e| e.data.len()).sum())
    );

    let report = instance.push_batch(&batch).await.unwrap();
    assert_eq!(report.accepted, 250);
    assert_eq!(report.requests, 2, "two full batches of max_events 100 go at once");
    let flushed = instance.flush().await.unwrap();
    assert!(
        report.outcomes.is_empty() && flushed.outcomes.is_empty(),
        "deliveries only, packed"
    );
    assert!(report.delivered.is_consistent() && flushed.delivered.is_consistent());
    let mut outcomes = report.into_outcomes();
    outcomes.extend(flushed.into_outcomes());
    assert_eq!(outcomes.len(), 250);

    let stored = ep.records("logs");
    assert_eq!(stored.len(), 250);
    assert!(stored.iter().all(|r| r.partition_key == "pk-1"));
    let by_seq: HashMap<(String, String), Vec<u8>> = stored
        .into_iter()
        .map(|r| ((r.shard_id, r.sequence_number), r.data))
        .collect();
    for o in outcomes {
        let wit::Outcome::Delivered(d) = o.outcome else {
            panic!("event {} not delivered", o.id)
        };
        assert_eq!(
            by_seq[&(d.shard_id, d.sequence_number)],
            events[o.id as usize].data,
            "event {}",
            o.id
        );
    }
    let stats = instance.stats().await.unwrap();
    assert_eq!((stats.events_accepted, stats.delivered), (250, 250));
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_push_packs_a_batch_and_offers_the_rest_again_under_backpressure() {
    let ep = endpoint().await;
    // A buffer of one record: push-batch takes a prefix, the tenant re-offers the rest.
    let mut t = tenant(&config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"max_record_size": 4096, "max_request_size": 4096, "max_buffer_size": 4096}),
    ))
    .await;
    let events = varied_events(0..200);
    let mut settled = t.push(&events).await;
    settled.append(t.flush().await);
    assert!(t.tally.backpressure_waits > 0, "the buffer pushed back");
    assert_eq!(
        (t.tally.delivered, t.tally.failed, t.tally.protocol_errors),
        (200, 0, 0)
    );
    let mut ids: Vec<u64> = settled.into_iter().map(|o| o.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..200).collect::<Vec<_>>());
    let mut stored: Vec<Vec<u8>> = ep.records("logs").into_iter().map(|r| r.data).collect();
    let mut sent: Vec<Vec<u8>> = events.into_iter().map(|e| e.data).collect();
    stored.sort();
    sent.sort();
    assert_eq!(stored, sent);
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inconsistent_batch_fails_each_id_with_invalid_batch() {
    let ep = endpoint().await;
    let mut instance = runtime().instantiate().await.unwrap();
    // Before configure too: the batch is wrong whatever the configuration.
    let report = instance
        .push_batch(&wit::EventBatch {
            ids: vec![1],
            lengths: vec![2],
            data: b"a".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!((report.accepted, report.outcomes.len()), (1, 1));
    assert_eq!(failure(&report.outcomes[0]).code, "InvalidBatch");
    // A consistent batch before configure fails as push does.
    let report = instance
        .push_batch(&wit::EventBatch::pack(&[event(2, b"a".to_vec())]))
        .await
        .unwrap();
    assert_eq!(failure(&report.outcomes[0]).code, "NotConfigured");

    let cfg = config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({}));
    instance.configure(&cfg).await.unwrap().unwrap();
    let cases = [
        // More ids than lengths: every id fails, also the one without a length.
        (
            vec![10, 11, 12],
            vec![1, 1],
            b"ab".to_vec(),
            vec![10, 11, 12],
            "3 ids but 2 lengths",
        ),
        // Lengths that add up to more than the data.
        (
            vec![20, 21],
            vec![2, 2],
            b"abc".to_vec(),
            vec![20, 21],
            "lengths add up to 4 bytes but data has 3",
        ),
        // More lengths than ids: the events without an id are dropped.
        (vec![30], vec![1, 1], b"ab".to_vec(), vec![30], "1 ids but 2 lengths"),
    ];
    for (ids, lengths, data, failed, why) in cases {
        let report = instance
            .push_batch(&wit::EventBatch { ids, lengths, data })
            .await
            .unwrap();
        assert_eq!(report.accepted as usize, failed.len(), "{why}");
        assert_eq!(
            report.outcomes.iter().map(|o| o.id).collect::<Vec<_>>(),
            failed,
            "{why}"
        );
        for o in &report.outcomes {
            let f = failure(o);
            assert_eq!(f.code, "InvalidBatch");
            assert_eq!(f.origin, wit::FailureOrigin::Target);
            assert!(!f.retryable && !f.maybe_delivered);
            assert!(f.message.contains(why), "{:?} does not say {why:?}", f.message);
        }
    }
    // Both numbers wrong: the message names both.
    let report = instance
        .push_batch(&wit::EventBatch {
            ids: vec![40, 41],
            lengths: vec![5],
            data: b"abc".to_vec(),
        })
        .await
        .unwrap();
    let message = &failure(&report.outcomes[0]).message;
    assert!(message.contains("2 ids but 1 lengths") && message.contains("lengths add up to 5 bytes but data has 3"));

    let flushed = instance.flush().await.unwrap();
    assert_eq!(flushed.settled(), 0);
    assert_eq!(ep.stats().requests, 0, "nothing of an inconsistent batch is sent");
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn outcome_detail_ids_lists_deliveries_by_id_and_keeps_failures_in_full() {
    let ep = endpoint().await;
    let mut instance = runtime().instantiate().await.unwrap();
    let cfg = config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"outcome_detail": "ids", "max_events": 10}),
    );
    instance.configure(&cfg).await.unwrap().unwrap();
    let mut events = varied_events(0..25);
    events[7].data = vec![b'x'; 1024 * 1024]; // over max_record_size with the key
    let report = instance.push_batch(&wit::EventBatch::pack(&events)).await.unwrap();
    assert_eq!(report.accepted, 25);
    let flushed = instance.flush().await.unwrap();
    assert!(report.delivered.shards.is_empty() && report.delivered.sequence_numbers.is_empty());
    let mut delivered: Vec<u64> = report.delivered.ids.into_iter().chain(flushed.delivered.ids).collect();
    let outcomes: Vec<wit::EventOutcome> = report.outcomes.into_iter().chain(flushed.outcomes).collect();
    delivered.sort_unstable();
    assert_eq!(delivered, (0..25).filter(|&i| i != 7).collect::<Vec<_>>());
    assert_eq!(outcomes.len(), 1, "only the failure is in outcomes");
    assert_eq!(
        (outcomes[0].id, failure(&outcomes[0]).code.as_str()),
        (7, "RecordTooLarge")
    );
    assert_eq!(ep.records("logs").len(), 24);

    // The tenant counts deliveries by id as delivered.
    let mut t = tenant(&cfg).await;
    let mut settled = t.push(&varied_events(100..130)).await;
    settled.append(t.flush().await);
    assert_eq!((t.tally.delivered, t.tally.failed, t.tally.protocol_errors), (30, 0, 0));
    assert_eq!(settled.len(), 30);
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_name_the_shards_a_delivery_went_to() {
    let ep = endpoint().await;
    let mut t = tenant(&config(&ep.url(), DEFAULT_SECRET_KEY, serde_json::json!({}))).await;
    t.push(&varied_events(0..50)).await;
    t.flush().await;
    assert_eq!(t.tally.delivered, 50);
    let stats = t.stats().await.expect("the instance runs");
    assert!(!stats.shards.is_empty(), "a shards entry after a delivery");
    assert!(
        stats.shards.iter().any(|s| s.records_sent > 0),
        "records sent: {:?}",
        stats.shards
    );
    ep.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn polls_that_never_wait_still_collect_list_shards_and_answers() {
    // A host that only ever polls with a zero wait (between pushes, say)
    // must still see ListShards and PutRecords answers arrive: wasi-http
    // hands one over only once its pollable was polled.
    let ep = endpoint().await;
    let mut instance = runtime().instantiate().await.unwrap();
    let cfg = config(
        &ep.url(),
        DEFAULT_SECRET_KEY,
        serde_json::json!({"partition_key": "{{random}}"}),
    );
    instance.configure(&cfg).await.unwrap().unwrap();
    let events: Vec<wit::Event> = (0..600).map(|i| event(i, b"zero-wait".to_vec())).collect();
    let mut settled = instance.push(&events).await.unwrap().settled();
    let started = Instant::now();
    while settled < 500 && started.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        settled += instance.poll(Duration::ZERO).await.unwrap().settled();
    }
    assert!(settled >= 500, "{settled} settled in 3 s of zero-wait polls");
    let stats = instance.stats().await.unwrap();
    assert_eq!(stats.shards.len(), 2, "the shard map came: {:?}", stats.shards);
}
