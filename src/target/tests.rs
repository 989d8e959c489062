//! Delivery logic against a scripted transport: what is sent, what is
//! retried, and that every event gets exactly one outcome.

use super::*;
use crate::send::{HttpResponse, TransportError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Answer = Box<dyn Fn(&[serde_json::Value]) -> Result<HttpResponse, TransportError>>;

/// Records every request body and answers from a script (default: all ok).
#[derive(Clone, Default)]
struct Script {
    sent: Rc<RefCell<Vec<Vec<serde_json::Value>>>>,
    answers: Rc<RefCell<VecDeque<Answer>>>,
    slept: Rc<RefCell<Vec<Duration>>>,
}

impl Transport for Script {
    fn send(&mut self, request: &HttpRequest<'_>) -> Result<HttpResponse, TransportError> {
        let body: serde_json::Value = serde_json::from_slice(request.body).unwrap();
        let records = body["Records"].as_array().unwrap().clone();
        self.sent.borrow_mut().push(records.clone());
        match self.answers.borrow_mut().pop_front() {
            Some(answer) => answer(&records),
            None => Ok(all_ok(records.len())),
        }
    }
}

impl Clock for Script {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_608_000)
    }
    fn sleep(&self, d: Duration) {
        self.slept.borrow_mut().push(d);
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

fn target(extra: serde_json::Value) -> (Target<Script, Script>, Script) {
    let mut cfg = serde_json::json!({"name": "t", "type": "amazonkinesis",
        "properties": {"key": "AKID", "secret": "s", "region": "us-east-1", "stream": "logs", "partition_key": "pk"}});
    for (k, v) in extra.as_object().unwrap() {
        cfg["properties"][k] = v.clone();
    }
    let script = Script::default();
    let config = crate::config::parse(&cfg.to_string()).unwrap();
    (Target::new(config, script.clone(), script.clone()), script)
}

fn events(ids: std::ops::Range<u64>, len: usize) -> Vec<Record> {
    ids.map(|id| Record {
        id,
        data: vec![b'a'; len],
    })
    .collect()
}

/// Every id exactly once; returns outcomes by id.
fn outcomes(report: &Report, ids: std::ops::Range<u64>) -> HashMap<u64, Outcome> {
    let mut by_id = HashMap::new();
    for o in &report.outcomes {
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
        Record {
            id: 0,
            data: vec![1; 10],
        },
        Record {
            id: 1,
            data: vec![1; 11],
        },
        Record { id: 2, data: vec![1] },
    ]);
    t.flush();
    let report = t.take_report();
    let by_id = outcomes(&report, 0..3);
    assert_eq!(code(&by_id[&1]), "RecordTooLarge");
    let Outcome::Failed(f) = &by_id[&1] else { panic!() };
    assert!(!f.retryable && f.origin == Origin::Target);
    assert_eq!(code(&by_id[&0]), "delivered");
    assert_eq!(report.accepted, 2);
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
        Record {
            id: 0,
            data: b"a".to_vec(),
        },
        Record {
            id: 1,
            data: b"b".to_vec(),
        },
        Record {
            id: 2,
            data: b"c".to_vec(),
        },
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
    assert_eq!(script.slept.borrow().len(), 1);
}

#[test]
fn retries_are_bounded_and_backoff_stays_under_the_cap() {
    let (mut t, script) = target(serde_json::json!({"max_retries": 4}));
    for _ in 0..10 {
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
    assert!(f.message.contains("after 5 attempts"), "{}", f.message);
    assert_eq!(script.sent.borrow().len(), 5);
    let slept = script.slept.borrow();
    assert_eq!(slept.len(), 4);
    for (i, d) in slept.iter().enumerate() {
        assert!(*d <= BACKOFF_BASE * (1 << i), "attempt {i} slept {d:?}");
    }
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
        r#"{"name":"t","type":"amazonkinesis","properties":{"key":"A","secret":"s","region":"us-east-1","stream":"other","partition_key":"new"}}"#,
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
}

#[test]
fn field_format_sends_the_normalized_event_and_counts_non_objects() {
    // The spec's example is 94 bytes as it comes and 58 once normalized: with
    // the 2-byte partition key, only the normalized event fits in 70.
    let (mut t, script) = target(serde_json::json!({"field_format": "CIM", "max_record_size": 70}));
    let example = br#"{"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"},"network":{"direction":"inbound"}}"#;
    t.push(vec![
        Record {
            id: 0,
            data: example.to_vec(),
        },
        Record {
            id: 1,
            data: b"plain text".to_vec(),
        },
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
    assert_eq!((report.accepted, report.requests), (0, 0));
    for o in outcomes(&report, 0..3).values() {
        let Outcome::Failed(f) = o else {
            panic!("a disabled target delivered")
        };
        assert_eq!((f.code.as_str(), f.retryable), ("TargetDisabled", false));
        assert!(f.message.contains("disabled"));
    }
    assert!(script.sent.borrow().is_empty());
}
