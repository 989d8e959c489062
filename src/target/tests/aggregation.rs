//! KPL aggregation against the scripted transport: grouping by the shards
//! ListShards names (or by key without it), single events sent plain, the
//! limits on the Kinesis records, and one outcome per event of an aggregate
//! whatever happens to it (delivered, failed, retried, landed elsewhere).

use super::*;
use crate::aggregate::tests::{UserRecord, deaggregate};
use crate::aggregate::{decimal, hash_key};

pub(super) type Layout = Vec<(&'static str, u128, u128)>;

/// `count` shards splitting the hash key space evenly, as CreateStream does.
pub(super) fn even(count: u128) -> Layout {
    let ids = [
        "shardId-000000000000",
        "shardId-000000000001",
        "shardId-000000000002",
        "shardId-000000000003",
    ];
    let step = u128::MAX / count + 1;
    (0..count)
        .map(|i| {
            let end = if i == count - 1 { u128::MAX } else { (i + 1) * step - 1 };
            (ids[i as usize], i * step, end)
        })
        .collect()
}

fn list_answer(layout: &Layout, next: Option<&str>) -> Result<HttpResponse, TransportError> {
    let shards: Vec<_> = layout
        .iter()
        .map(|(id, start, end)| {
            serde_json::json!({"ShardId": id,
                "HashKeyRange": {"StartingHashKey": start.to_string(), "EndingHashKey": end.to_string()},
                "SequenceNumberRange": {"StartingSequenceNumber": "1"}})
        })
        .collect();
    let mut body = serde_json::json!({ "Shards": shards });
    if let Some(next) = next {
        body["NextToken"] = next.into();
    }
    Ok(ok_body(body))
}

/// ListShards answers with `layout`, every time.
pub(super) fn list_shards(script: &Script, layout: Layout) {
    *script.list_shards.borrow_mut() = Some(Box::new(move |_| list_answer(&layout, None)));
}

/// The hash key a sent record is routed by.
pub(super) fn routed_by(record: &serde_json::Value) -> u128 {
    match record["ExplicitHashKey"].as_str() {
        Some(hash) => hash.parse().unwrap(),
        None => hash_key(record["PartitionKey"].as_str().unwrap()),
    }
}

/// Answers a PutRecords request the way Kinesis would with `layout`.
fn routed(layout: Layout) -> Answer {
    Box::new(move |records: &[serde_json::Value]| {
        let results: Vec<_> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let hash = routed_by(r);
                let (id, _, _) = layout.iter().find(|(_, s, e)| (*s..=*e).contains(&hash)).unwrap();
                serde_json::json!({"SequenceNumber": format!("{i}"), "ShardId": id})
            })
            .collect();
        Ok(ok_body(serde_json::json!({"FailedRecordCount": 0, "Records": results})))
    })
}

/// The events a sent Kinesis record carries, as a consumer reads them.
fn user_records(sent: &serde_json::Value) -> Vec<UserRecord> {
    let data = STANDARD.decode(sent["Data"].as_str().unwrap()).unwrap();
    deaggregate(&data).unwrap_or_else(|| {
        vec![UserRecord {
            partition_key: sent["PartitionKey"].as_str().unwrap().to_string(),
            explicit_hash_key: sent["ExplicitHashKey"].as_str().map(str::to_string),
            data,
        }]
    })
}

fn event(id: u64, host: &str) -> Record {
    Record::new(id, format!(r#"{{"host":"{host}","n":{id}}}"#).into_bytes())
}

/// A key whose hash key lies in `start..=end`.
pub(super) fn key_in(start: u128, end: u128, skip: usize) -> String {
    (0..)
        .map(|i| format!("host-{i}"))
        .filter(|k| (start..=end).contains(&hash_key(k)))
        .nth(skip)
        .unwrap()
}

fn keyed_target(extra: serde_json::Value) -> (Target<Script, Script, Script>, Script) {
    let mut props = serde_json::json!({"aggregation": true, "partition_key": "{{host}}"});
    for (k, v) in extra.as_object().unwrap() {
        props[k] = v.clone();
    }
    target(props)
}

#[test]
fn events_are_aggregated_by_the_shard_their_key_maps_to() {
    let (mut t, script) = keyed_target(serde_json::json!({}));
    list_shards(&script, even(4));
    script.answers.borrow_mut().push_back(routed(even(4)));
    let hosts: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
    t.push(
        (0..200)
            .map(|id| event(id, &hosts[id as usize % 20]))
            .collect::<Vec<_>>(),
    );
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..200);

    let calls = script.list_shards_calls.borrow();
    assert_eq!(calls.len(), 1, "the map is asked for once");
    assert_eq!(calls[0].body, r#"{"StreamName":"logs"}"#);
    assert!(calls[0].header("authorization").is_some(), "signed like PutRecords");
    let sent = script.sent.borrow();
    assert_eq!(sent.len(), 1);
    let layout = even(4);
    let shard_of = |hash: u128| layout.iter().position(|(_, s, e)| (*s..=*e).contains(&hash)).unwrap();
    assert!(
        sent[0].len() <= 4,
        "at most one Kinesis record per shard: {}",
        sent[0].len()
    );
    let mut seen = Vec::new();
    for record in &sent[0] {
        let users = user_records(record);
        assert!(users.len() > 1);
        let first = hash_key(&users[0].partition_key);
        assert_eq!(record["PartitionKey"], users[0].partition_key.as_str());
        assert_eq!(
            record["ExplicitHashKey"],
            decimal(first).as_str(),
            "pinned to the first event's shard"
        );
        for user in &users {
            assert_eq!(
                shard_of(hash_key(&user.partition_key)),
                shard_of(first),
                "one shard per aggregate"
            );
            let v: serde_json::Value = serde_json::from_slice(&user.data).unwrap();
            assert_eq!(v["host"], user.partition_key.as_str());
            seen.push(v["n"].as_u64().unwrap());
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<_>>(), "every event once");
    // In order per key: ids of one host grow through its aggregate.
    for record in &sent[0] {
        let ids: Vec<(String, u64)> = user_records(record)
            .iter()
            .map(|u| {
                let v: serde_json::Value = serde_json::from_slice(&u.data).unwrap();
                (u.partition_key.clone(), v["n"].as_u64().unwrap())
            })
            .collect();
        for host in &hosts {
            let mine: Vec<u64> = ids.iter().filter(|(k, _)| k == host).map(|(_, n)| *n).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{host}: {mine:?}");
        }
    }
    for (id, outcome) in by_id {
        let Outcome::Delivered { shard_id, .. } = outcome else {
            panic!("{id}: {outcome:?}")
        };
        let expected = layout[shard_of(hash_key(&hosts[id as usize % 20]))].0;
        assert_eq!(shard_id, expected, "event {id}");
    }
    assert_eq!(t.stats().requests, 1);
}

#[test]
fn a_single_event_is_sent_plain() {
    let (mut t, script) = keyed_target(serde_json::json!({}));
    list_shards(&script, even(4));
    t.push([event(7, "alone")]);
    t.flush();
    assert_eq!(code(&outcomes(&t.take_report(), 7..8)[&7]), "delivered");
    let sent = script.sent.borrow();
    let record = &sent[0][0];
    assert_eq!(
        STANDARD.decode(record["Data"].as_str().unwrap()).unwrap(),
        &event(7, "alone").data[..]
    );
    assert_eq!(record["PartitionKey"], "alone");
    assert!(record.get("ExplicitHashKey").is_none(), "routed by its own key");
}

#[test]
fn each_event_of_an_aggregate_gets_the_aggregates_outcome() {
    // A static key: one group, no ListShards; three events per aggregate.
    // Magic and MD5 (20), the key table entry (tag, length, "pk"), three
    // records of (tag, length, key index field, data tag, length, 10 bytes),
    // and the outer key.
    let three = 20 + (2 + 2) + 3 * (2 + 2 + 2 + 10) + 2;
    let (mut t, script) = target(serde_json::json!({"aggregation": true, "aggregation_max_size": three}));
    script
        .answers
        .borrow_mut()
        .push_back(Box::new(|records: &[serde_json::Value]| {
            assert_eq!(records.len(), 3, "three aggregates");
            Ok(ok_body(serde_json::json!({"FailedRecordCount": 2, "Records": [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
            {"ErrorCode": "InvalidArgumentException", "ErrorMessage": "bad"},
            {"SequenceNumber": "49-7", "ShardId": "shardId-000000000001"}]})))
        }));
    t.push(events(0..9, 10));
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..9);
    assert!(
        script.list_shards_calls.borrow().is_empty(),
        "one hash key: no map needed"
    );
    let sent = script.sent.borrow();
    assert_eq!(sent.len(), 2, "the throttled aggregate is sent again");
    assert_eq!(user_records(&sent[1][0]).len(), 3, "whole, with its three events");
    assert_eq!(sent[0][0]["Data"], sent[1][0]["Data"], "the same aggregate");
    for id in 0..3 {
        assert_eq!(code(&by_id[&id]), "delivered", "retried then delivered: {id}");
    }
    for id in 3..6 {
        let Outcome::Failed(f) = &by_id[&id] else { panic!() };
        assert_eq!((f.code.as_str(), f.retryable), ("InvalidArgumentException", false));
    }
    for id in 6..9 {
        assert_eq!(
            by_id[&id],
            Outcome::Delivered {
                shard_id: "shardId-000000000001".into(),
                sequence_number: "49-7".into()
            }
        );
    }
    let stats = t.stats();
    assert_eq!((stats.delivered, stats.failed, stats.retries), (6, 3, 3));
    assert_eq!((stats.buffered_bytes, t.pending()), (0, 0));
}

#[test]
fn an_aggregate_that_runs_out_of_retries_fails_each_event() {
    let (mut t, script) = target(serde_json::json!({"aggregation": true, "max_retries": 1}));
    for _ in 0..2 {
        script.answers.borrow_mut().push_back(transport_error("Timeout", true));
    }
    t.push(events(0..4, 10));
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..4);
    assert_eq!(script.sent.borrow().len(), 2);
    assert_eq!(script.sent.borrow()[0].len(), 1, "four events, one Kinesis record");
    for outcome in by_id.values() {
        let Outcome::Failed(f) = outcome else { panic!() };
        assert_eq!((f.code.as_str(), f.maybe_delivered), ("Timeout", true));
        assert!(f.message.contains("(after 2 attempts in "), "{}", f.message);
    }
    assert_eq!(t.stats().ambiguous_retries, 4, "each event of the aggregate");
}

#[test]
fn without_list_shards_events_are_grouped_by_key_and_that_is_said_once() {
    let (mut t, script) = keyed_target(serde_json::json!({}));
    *script.list_shards.borrow_mut() = Some(Box::new(|_| {
        Ok(HttpResponse {
            status: 400,
            error_type: None,
            body: br#"{"__type":"AccessDeniedException","message":"not authorized to perform: kinesis:ListShards"}"#
                .to_vec(),
        })
    }));
    t.push(
        (0..12)
            .map(|id| event(id, ["a", "b", "c"][id as usize % 3]))
            .collect::<Vec<_>>(),
    );
    t.push(
        (12..24)
            .map(|id| event(id, ["a", "b", "c"][id as usize % 3]))
            .collect::<Vec<_>>(),
    );
    t.flush();
    assert!(
        outcomes(&t.take_report(), 0..24)
            .values()
            .all(|o| code(o) == "delivered")
    );
    assert_eq!(script.list_shards_calls.borrow().len(), 1, "not asked again at once");
    let logged = script.logged.borrow();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].1.contains("AccessDeniedException"), "{}", logged[0].1);
    assert!(logged[0].1.contains("by partition key"), "{}", logged[0].1);
    drop(logged);
    let sent = script.sent.borrow();
    assert_eq!(sent[0].len(), 3, "one aggregate per key");
    for record in &sent[0] {
        let users = user_records(record);
        assert_eq!(users.len(), 8);
        assert!(users.iter().all(|u| u.partition_key == users[0].partition_key));
        assert_eq!(
            record["ExplicitHashKey"],
            decimal(hash_key(&users[0].partition_key)).as_str()
        );
    }
    drop(sent);
    // A minute later it is asked again; it still fails, and nothing more is said.
    script.clock.set(script.clock.get() + crate::shards::RETRY_AFTER);
    t.push([event(24, "a")]);
    t.flush();
    assert_eq!(script.list_shards_calls.borrow().len(), 2);
    assert_eq!(script.logged.borrow().len(), 1);
}

#[test]
fn list_shards_pages_are_followed_and_closed_shards_left_out() {
    let (mut t, script) =
        keyed_target(serde_json::json!({"stream": "arn:aws:kinesis:us-east-1:123456789012:stream/logs"}));
    *script.list_shards.borrow_mut() = Some(Box::new(|seen: &Seen| {
        let layout = even(4);
        if seen.body.contains("NextToken") {
            assert_eq!(seen.body, r#"{"NextToken":"page-2"}"#);
            return list_answer(&layout[2..].to_vec(), None);
        }
        assert!(seen.body.contains("StreamARN"));
        let mut first = list_answer(&layout[..2].to_vec(), Some("page-2")).unwrap();
        // A closed parent covering everything: must not be used.
        let mut body: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
        body["Shards"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"ShardId": "shardId-000000000009",
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": u128::MAX.to_string()},
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "2"}}));
        first.body = body.to_string().into_bytes();
        Ok(first)
    }));
    script.answers.borrow_mut().push_back(routed(even(4)));
    t.push(
        (0..100)
            .map(|id| event(id, &format!("h{}", id % 10)))
            .collect::<Vec<_>>(),
    );
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..100);
    assert_eq!(script.list_shards_calls.borrow().len(), 2);
    assert!(by_id.values().all(|o| code(o) == "delivered"));
    let layout = even(4);
    for record in &script.sent.borrow()[0] {
        let shard = |hash: u128| layout.iter().position(|(_, s, e)| (*s..=*e).contains(&hash));
        let users = user_records(record);
        assert!(
            users
                .iter()
                .all(|u| shard(hash_key(&u.partition_key)) == shard(routed_by(record)))
        );
    }
}

#[test]
fn after_a_reshard_what_the_landing_shard_does_not_hold_is_sent_again() {
    let (mut t, script) = keyed_target(serde_json::json!({}));
    let half = u128::MAX / 2;
    let children: Layout = vec![
        ("shardId-000000000001", 0, half),
        ("shardId-000000000002", half + 1, u128::MAX),
    ];
    let listed = Rc::new(Cell::new(0));
    let count = listed.clone();
    let after = children.clone();
    *script.list_shards.borrow_mut() = Some(Box::new(move |_| {
        count.set(count.get() + 1);
        match count.get() {
            // The map the events are packed with: one shard, split since.
            1 => list_answer(&vec![("shardId-000000000000", 0, u128::MAX)], None),
            _ => list_answer(&after, None),
        }
    }));
    // The first event's key is in the upper half: the aggregate lands on shard 2.
    let keys = [
        key_in(half + 1, u128::MAX, 0),
        key_in(0, half, 0),
        key_in(half + 1, u128::MAX, 1),
        key_in(0, half, 1),
    ];
    script.answers.borrow_mut().push_back(routed(children.clone()));
    script.answers.borrow_mut().push_back(routed(children.clone()));
    t.push((0..8).map(|id| event(id, &keys[id as usize % 4])).collect::<Vec<_>>());
    t.flush();
    let by_id = outcomes(&t.take_report(), 0..8);
    assert_eq!(listed.get(), 2, "the map is fetched again after the mismatch");
    let sent = script.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].len(), user_records(&sent[0][0]).len()),
        (1, 8),
        "one aggregate for the old shard"
    );
    assert_eq!(sent[1].len(), 1, "the lower half's events, packed for shard 1");
    let again = user_records(&sent[1][0]);
    assert_eq!(again.len(), 4);
    assert!(again.iter().all(|u| hash_key(&u.partition_key) <= half));
    for (id, outcome) in by_id {
        let Outcome::Delivered { shard_id, .. } = outcome else {
            panic!("{id}: {outcome:?}")
        };
        let upper = hash_key(&keys[id as usize % 4]) > half;
        let expected = if upper {
            "shardId-000000000002"
        } else {
            "shardId-000000000001"
        };
        assert_eq!(shard_id, expected, "event {id}");
    }
    let stats = t.stats();
    assert_eq!(
        (stats.retries, stats.ambiguous_retries),
        (4, 4),
        "possible duplicates, counted"
    );
}

#[test]
fn the_limits_apply_to_the_kinesis_records() {
    let (mut t, script) = target(serde_json::json!({"aggregation": true, "aggregation_max_size": 300,
        "max_record_size": 300, "max_request_size": 1000, "max_events": 3}));
    t.push(events(0..60, 100));
    t.flush();
    assert!(
        outcomes(&t.take_report(), 0..60)
            .values()
            .all(|o| code(o) == "delivered")
    );
    let sent = script.sent.borrow();
    let mut events_sent = 0;
    for request in sent.iter() {
        assert!(request.len() <= 3, "max_events counts Kinesis records");
        let mut bytes = 0;
        for record in request {
            let size = STANDARD.decode(record["Data"].as_str().unwrap()).unwrap().len() + 2;
            assert!(size <= 300, "aggregation_max_size: {size}");
            bytes += size;
            events_sent += user_records(record).len();
        }
        assert!(bytes <= 1000, "max_request_size: {bytes}");
    }
    assert_eq!(events_sent, 60);
    assert_eq!(user_records(&sent[0][0]).len(), 2, "two of 100 bytes fit in 300");
}

/// As `every_event_settles_exactly_once_under_random_faults`, with events
/// packed by shard, and answers that often name a shard the map does not
/// expect: whatever happens, every event settles exactly once.
#[test]
fn every_packed_event_settles_exactly_once_under_random_faults() {
    for seed in 1..=30u64 {
        let (mut t, script) = keyed_target(serde_json::json!({"max_events": 3, "max_in_flight": 1 + seed % 4,
            "max_retries": seed % 4, "aggregation_max_size": 120 + seed * 7, "max_buffer_size": 1024 * 1024}));
        list_shards(&script, even(4));
        script.latency.set(Duration::from_millis(seed % 3 * 20));
        let mut state = seed;
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let answer: Answer = match state % 6 {
                0 => transport_error("Timeout", true),
                1 => transport_error("ConnectionError", false),
                2 => Box::new(|records: &[serde_json::Value]| {
                    let results: Vec<_> = (0..records.len())
                        .map(|i| {
                            if i % 2 == 0 {
                                serde_json::json!({"ErrorCode": "ProvisionedThroughputExceededException"})
                            } else {
                                serde_json::json!({"SequenceNumber": "1", "ShardId": "shardId-000000000003"})
                            }
                        })
                        .collect();
                    Ok(ok_body(serde_json::json!({"Records": results})))
                }),
                3 => Box::new(|records: &[serde_json::Value]| Ok(all_ok(records.len()))),
                _ => routed(even(4)),
            };
            script.answers.borrow_mut().push_back(answer);
        }
        let mut report = Report::default();
        let mut next = 0u64;
        while next < 150 {
            let taken = t.push(
                (next..150)
                    .map(|id| event(id, &format!("h{}", id % (seed + 2))))
                    .collect::<Vec<_>>(),
            );
            next += taken as u64;
            t.poll(Duration::from_millis(5));
            report.append_settled(t.take_report());
        }
        t.flush();
        report.append_settled(t.take_report());
        let by_id = outcomes(&report, 0..150);
        let stats = t.stats();
        let delivered = by_id.values().filter(|o| code(o) == "delivered").count() as u64;
        assert_eq!(
            (stats.delivered, stats.delivered + stats.failed),
            (delivered, 150),
            "seed {seed}"
        );
        assert_eq!((stats.buffered_bytes, t.pending()), (0, 0), "seed {seed}");
    }
}
