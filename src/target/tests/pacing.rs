//! Delivery at Kinesis' own limits, on the virtual clock: a simulated
//! stream whose shards take 1,000 records and 1 MiB a second (token buckets
//! of one second, shared with another producer where a test says so), that
//! can be down for a while. Each test drives the target the way a host does
//! (push what it takes, poll when told, offer the rest again) and pins what
//! the issue "Deliver at Kinesis' own limits" asks: everything delivered,
//! few throttled attempts, wall time near what the shards allow.

use super::aggregation::{Layout, even, key_in, list_shards, routed_by};
use super::*;

/// The simulated stream.
struct Stream {
    layout: Layout,
    /// Per shard: (records, bytes) in its buckets, and when last refilled.
    buckets: Vec<(f64, f64)>,
    at: Duration,
    /// The share of each shard another producer takes.
    other: f64,
    /// PutRecords answer 503 while the clock is in this window.
    outage: Option<(Duration, Duration)>,
    stored: Rc<Cell<u64>>,
    throttled: Rc<Cell<u64>>,
}

impl Stream {
    fn answer(&mut self, records: &[serde_json::Value], now: Duration) -> Result<HttpResponse, TransportError> {
        if self.outage.is_some_and(|(from, to)| (from..to).contains(&now)) {
            return Ok(HttpResponse {
                status: 503,
                error_type: Some("ServiceUnavailable".into()),
                body: br#"{"__type":"ServiceUnavailable","message":"down"}"#.to_vec(),
            });
        }
        let (rate, bytes_rate) = (1000.0 * (1.0 - self.other), 1048576.0 * (1.0 - self.other));
        let secs = now.saturating_sub(self.at).as_secs_f64();
        self.at = now;
        for b in &mut self.buckets {
            *b = ((b.0 + rate * secs).min(rate), (b.1 + bytes_rate * secs).min(bytes_rate));
        }
        let mut failed = 0;
        let results: Vec<_> = records
            .iter()
            .map(|r| {
                let hash = routed_by(r);
                let shard = self
                    .layout
                    .iter()
                    .position(|(_, s, e)| (*s..=*e).contains(&hash))
                    .unwrap();
                let size = STANDARD.decode(r["Data"].as_str().unwrap()).unwrap().len()
                    + r["PartitionKey"].as_str().unwrap().len();
                let bucket = &mut self.buckets[shard];
                if bucket.0 >= 1.0 && bucket.1 >= size as f64 {
                    *bucket = (bucket.0 - 1.0, bucket.1 - size as f64);
                    self.stored.set(self.stored.get() + 1);
                    serde_json::json!({"SequenceNumber": "1", "ShardId": self.layout[shard].0})
                } else {
                    failed += 1;
                    self.throttled.set(self.throttled.get() + 1);
                    serde_json::json!({"ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard"})
                }
            })
            .collect();
        Ok(ok_body(
            serde_json::json!({"FailedRecordCount": failed, "Records": results}),
        ))
    }
}

/// What a run through the simulated stream came to.
struct Run {
    stored: Rc<Cell<u64>>,
    throttled: Rc<Cell<u64>>,
}

/// A target on a simulated stream of `shards`, answers after 20 ms.
fn on_stream(
    shards: u128,
    other: f64,
    outage: Option<(Duration, Duration)>,
    extra: serde_json::Value,
) -> (Target<Script, Script, Script>, Script, Run) {
    let (t, script) = target(extra);
    script.latency.set(Duration::from_millis(20));
    list_shards(&script, even(shards));
    let run = Run {
        stored: Rc::default(),
        throttled: Rc::default(),
    };
    let mut stream = Stream {
        buckets: vec![(1000.0 * (1.0 - other), 1048576.0 * (1.0 - other)); shards as usize],
        layout: even(shards),
        at: Duration::ZERO,
        other,
        outage,
        stored: run.stored.clone(),
        throttled: run.throttled.clone(),
    };
    *script.kinesis.borrow_mut() = Some(Box::new(move |records, now| stream.answer(records, now)));
    (t, script, run)
}

/// Offers `events` as a host does: what `push` does not take is offered
/// again after a `poll` as long as `poll-after` says; then flushes. Returns
/// every outcome and whether `push` ever pushed back.
fn drive(t: &mut Target<Script, Script, Script>, mut events: Vec<Record>) -> (Report, bool) {
    let mut all = Report::default();
    let mut pushed_back = false;
    while !events.is_empty() {
        let chunk: Vec<Record> = events.iter().take(500).cloned().collect();
        let offered = chunk.len();
        let taken = t.push(chunk);
        events.drain(..taken);
        let report = t.take_report();
        let poll_after = report.poll_after;
        all.append_settled(report);
        if taken < offered {
            pushed_back = true;
            t.poll(poll_after.unwrap_or(Duration::from_millis(10)));
            all.append_settled(t.take_report());
        }
    }
    t.flush();
    all.append_settled(t.take_report());
    (all, pushed_back)
}

fn delivered(report: &Report, n: u64) {
    let by_id = outcomes(report, 0..n);
    let failed: Vec<_> = by_id.values().filter(|o| code(o) != "delivered").take(3).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn two_shards_at_their_limits_take_20000_random_keys_in_near_the_time_they_allow() {
    let (mut t, script, run) = on_stream(2, 0.0, None, serde_json::json!({"partition_key": "{{random}}"}));
    let (report, _) = drive(&mut t, events(0..20_000, 100));
    delivered(&report, 20_000);
    let secs = script.clock.get().as_secs_f64();
    // 20,000 records at 2,000/s, less the first second's full buckets: 9 s.
    assert!(secs <= 13.0, "{secs} s: at most 1.3x the 10 s the shards allow");
    assert!(
        run.throttled.get() <= 1_000,
        "{} throttled attempts: at most 5 %",
        run.throttled.get()
    );
    assert_eq!(t.stats().throttled, run.throttled.get());
    let shards = t.stats().shards;
    assert_eq!(shards.len(), 2, "{shards:?}");
    assert!(
        shards
            .iter()
            .all(|s| s.records_sent >= 9_000 && s.shard_id.starts_with("shardId-"))
    );
}

#[test]
fn one_hot_key_is_paced_to_its_shard() {
    let (mut t, script, run) = on_stream(2, 0.0, None, serde_json::json!({}));
    let (report, _) = drive(&mut t, events(0..6_000, 100));
    delivered(&report, 6_000);
    let secs = script.clock.get().as_secs_f64();
    assert!(secs <= 7.8, "{secs} s: at most 1.3x the 6 s one shard allows");
    assert!(run.throttled.get() <= 300, "{} throttled attempts", run.throttled.get());
    assert!(
        script.list_shards_calls.borrow().is_empty(),
        "one key: one shard, no map needed"
    );
    let shards = t.stats().shards;
    assert_eq!(shards.len(), 1);
    assert!(
        shards[0].shard_id.starts_with("shardId-"),
        "learned from the answers: {shards:?}"
    );
    assert!(
        shards[0].at_limit_ms * 2 > shards[0].paced_ms,
        "{shards:?}: at its limit most of the run"
    );
}

#[test]
fn a_second_producer_taking_half_of_every_shard_costs_few_throttles() {
    let (mut t, script, run) = on_stream(2, 0.5, None, serde_json::json!({"partition_key": "{{random}}"}));
    let (report, _) = drive(&mut t, events(0..10_000, 100));
    delivered(&report, 10_000);
    assert!(
        run.throttled.get() <= 1_500,
        "{} throttled attempts: at most 15 %",
        run.throttled.get()
    );
    let secs = script.clock.get().as_secs_f64();
    assert!(secs <= 13.0, "{secs} s for what 1,000/s takes 10 s");
    let budgets: Vec<u64> = t.stats().shards.iter().map(|s| s.records_per_second).collect();
    assert!(budgets.iter().all(|b| *b < 1000), "budgets came down: {budgets:?}");
}

#[test]
fn a_20_second_outage_hands_nothing_back_and_pushes_back_when_full() {
    let outage = Some((Duration::from_secs(2), Duration::from_secs(22)));
    let (mut t, script, run) = on_stream(
        2,
        0.0,
        outage,
        serde_json::json!({"partition_key": "{{random}}", "max_buffer_size": 2_000_000}),
    );
    let (report, pushed_back) = drive(&mut t, events(0..20_000, 100));
    delivered(&report, 20_000);
    assert!(pushed_back, "a full buffer pushes back instead of failing");
    assert!(script.clock.get() >= Duration::from_secs(22));
    assert!(
        script.clock.get() <= Duration::from_secs(40),
        "{:?}: sending resumes soon after",
        script.clock.get()
    );
    assert_eq!(run.stored.get(), 20_000);
}

#[test]
fn an_outage_past_retry_max_duration_fails_the_events_with_its_last_reason() {
    let outage = Some((Duration::ZERO, Duration::from_secs(3600)));
    let (mut t, script, _) = on_stream(2, 0.0, outage, serde_json::json!({"retry_max_duration": 30}));
    t.push(events(0..10, 100));
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..10);
    for o in by_id.values() {
        let Outcome::Failed(f) = o else { panic!("{o:?}") };
        assert_eq!((f.code.as_str(), f.retryable), ("ServiceUnavailable", true));
        assert!(f.message.contains(" attempts in 3"), "{}", f.message);
    }
    let at = script.clock.get();
    assert!(at >= Duration::from_secs(30) && at <= Duration::from_secs(36), "{at:?}");
    let probes = script.sent.borrow().len();
    assert!(
        (6..=40).contains(&probes),
        "{probes} requests in 30 s: backed off, one at a time"
    );
}

#[test]
fn a_saturated_shard_does_not_hold_back_the_others() {
    // Four shards; one key at three times its shard's rate for 10 s, six
    // keys on the three other shards at 10 events a second each.
    let layout = even(4);
    let mut keys = vec![key_in(layout[0].1, layout[0].2, 0)];
    for (_, start, end) in &layout[1..] {
        keys.push(key_in(*start, *end, 0));
        keys.push(key_in(*start, *end, 1));
    }
    let (mut t, script, _) = on_stream(
        4,
        0.0,
        None,
        serde_json::json!({"partition_key": "{{host}}", "max_buffer_size": 16_000_000, "batch_timeout": 0.1}),
    );
    let mut pushed_at = HashMap::new();
    let mut latencies = Vec::new();
    let settle =
        |report: Report, now: Duration, pushed_at: &HashMap<u64, Duration>, latencies: &mut Vec<(u64, Duration)>| {
            for o in report.event_outcomes() {
                assert_eq!(code(&o.outcome), "delivered");
                latencies.push((o.id, now - pushed_at[&o.id]));
            }
        };
    let mut id = 0;
    for tick in 0..100u64 {
        let now = Duration::from_millis(tick * 100);
        while script.clock.get() < now {
            t.poll(now - script.clock.get());
            settle(t.take_report(), script.clock.get(), &pushed_at, &mut latencies);
        }
        let mut batch = Vec::new();
        for _ in 0..300 {
            batch.push(Record::new(
                id,
                format!(r#"{{"host":"{}","n":{id}}}"#, keys[0]).into_bytes(),
            ));
            id += 1;
        }
        for key in &keys[1..] {
            batch.push(Record::new(id, format!(r#"{{"host":"{key}","n":{id}}}"#).into_bytes()));
            id += 1;
        }
        for r in &batch {
            pushed_at.insert(r.id, script.clock.get());
        }
        let n = batch.len();
        assert_eq!(t.push(batch), n, "the burst fits in the buffer");
        settle(t.take_report(), script.clock.get(), &pushed_at, &mut latencies);
    }
    while t.pending() > 0 {
        t.poll(Duration::from_millis(100));
        settle(t.take_report(), script.clock.get(), &pushed_at, &mut latencies);
    }
    assert_eq!(latencies.len() as u64, id, "every event of the burst delivered");
    let per_tick = 300 + keys.len() as u64 - 1;
    let hot = |id: u64| id % per_tick < 300;
    let mut cool: Vec<Duration> = latencies.iter().filter(|(i, _)| !hot(*i)).map(|(_, d)| *d).collect();
    cool.sort();
    let p99 = cool[cool.len() * 99 / 100];

    assert!(p99 < Duration::from_secs(2), "p99 of the low-rate keys: {p99:?}");
}

#[test]
fn list_shards_is_an_exchange_that_push_never_waits_for() {
    let (mut t, script) = target(serde_json::json!({"partition_key": "{{random}}"}));
    script.latency.set(Duration::from_secs(1));
    list_shards(&script, even(2));
    t.push(events(0..600, 10));
    assert_eq!(script.clock.get(), Duration::ZERO, "push did not wait for ListShards");
    assert_eq!(script.list_shards_calls.borrow().len(), 1);
    assert!(
        script.sent.borrow().is_empty(),
        "nothing goes unpaced before the first map"
    );
    let report = t.take_report();
    assert!(
        report.poll_after.is_some_and(|d| d <= Duration::from_secs(5)),
        "{report:?}"
    );
    t.flush();
    delivered(&t.take_report(), 600);
    let ids: Vec<String> = t.stats().shards.into_iter().map(|s| s.shard_id).collect();
    assert_eq!(ids, ["shardId-000000000000", "shardId-000000000001"]);
}

#[test]
fn without_list_shards_the_stream_is_paced_as_a_whole_and_said_once() {
    let (mut t, script, run) = on_stream(2, 0.0, None, serde_json::json!({"partition_key": "{{random}}"}));
    *script.list_shards.borrow_mut() = Some(Box::new(|_| {
        Ok(HttpResponse {
            status: 400,
            error_type: Some("AccessDeniedException".into()),
            body: br#"{"__type":"AccessDeniedException","message":"not authorized to perform: kinesis:ListShards"}"#
                .to_vec(),
        })
    }));
    let (report, _) = drive(&mut t, events(0..10_000, 100));
    delivered(&report, 10_000);
    let said: Vec<_> = script
        .logged
        .borrow()
        .iter()
        .filter(|(_, l)| l.contains("ListShards failed"))
        .cloned()
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].1.contains("AccessDeniedException"), "{said:?}");
    let shards = t.stats().shards;
    assert_eq!(shards.len(), 1);
    assert_eq!(shards[0].shard_id, "*");
    // Unpaced until the first throttle, then the rate the stream took.
    assert!(
        run.throttled.get() <= 3_000,
        "{} throttled of 10,000",
        run.throttled.get()
    );
}
