//! Delivery logic against a scripted transport: what is sent, what is
//! retried, and that every event gets exactly one outcome.

use super::*;
use crate::report::Origin;
use crate::send::{HttpRequest, HttpResponse, TransportError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Answer = Box<dyn Fn(&[serde_json::Value]) -> Result<HttpResponse, TransportError>>;
/// Answers a credential provider's request (anything without `x-amz-target`).
type ProviderAnswer = Box<dyn FnMut(&Seen) -> Result<HttpResponse, TransportError>>;

mod aggregation;
mod credentials;
mod pacing;

/// A request as the transport saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: crate::send::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Records every request body and answers from a script (default: all ok)
/// after `latency` of a virtual monotonic clock that only `wait` moves.
#[derive(Clone, Default)]
struct Script {
    sent: Rc<RefCell<Vec<Vec<serde_json::Value>>>>,
    answers: Rc<RefCell<VecDeque<Answer>>>,
    /// Every wait the target asked for, as (exchanges in flight, max).
    waits: Rc<RefCell<Vec<(usize, Duration)>>>,
    clock: Rc<Cell<Duration>>,
    latency: Rc<Cell<Duration>>,
    /// Debug lines, as (target, line).
    logged: Rc<RefCell<Vec<(String, String)>>>,
    /// The `authorization` header of every PutRecords request, with the wall-clock time it left.
    signed: Rc<RefCell<Vec<(String, SystemTime)>>>,
    /// Where every PutRecords request went: (endpoint URL, `StreamName`).
    streams: Rc<RefCell<Vec<(String, String)>>>,
    /// Credential provider requests, and who answers them (default: refused).
    provider_calls: Rc<RefCell<Vec<Seen>>>,
    provider: Rc<RefCell<Option<ProviderAnswer>>>,
    /// ListShards requests, and who answers them (default: refused).
    list_shards_calls: Rc<RefCell<Vec<Seen>>>,
    list_shards: Rc<RefCell<Option<ProviderAnswer>>>,
    /// Answers PutRecords when `answers` is empty, knowing the virtual time
    /// (a stream with write limits); default: all ok.
    kinesis: Rc<RefCell<Option<Kinesis>>>,
}

/// A PutRecords answerer that sees the virtual time.
type Kinesis = Box<dyn FnMut(&[serde_json::Value], Duration) -> Result<HttpResponse, TransportError>>;

impl crate::send::Log for Script {
    fn log(&self, target: &str, line: &str) {
        self.logged.borrow_mut().push((target.to_string(), line.to_string()));
    }
}

/// An answer that becomes readable at a virtual time.
struct Pending {
    ready_at: Duration,
    answer: Option<Result<HttpResponse, TransportError>>,
}

impl Transport for Script {
    type Exchange = Pending;

    fn start(&mut self, request: HttpRequest<'_>) -> Result<Pending, TransportError> {
        let target = request.headers.iter().find(|(k, _)| k == "x-amz-target");
        if target.is_none() {
            return Ok(self.side_request(request, &self.provider_calls, &self.provider));
        }
        if target.is_some_and(|(_, v)| v == crate::shards::LIST_SHARDS_TARGET) {
            return Ok(self.side_request(request, &self.list_shards_calls, &self.list_shards));
        }
        let auth = request.headers.iter().find(|(k, _)| k == "authorization");
        let auth = auth.map(|(_, v)| v.clone()).unwrap_or_default();
        self.signed.borrow_mut().push((auth, self.now()));
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let stream = body["StreamName"].as_str().unwrap_or_default().to_string();
        self.streams.borrow_mut().push((request.endpoint.url(), stream));
        let records = body["Records"].as_array().unwrap().clone();
        self.sent.borrow_mut().push(records.clone());
        let answer = match self.answers.borrow_mut().pop_front() {
            Some(answer) => answer(&records),
            None => match self.kinesis.borrow_mut().as_mut() {
                Some(kinesis) => kinesis(&records, self.clock.get()),
                None => Ok(all_ok(records.len())),
            },
        };
        Ok(Pending {
            ready_at: self.clock.get() + self.latency.get(),
            answer: Some(answer),
        })
    }

    fn progress(&mut self, exchange: &mut Pending) -> Option<Result<HttpResponse, TransportError>> {
        (self.clock.get() >= exchange.ready_at).then(|| exchange.answer.take().unwrap())
    }

    fn wait(&mut self, exchanges: &[&Pending], max: Duration) {
        self.waits.borrow_mut().push((exchanges.len(), max));
        let now = self.clock.get();
        let first_answer = exchanges.iter().map(|e| e.ready_at).min().unwrap_or(Duration::MAX);
        self.clock.set(first_answer.min(now + max).max(now));
    }
}

impl Script {
    /// Records a request that is not a PutRecords (a credential provider's,
    /// a ListShards) and answers it from `answer` (default: refused).
    fn side_request(
        &self,
        request: HttpRequest<'_>,
        calls: &RefCell<Vec<Seen>>,
        answer: &RefCell<Option<ProviderAnswer>>,
    ) -> Pending {
        let seen = Seen {
            method: request.method,
            url: format!("{}{}", request.endpoint.url().trim_end_matches('/'), request.path),
            headers: request.headers.clone(),
            body: String::from_utf8(request.body).unwrap(),
        };
        calls.borrow_mut().push(seen.clone());
        let answer = match answer.borrow_mut().as_mut() {
            Some(answer) => answer(&seen),
            None => Err(TransportError {
                code: codes::CONNECTION_ERROR,
                message: "connection refused".to_string(),
                ambiguous: false,
            }),
        };
        Pending {
            ready_at: self.clock.get() + self.latency.get(),
            answer: Some(answer),
        }
    }
}

impl Clock for Script {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_608_000) + self.clock.get()
    }
    fn monotonic(&self) -> Duration {
        self.clock.get()
    }
}

impl Script {
    /// Waits that slept with nothing in flight: the backoffs.
    fn backoffs(&self) -> Vec<Duration> {
        self.waits
            .borrow()
            .iter()
            .filter(|(n, _)| *n == 0)
            .map(|(_, d)| *d)
            .collect()
    }
}

fn all_ok(n: usize) -> HttpResponse {
    let records: Vec<_> = (0..n)
        .map(|i| serde_json::json!({"SequenceNumber": i.to_string(), "ShardId": "shardId-0"}))
        .collect();
    ok_body(serde_json::json!({"FailedRecordCount": 0, "Records": records}))
}

fn ok_body(v: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        error_type: None,
        body: v.to_string().into_bytes(),
    }
}

fn target(extra: serde_json::Value) -> (Target<Script, Script, Script>, Script) {
    let mut cfg = serde_json::json!({"name": "t", "type": "amazonkinesis",
        "properties": {"key": "AKID", "secret": "s", "region": "us-east-1", "stream": "logs", "partition_key": "pk"}});
    for (k, v) in extra.as_object().unwrap() {
        cfg["properties"][k] = v.clone();
    }
    let script = Script::default();
    let config = crate::config::parse(&cfg.to_string()).unwrap();
    (
        Target::new(config, script.clone(), script.clone(), script.clone()),
        script,
    )
}

fn events(ids: std::ops::Range<u64>, len: usize) -> Vec<Record> {
    ids.map(|id| Record::new(id, vec![b'a'; len])).collect()
}

/// Every id exactly once; returns outcomes by id.
fn outcomes(report: &Report, ids: std::ops::Range<u64>) -> HashMap<u64, Outcome> {
    let mut by_id = HashMap::new();
    for o in &report.event_outcomes() {
        assert!(
            by_id.insert(o.id, o.outcome.clone()).is_none(),
            "event {} settled twice",
            o.id
        );
    }
    let mut got: Vec<u64> = by_id.keys().copied().collect();
    got.sort_unstable();
    assert_eq!(got, ids.collect::<Vec<_>>(), "every event settled exactly once");
    by_id
}

fn code(o: &Outcome) -> &str {
    match o {
        Outcome::Failed(f) => &f.code,
        Outcome::Delivered { .. } => "delivered",
    }
}

#[test]
fn a_full_batch_is_sent_during_push_the_rest_on_flush() {
    let (mut t, script) = target(serde_json::json!({"max_events": 2}));
    t.push(events(0..3, 5));
    assert_eq!(script.sent.borrow().len(), 1);
    assert_eq!(t.buffered(), 1);
    t.flush();
    let report = t.take_report();
    assert_eq!((report.accepted, report.requests), (3, 2));
    assert!(outcomes(&report, 0..3).values().all(|o| code(o) == "delivered"));
    let sent = script.sent.borrow();
    assert_eq!(sent[0][0]["PartitionKey"], "pk");
    assert_eq!(sent[0][0]["Data"], "YWFhYWE=");
}

#[test]
fn exactly_500_events_make_one_request() {
    let (mut t, script) = target(serde_json::json!({}));
    t.push(events(0..500, 1));
    assert_eq!(script.sent.borrow().len(), 1);
    assert_eq!(script.sent.borrow()[0].len(), 500);
    assert_eq!(t.buffered(), 0);
}

#[test]
fn an_oversized_event_fails_alone_and_its_batch_still_goes() {
    let (mut t, script) = target(serde_json::json!({"max_record_size": 12}));
    // data + "pk" (2 bytes): 10 fits exactly, 11 is one byte over.
    t.push(vec![
        Record::new(0, vec![1; 10]),
        Record::new(1, vec![1; 11]),
        Record::new(2, vec![1]),
    ]);
    t.flush();
    let report = t.take_report();
    let by_id = outcomes(&report, 0..3);
    assert_eq!(code(&by_id[&1]), "RecordTooLarge");
    let Outcome::Failed(f) = &by_id[&1] else { panic!() };
    assert!(!f.retryable && f.origin == Origin::Target);
    assert_eq!(code(&by_id[&0]), "delivered");
    assert_eq!(report.accepted, 3, "the oversized event was taken, and failed");
    assert_eq!(script.sent.borrow()[0].len(), 2);
}

#[test]
fn only_throttled_records_are_sent_again() {
    let (mut t, script) = target(serde_json::json!({}));
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(ok_body(serde_json::json!({"FailedRecordCount": 1, "Records": [
            {"SequenceNumber": "1", "ShardId": "s"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
            {"ErrorCode": "ValidationException", "ErrorMessage": "bad"}]})))
    }));
    t.push(vec![
        Record::new(0, b"a".to_vec()),
        Record::new(1, b"b".to_vec()),
        Record::new(2, b"c".to_vec()),
    ]);
    t.flush();
    let report = t.take_report();
    let by_id = outcomes(&report, 0..3);
    assert_eq!(code(&by_id[&1]), "delivered");
    assert_eq!(code(&by_id[&2]), "ValidationException");
    let sent = script.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].len(), 1);
    assert_eq!(sent[1][0]["Data"], "Yg==");
    assert_eq!(script.backoffs().len(), 1);
}

#[test]
fn retries_are_bounded_and_backoff_stays_under_the_cap() {
    // Default backoff (100 ms doubling, capped at 5 s): the ceiling reaches
    // the cap at retry 7, so retries 7-30 draw under the cap itself.
    let (mut t, script) = target(serde_json::json!({"max_retries": 30}));
    for _ in 0..40 {
        script.answers.borrow_mut().push_back(Box::new(|_| {
            Err(TransportError {
                code: "ConnectionError",
                message: "refused".into(),
                ambiguous: false,
            })
        }));
    }
    t.push(events(0..2, 3));
    t.flush();
    let report = t.take_report();
    let by_id = outcomes(&report, 0..2);
    let Outcome::Failed(f) = &by_id[&0] else { panic!() };
    assert_eq!(
        (f.code.as_str(), f.retryable, f.origin),
        ("ConnectionError", true, Origin::Transport)
    );
    assert!(f.message.contains("after 31 attempts"), "{}", f.message);
    assert_eq!(script.sent.borrow().len(), 31);
    let backoffs = script.backoffs();
    assert_eq!(backoffs.len(), 30);
    let cap = Duration::from_secs(5);
    for (i, d) in backoffs.iter().enumerate() {
        let ceiling = (Duration::from_millis(100) * (1 << i.min(20))).min(cap);
        assert!(*d <= ceiling, "retry {} waited {d:?}, over {ceiling:?}", i + 1);
    }
    // 24 full-jitter draws with the cap as ceiling: some come close to it,
    // so the bound above is the cap at work, not short draws.
    let longest = backoffs.iter().max().unwrap();
    assert!(*longest >= cap * 4 / 5, "longest backoff {longest:?}");
}

#[test]
fn a_permanent_request_error_fails_every_event_at_once() {
    let (mut t, script) = target(serde_json::json!({}));
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(HttpResponse {
            status: 400,
            error_type: None,
            body: br#"{"__type":"ResourceNotFoundException","message":"Stream logs not found"}"#.to_vec(),
        })
    }));
    t.push(events(0..4, 1));
    t.flush();
    let report = t.take_report();
    assert!(
        outcomes(&report, 0..4)
            .values()
            .all(|o| code(o) == "ResourceNotFoundException")
    );
    assert_eq!(script.sent.borrow().len(), 1);
}

#[test]
fn reconfigure_sends_buffered_events_under_the_old_config() {
    let (mut t, script) = target(serde_json::json!({}));
    t.push(events(0..3, 1));
    let new = crate::config::parse(
        r#"{"name":"t","type":"amazonkinesis","properties":{"key":"A","secret":"s","region":"eu-west-1","stream":"other","partition_key":"new"}}"#,
    )
    .unwrap();
    t.reconfigure(new);
    assert_eq!(script.sent.borrow().len(), 1);
    assert_eq!(script.sent.borrow()[0][0]["PartitionKey"], "pk");
    t.push(events(3..4, 1));
    t.flush();
    let report = t.take_report();
    outcomes(&report, 0..4);
    assert_eq!(script.sent.borrow()[1][0]["PartitionKey"], "new");
    // Stream, endpoint and signing scope switch with the config, not before.
    let to = |url: &str, stream: &str| (url.to_string(), stream.to_string());
    assert_eq!(
        *script.streams.borrow(),
        [
            to("https://kinesis.us-east-1.amazonaws.com/", "logs"),
            to("https://kinesis.eu-west-1.amazonaws.com/", "other"),
        ]
    );
    let signed = script.signed.borrow();
    assert!(
        signed[0].0.contains("Credential=AKID/20261125/us-east-1/kinesis/"),
        "{}",
        signed[0].0
    );
    assert!(
        signed[1].0.contains("Credential=A/20261125/eu-west-1/kinesis/"),
        "{}",
        signed[1].0
    );
}

#[test]
fn field_format_sends_the_normalized_event_and_counts_non_objects() {
    // The spec's example is 94 bytes as it comes and 58 once normalized: with
    // the 2-byte partition key, only the normalized event fits in 70.
    let (mut t, script) = target(serde_json::json!({"field_format": "CIM", "max_record_size": 70}));
    let example = br#"{"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"},"network":{"direction":"inbound"}}"#;
    t.push(vec![
        Record::new(0, example.to_vec()),
        Record::new(1, b"plain text".to_vec()),
    ]);
    t.flush();
    let report = t.take_report();
    assert!(outcomes(&report, 0..2).values().all(|o| code(o) == "delivered"));
    let sent = script.sent.borrow();
    let data = |i: usize| STANDARD.decode(sent[0][i]["Data"].as_str().unwrap()).unwrap();
    assert_eq!(
        data(0),
        br#"{"src":"10.0.0.1","dest":"10.0.0.2","direction":"inbound"}"#
    );
    assert_eq!(data(1), b"plain text");
    assert_eq!(t.stats().normalize_passthrough, 1);
}

#[test]
fn a_disabled_target_hands_every_event_back_and_sends_nothing() {
    let (mut t, script) = target(serde_json::json!({}));
    let mut config = t.config().clone();
    config.enabled = false;
    t.reconfigure(config);
    t.push(events(0..3, 1));
    t.flush();
    let report = t.take_report();
    assert_eq!((report.accepted, report.requests), (3, 0));
    for o in outcomes(&report, 0..3).values() {
        let Outcome::Failed(f) = o else {
            panic!("a disabled target delivered")
        };
        assert_eq!((f.code.as_str(), f.retryable), ("TargetDisabled", false));
        assert!(f.message.contains("disabled"));
    }
    assert!(script.sent.borrow().is_empty());
}

fn transport_error(code: &'static str, ambiguous: bool) -> Answer {
    Box::new(move |_| {
        Err(TransportError {
            code,
            message: "injected".into(),
            ambiguous,
        })
    })
}

#[test]
fn push_never_waits_and_keeps_up_to_max_in_flight_requests() {
    let (mut t, script) = target(serde_json::json!({"max_events": 1, "max_in_flight": 3}));
    script.latency.set(Duration::from_millis(50));
    t.push(events(0..10, 1));
    assert!(script.waits.borrow().is_empty(), "push waited");
    assert_eq!(script.sent.borrow().len(), 3);
    let report = t.take_report();
    assert_eq!((report.accepted, report.pending), (10, 10));
    assert_eq!(
        report.poll_after,
        Some(Duration::from_secs(30)),
        "answers pending: poll within the timeout"
    );
    t.poll(Duration::from_secs(1));
    let report = t.take_report();
    assert_eq!(report.settled(), 3, "poll returns once something settled");
    assert_eq!(script.sent.borrow().len(), 6, "freed slots are refilled at once");
    t.flush();
    let mut all = report;
    all.append_settled(t.take_report());
    assert!(outcomes(&all, 0..10).values().all(|o| code(o) == "delivered"));
    let stats = t.stats();
    assert_eq!((stats.delivered, stats.requests, stats.in_flight_requests), (10, 10, 0));
}

#[test]
fn a_full_buffer_takes_what_fits_and_the_rest_after_poll() {
    let (mut t, script) = target(serde_json::json!({
        "max_record_size": 100, "max_request_size": 100, "max_buffer_size": 600}));
    script.latency.set(Duration::from_millis(10));
    assert_eq!(
        t.push(events(0..5, 40)),
        2,
        "two of 40 bytes and their overhead fit in 600, a third does not"
    );
    assert_eq!(t.take_report().accepted, 2);
    assert_eq!(script.sent.borrow().len(), 1, "a full buffer sends the open batch");
    assert_eq!(t.stats().events_refused, 3);
    t.poll(Duration::from_secs(1));
    assert_eq!(t.stats().buffered_bytes, 0);
    assert_eq!(t.push(events(2..5, 40)), 2);
    t.poll(Duration::from_secs(1));
    assert_eq!(t.push(events(4..5, 40)), 1);
    t.flush();
    assert_eq!(t.stats().delivered, 5);
}

#[test]
fn a_timeout_after_sending_is_retried_and_counted_as_ambiguous() {
    let (mut t, script) = target(serde_json::json!({}));
    script.answers.borrow_mut().push_back(transport_error("Timeout", true));
    script
        .answers
        .borrow_mut()
        .push_back(transport_error("ConnectionError", false));
    t.push(events(0..2, 1));
    t.flush();
    assert!(
        outcomes(&t.take_report(), 0..2)
            .values()
            .all(|o| code(o) == "delivered")
    );
    let stats = t.stats();
    assert_eq!((stats.requests, stats.retries, stats.ambiguous_retries), (3, 4, 2));
}

#[test]
fn an_unreadable_answer_is_retried_as_ambiguous() {
    let (mut t, script) = target(serde_json::json!({}));
    script
        .answers
        .borrow_mut()
        .push_back(Box::new(|_| Ok(ok_body(serde_json::json!({"Records": []})))));
    t.push(events(0..3, 1));
    t.flush();
    assert!(
        outcomes(&t.take_report(), 0..3)
            .values()
            .all(|o| code(o) == "delivered")
    );
    assert_eq!(t.stats().ambiguous_retries, 3);
}

#[test]
fn a_denied_request_fails_at_once() {
    let (mut t, script) = target(serde_json::json!({}));
    script
        .answers
        .borrow_mut()
        .push_back(transport_error("HttpRequestDenied", false));
    t.push(events(0..2, 1));
    t.flush();
    assert!(
        outcomes(&t.take_report(), 0..2)
            .values()
            .all(|o| code(o) == "HttpRequestDenied")
    );
    assert_eq!(script.sent.borrow().len(), 1);
}

#[test]
fn retry_max_duration_bounds_retries_by_time() {
    let (mut t, script) = target(serde_json::json!({"max_retries": 10, "retry_max_duration": 1.5}));
    script.latency.set(Duration::from_secs(1));
    for _ in 0..10 {
        script
            .answers
            .borrow_mut()
            .push_back(transport_error("ConnectionError", false));
    }
    t.push(events(0..1, 1));
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..1);
    let Outcome::Failed(f) = &by_id[&0] else { panic!() };
    // Answers at ~1 s and ~2.1 s; a third attempt would start past 1.5 s.
    assert!(f.message.contains("(after 2 attempts in "), "{}", f.message);
}

#[test]
fn with_one_request_in_flight_nothing_newer_overtakes_a_retry() {
    let (mut t, script) = target(serde_json::json!({"max_events": 1, "max_in_flight": 1}));
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(ok_body(serde_json::json!({"FailedRecordCount": 1, "Records": [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}]})))
    }));
    let data = |id: u64| Record::new(id, id.to_string().into_bytes());
    t.push((0..3).map(data).collect::<Vec<_>>());
    t.flush();
    outcomes(&t.take_report(), 0..3);
    let sent: Vec<String> = script.sent.borrow().iter().map(|r| r[0]["Data"].to_string()).collect();
    let expected: Vec<String> = ["0", "0", "1", "2"]
        .iter()
        .map(|d| serde_json::Value::from(STANDARD.encode(d)).to_string())
        .collect();
    assert_eq!(sent, expected);
}

/// Random mixes of answers, seeded: whatever happens, every event settles
/// exactly once and retries never exceed the budget.
#[test]
fn every_event_settles_exactly_once_under_random_faults() {
    for seed in 1..=40u64 {
        let (mut t, script) = target(serde_json::json!({"max_events": 7, "max_in_flight": 1 + seed % 4,
            "max_retries": seed % 4, "max_buffer_size": 1024 * 1024}));
        script.latency.set(Duration::from_millis(seed % 3 * 20));
        let mut state = seed;
        for _ in 0..200 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pick = state % 6;
            let answer: Answer = match pick {
                0 => transport_error("Timeout", true),
                1 => transport_error("ConnectionError", false),
                2 => Box::new(|_| {
                    Ok(HttpResponse {
                        status: 500,
                        error_type: None,
                        body: br#"{"__type":"InternalFailure"}"#.to_vec(),
                    })
                }),
                3 => Box::new(|records: &[serde_json::Value]| {
                    let results: Vec<_> = (0..records.len())
                        .map(|i| {
                            if i % 2 == 0 {
                                serde_json::json!({"ErrorCode": "ProvisionedThroughputExceededException"})
                            } else {
                                serde_json::json!({"SequenceNumber": "1", "ShardId": "s"})
                            }
                        })
                        .collect();
                    Ok(ok_body(serde_json::json!({"Records": results})))
                }),
                _ => Box::new(|records: &[serde_json::Value]| Ok(all_ok(records.len()))),
            };
            script.answers.borrow_mut().push_back(answer);
        }
        let mut report = Report::default();
        let mut next = 0u64;
        while next < 100 {
            // Each event's data is its id, so the sends of each can be counted.
            let width = 3 + (next % 5) as usize;
            let batch = (next..100).map(|id| Record::new(id, format!("{id:0width$}").into_bytes()));
            let taken = t.push(batch.collect::<Vec<_>>());
            next += taken as u64;
            t.poll(Duration::from_millis(5));
            let r = t.take_report();
            report.append_settled(r);
        }
        t.flush();
        report.append_settled(t.take_report());
        let by_id = outcomes(&report, 0..100);
        let stats = t.stats();
        let delivered = by_id.values().filter(|o| code(o) == "delivered").count() as u64;
        assert_eq!(
            (stats.delivered, stats.delivered + stats.failed),
            (delivered, 100),
            "seed {seed}"
        );
        assert_eq!((stats.buffered_bytes, t.pending()), (0, 0), "seed {seed}");
        // The budget: one attempt plus at most `max_retries` re-sends per
        // event, and an event fails (all faults here are retryable) only once
        // it is spent.
        let budget = 1 + seed % 4;
        let mut sends: HashMap<u64, u64> = HashMap::new();
        for record in script.sent.borrow().iter().flatten() {
            let data = STANDARD.decode(record["Data"].as_str().unwrap()).unwrap();
            *sends
                .entry(String::from_utf8(data).unwrap().parse().unwrap())
                .or_default() += 1;
        }
        for (id, outcome) in &by_id {
            let n = sends.get(id).copied().unwrap_or(0);
            match outcome {
                Outcome::Delivered { .. } => {
                    assert!((1..=budget).contains(&n), "seed {seed}: event {id} sent {n} times")
                }
                Outcome::Failed(f) => {
                    assert_eq!(
                        n, budget,
                        "seed {seed}: event {id} failed after {n} sends: {}",
                        f.message
                    );
                    assert!(
                        f.message.contains(&format!("(after {budget} attempts in ")),
                        "seed {seed}: {}",
                        f.message
                    );
                }
            }
        }
        assert_eq!(
            stats.retries,
            sends.values().map(|n| n - 1).sum::<u64>(),
            "seed {seed}: re-sends counted"
        );
    }
}

#[test]
fn a_final_failure_after_an_ambiguous_attempt_says_it_may_have_been_delivered() {
    let (mut t, script) = target(serde_json::json!({}));
    script.answers.borrow_mut().push_back(transport_error("Timeout", true));
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(HttpResponse {
            status: 400,
            error_type: None,
            body: br#"{"__type":"ValidationException","message":"bad"}"#.to_vec(),
        })
    }));
    t.push(events(0..1, 1));
    t.push(events(1..2, 1));
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..2);
    let Outcome::Failed(f) = &by_id[&0] else { panic!() };
    assert_eq!((f.code.as_str(), f.maybe_delivered), ("ValidationException", true));
}

#[test]
fn an_interval_target_sends_nothing_before_its_run_and_everything_at_it() {
    let (mut t, script) = target(serde_json::json!({"interval": "5m"}));
    t.push(events(0..3, 1));
    assert_eq!(script.sent.borrow().len(), 1, "the first run is right after start");
    t.poll(Duration::ZERO);
    t.take_report();
    script.clock.set(Duration::from_secs(10));
    t.push(events(3..703, 1));
    let report = t.take_report();
    assert_eq!(script.sent.borrow().len(), 1, "a full batch waits for the run too");
    assert_eq!(
        report.poll_after,
        Some(Duration::from_secs(290)),
        "the next run is 5 min after the first ended"
    );
    t.poll(Duration::from_secs(289));
    assert_eq!((script.sent.borrow().len(), t.take_report().settled()), (1, 0));
    t.poll(Duration::from_secs(2));
    let sizes: Vec<usize> = script.sent.borrow().iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [3, 500, 200],
        "the run drains the queue in requests of at most max_events"
    );
    assert_eq!(script.clock.get(), Duration::from_secs(300));
    assert!(
        outcomes(&t.take_report(), 3..703)
            .values()
            .all(|o| code(o) == "delivered")
    );
    assert_eq!(t.take_report().poll_after, None, "nothing held: no need to poll");
}

#[test]
fn the_first_run_takes_everything_the_first_push_brought() {
    // SPEC 5: a run drains the queue. The first run begins in the first
    // push; it must see all of that push, not only the batch that filled
    // first (60 lines written before start went out as 50, then 10 an
    // hour later).
    let (mut t, script) = target(serde_json::json!({"interval": "1h", "max_events": 50}));
    t.push(events(0..60, 1));
    let sizes: Vec<usize> = script.sent.borrow().iter().map(Vec::len).collect();
    assert_eq!(sizes, [50, 10]);
    t.poll(Duration::ZERO);
    assert!(
        outcomes(&t.take_report(), 0..60)
            .values()
            .all(|o| code(o) == "delivered")
    );
}

#[test]
fn what_a_scheduled_run_could_not_deliver_waits_for_the_next_run() {
    let (mut t, script) = target(serde_json::json!({"interval": 60}));
    script
        .answers
        .borrow_mut()
        .push_back(transport_error("ConnectionError", false));
    t.push(events(0..2, 1));
    assert_eq!(script.sent.borrow().len(), 1);
    t.poll(Duration::from_secs(30));
    assert_eq!(script.sent.borrow().len(), 1, "no backoff retry between runs");
    t.poll(Duration::from_secs(31));
    assert_eq!(script.sent.borrow().len(), 2);
    assert!(
        outcomes(&t.take_report(), 0..2)
            .values()
            .all(|o| code(o) == "delivered")
    );
    assert_eq!(t.stats().retries, 2);
}

#[test]
fn flush_sends_a_scheduled_target_at_once() {
    let (mut t, script) = target(serde_json::json!({"interval": "1h"}));
    t.push(events(0..1, 1));
    t.push(events(1..5, 1));
    assert_eq!(script.sent.borrow().len(), 1);
    t.flush();
    assert_eq!(script.sent.borrow().len(), 2);
    assert_eq!(
        script.clock.get(),
        Duration::ZERO,
        "flush did not wait for the schedule"
    );
    outcomes(&t.take_report(), 0..5);
}

#[test]
fn each_record_carries_the_key_rendered_from_its_event() {
    let (mut t, script) = target(serde_json::json!({"partition_key": "{{host}}-x", "max_record_size": 27}));
    t.push(vec![
        Record::new(0, br#"{"host":"a"}"#.to_vec()),
        Record::new(1, b"plain".to_vec()),
        // 21 bytes of data + its own 12-byte key: over 27.
        Record::new(2, br#"{"host":"aaaaaaaaaa"}"#.to_vec()),
    ]);
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..3);
    let Outcome::Failed(f) = &by_id[&2] else { panic!() };
    assert!(f.message.contains("partition key 12"), "{}", f.message);
    let sent = script.sent.borrow();
    let keys: Vec<&str> = sent[0].iter().map(|r| r["PartitionKey"].as_str().unwrap()).collect();
    assert_eq!(keys, ["a-x", "-x"]);
}

#[test]
fn debug_status_logs_each_event_as_it_came_and_still_sends() {
    let (mut t, script) = target(serde_json::json!({"debug": {"status": true}, "field_format": "cim"}));
    t.push(vec![
        Record::new(1, br#"{"source":{"ip":"10.0.0.1"}}"#.to_vec()),
        Record::new(2, b"two\nlines\x00".to_vec()),
    ]);
    t.flush();
    assert!(
        outcomes(&t.take_report(), 1..3)
            .values()
            .all(|o| code(o) == "delivered")
    );
    let logged = script.logged.borrow();
    assert_eq!(
        *logged,
        [
            ("t".to_string(), r#"event 1: {"source":{"ip":"10.0.0.1"}}"#.to_string()),
            ("t".to_string(), "event 2: two\\nlines?".to_string()),
        ]
    );
}

#[test]
fn dont_send_logs_logs_sends_nothing_and_hands_each_event_back() {
    let (mut t, script) = target(serde_json::json!({"debug": {"status": true, "dont_send_logs": true}}));
    t.push(events(0..3, 2));
    t.flush();
    let report = t.take_report();
    assert_eq!((report.accepted, report.requests), (3, 0));
    for o in outcomes(&report, 0..3).values() {
        let Outcome::Failed(f) = o else { panic!("sent") };
        assert_eq!((f.code.as_str(), f.retryable), ("DontSendLogs", false));
    }
    assert!(script.sent.borrow().is_empty());
    assert_eq!(script.logged.borrow().len(), 3);
}

#[test]
fn a_long_event_is_logged_cut_with_its_size() {
    let (mut t, script) = target(serde_json::json!({"debug": {"status": true}}));
    t.push(events(0..1, 5000));
    let logged = script.logged.borrow();
    assert!(logged[0].1.ends_with(" ... (5000 bytes in all)"));
    assert!(logged[0].1.len() < 4200);
}

/// The virtual clock starts at 2026-11-25T12:00:00Z (`Script::now`).
#[test]
fn a_cron_target_sends_nothing_before_its_time_and_everything_at_it() {
    let (mut t, script) = target(serde_json::json!({"cron": "*/5 * * * *"}));
    t.push(events(0..703, 1));
    assert!(
        script.sent.borrow().is_empty(),
        "the first run is at 12:05, not at start"
    );
    assert_eq!(t.take_report().poll_after, Some(Duration::from_secs(300)));
    t.poll(Duration::from_secs(299));
    assert!(script.sent.borrow().is_empty() && t.take_report().settled() == 0);
    t.poll(Duration::from_secs(2));
    let sizes: Vec<usize> = script.sent.borrow().iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [500, 203],
        "the run drains the queue in requests of at most max_events"
    );
    assert_eq!(script.clock.get(), Duration::from_secs(300));
    assert!(
        outcomes(&t.take_report(), 0..703)
            .values()
            .all(|o| code(o) == "delivered")
    );
    assert_eq!(t.take_report().poll_after, None, "nothing held: no need to poll");
}

/// Pushes one event and polls until it is sent; returns the clock then.
fn sent_at(t: &mut Target<Script, Script, Script>, script: &Script, id: u64) -> Duration {
    let before = script.sent.borrow().len();
    t.push(events(id..id + 1, 1));
    while script.sent.borrow().len() == before {
        let wait = t.take_report().poll_after.expect("a run is planned");
        t.poll(wait);
    }
    t.take_report();
    script.clock.get()
}

#[test]
fn every_five_minutes_runs_on_the_fives_of_the_wall_clock() {
    let (mut t, script) = target(serde_json::json!({"cron": "*/5 * * * *"}));
    let secs = Duration::from_secs;
    assert_eq!(sent_at(&mut t, &script, 0), secs(300), "12:05");
    assert_eq!(sent_at(&mut t, &script, 1), secs(600), "pushed during 12:05: 12:10");
    script.clock.set(secs(700));
    assert_eq!(sent_at(&mut t, &script, 2), secs(900), "pushed at 12:11:40: 12:15");
    // 12:20 passes with nothing held and nobody polling: an empty run.
    script.clock.set(secs(1250));
    assert_eq!(
        sent_at(&mut t, &script, 3),
        secs(1500),
        "pushed at 12:20:50: 12:25, not at once"
    );
}

#[test]
fn cron_wins_over_interval() {
    let (mut t, script) = target(serde_json::json!({"cron": "0 * * * *", "interval": 60}));
    t.push(events(0..2, 1));
    assert!(
        script.sent.borrow().is_empty(),
        "an interval target would send right away"
    );
    assert_eq!(t.take_report().poll_after, Some(Duration::from_secs(3600)), "13:00");
    assert_eq!(sent_at(&mut t, &script, 2), Duration::from_secs(3600));
    assert_eq!(script.sent.borrow()[0].len(), 3);
}

#[test]
fn the_cron_utc_offset_shifts_the_run() {
    let first_run = |offset: Option<&str>| {
        let mut props = serde_json::json!({"cron": "0 13 * * *"});
        if let Some(offset) = offset {
            props["cron_utc_offset"] = offset.into();
        }
        let (mut t, _) = target(props);
        t.push(events(0..1, 1));
        t.take_report().poll_after.unwrap().as_secs() as f64 / 3600.0
    };
    assert_eq!(first_run(None), 1.0, "13:00 UTC");
    assert_eq!(first_run(Some("Z")), 1.0);
    assert_eq!(
        first_run(Some("+02:00")),
        23.0,
        "13:00 at +02:00 is 11:00 UTC: tomorrow"
    );
    assert_eq!(first_run(Some("-05:30")), 6.5, "13:00 at -05:30 is 18:30 UTC");
}

#[test]
fn what_a_cron_run_could_not_deliver_waits_for_the_next_matching_minute() {
    let (mut t, script) = target(serde_json::json!({"cron": "*/10 * * * *"}));
    script
        .answers
        .borrow_mut()
        .push_back(transport_error("ConnectionError", false));
    t.push(events(0..2, 1));
    t.poll(Duration::from_secs(600));
    assert_eq!(
        (script.sent.borrow().len(), script.clock.get()),
        (1, Duration::from_secs(600))
    );
    t.poll(Duration::from_secs(599));
    assert_eq!(script.sent.borrow().len(), 1, "no backoff retry between runs");
    t.poll(Duration::from_secs(1));
    assert_eq!(
        (script.sent.borrow().len(), script.clock.get()),
        (2, Duration::from_secs(1200))
    );
    t.poll(Duration::ZERO);
    assert!(
        outcomes(&t.take_report(), 0..2)
            .values()
            .all(|o| code(o) == "delivered")
    );
}

#[test]
fn flush_sends_a_cron_target_at_once_and_keeps_its_minutes() {
    let (mut t, script) = target(serde_json::json!({"cron": "*/5 * * * *"}));
    script.clock.set(Duration::from_secs(60));
    t.push(events(0..3, 1));
    t.flush();
    assert_eq!(script.sent.borrow().len(), 1);
    assert_eq!(
        script.clock.get(),
        Duration::from_secs(60),
        "flush did not wait for 12:05"
    );
    outcomes(&t.take_report(), 0..3);
    t.push(events(3..4, 1));
    assert_eq!(
        t.take_report().poll_after,
        Some(Duration::from_secs(240)),
        "the next run is still 12:05"
    );
}

#[test]
fn batch_timeout_sends_a_batch_that_is_not_full_once_its_first_event_is_that_old() {
    let (mut t, script) = target(serde_json::json!({"batch_timeout": 2}));
    t.push(events(0..3, 5));
    assert_eq!(script.sent.borrow().len(), 0, "not full: it waits");
    assert_eq!(t.take_report().poll_after, Some(Duration::from_secs(2)));
    script.clock.set(Duration::from_secs(1));
    t.push(events(3..5, 5));
    assert_eq!(
        t.take_report().poll_after,
        Some(Duration::from_secs(1)),
        "the first event's age counts"
    );
    t.poll(Duration::from_secs(5));
    assert_eq!(script.clock.get(), Duration::from_secs(2));
    let sizes: Vec<usize> = script.sent.borrow().iter().map(Vec::len).collect();
    assert_eq!(sizes, [5]);
    assert!(
        outcomes(&t.take_report(), 0..5)
            .values()
            .all(|o| code(o) == "delivered")
    );
    assert_eq!(t.take_report().poll_after, None, "nothing held: no need to poll");
    // The next batch has a clock of its own.
    t.push(events(5..6, 5));
    assert_eq!(t.take_report().poll_after, Some(Duration::from_secs(2)));
}

#[test]
fn without_batch_timeout_a_realtime_batch_waits_until_full_or_flush() {
    let (mut t, script) = target(serde_json::json!({}));
    t.push(events(0..3, 5));
    assert_eq!(t.take_report().poll_after, None);
    t.poll(Duration::from_secs(60));
    assert_eq!(script.sent.borrow().len(), 0);
}

#[test]
fn batch_timeout_bounds_how_long_aggregated_events_wait() {
    let (mut t, script) = target(serde_json::json!({"aggregation": true, "batch_timeout": 0.5}));
    t.push(events(0..40, 20));
    assert_eq!(script.sent.borrow().len(), 0);
    t.poll(Duration::from_secs(1));
    assert_eq!(script.clock.get(), Duration::from_millis(500));
    let sizes: Vec<usize> = script.sent.borrow().iter().map(Vec::len).collect();
    assert_eq!(sizes, [1], "one aggregate of 40 events");
    assert!(
        outcomes(&t.take_report(), 0..40)
            .values()
            .all(|o| code(o) == "delivered")
    );
}

/// Event `i` of a packed batch: `lengths[i]` bytes of `b'a' + i`.
fn push_packed<T: Transport, C: Clock, L: Log>(t: &mut Target<T, C, L>, lengths: &[u32]) -> usize {
    let ids: Vec<u64> = (0..lengths.len() as u64).collect();
    let data: Vec<u8> = (0..lengths.len())
        .flat_map(|i| vec![b'a' + i as u8; lengths[i] as usize])
        .collect();
    t.push_batch(&ids, lengths, data)
}

#[test]
fn bytes_a_batch_buffer_keeps_for_events_gone_count_against_max_buffer_size() {
    let (mut t, _script) = target(serde_json::json!({"max_record_size": 100, "max_buffer_size": 1000}));
    // 50 B held (306 with its overhead); 200 B too large, failed at once but
    // its bytes stay in the buffer the others share; a second 50 B fits
    // (812); a third would fit by the records alone (918), not with them.
    assert_eq!(push_packed(&mut t, &[50, 200, 50, 50]), 3);
    let outcomes = outcomes(&t.take_report(), 1..2);
    assert_eq!(code(&outcomes[&1]), "RecordTooLarge");
    assert_eq!(
        t.stats().buffered_bytes,
        612 + 200 + 50,
        "the records, the failed event's bytes and the refused event's"
    );
    t.flush();
    assert_eq!(
        (t.stats().delivered, t.stats().buffered_bytes),
        (2, 0),
        "the buffer went with its records"
    );
}

#[test]
fn a_record_waiting_for_a_retry_lets_its_batch_buffer_go() {
    let (mut t, script) = target(serde_json::json!({"max_events": 3}));
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(ok_body(serde_json::json!({"FailedRecordCount": 1, "Records": [
            {"SequenceNumber": "1", "ShardId": "s"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
            {"SequenceNumber": "2", "ShardId": "s"}]})))
    }));
    assert_eq!(push_packed(&mut t, &[1, 1, 1]), 3, "a full batch: sent at once");
    t.poll(Duration::ZERO);
    assert_eq!(t.stats().delivered, 2);
    assert_eq!(
        t.stats().buffered_bytes,
        (1 + crate::stats::EVENT_OVERHEAD) as u64,
        "the waiting record's own copy; nothing pinned"
    );
    t.flush();
    let sent = script.sent.borrow();
    assert_eq!(sent[1][0]["Data"], "Yg==", "the retry sends the copied bytes");
    assert_eq!(t.stats().buffered_bytes, 0);
}
