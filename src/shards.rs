//! The stream's open shards and their hash key ranges, from the Kinesis
//! `ListShards` API, so that KPL aggregation packs together only events that
//! land on one shard.
//!
//! The map is asked for once, before the first events are grouped, and again
//! when a PutRecords answer names another shard than the one an aggregate was
//! packed for (the stream was resharded). There is no periodic refresh:
//! resharding closes the shards it splits or merges, so the first aggregate
//! packed for a closed shard reports the change. When ListShards fails (no
//! `kinesis:ListShards` permission, an endpoint without it) events are grouped
//! by hash key instead (each aggregate then holds one partition key), and the
//! call is tried again at most once per [`RETRY_AFTER`].

use crate::aggregate::{Group, Placement};
use crate::encode::{StreamRef, json_string};
use crate::json::kind as json_kind;
use serde_json::Value;
use std::time::Duration;

/// `X-Amz-Target` of ListShards.
pub const LIST_SHARDS_TARGET: &str = "Kinesis_20131202.ListShards";
/// Longest wait for a step of one ListShards call (the whole call: three of them).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a failed ListShards answers for the map before it is asked again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Pages of ListShards followed at most (1,000 shards each by default).
pub const MAX_PAGES: usize = 100;

/// An open shard and its inclusive hash key range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: String,
    pub start: u128,
    pub end: u128,
}

/// One page of a ListShards answer: its open shards and the next page's token.
pub type Page = (Vec<Shard>, Option<String>);

/// The body of a ListShards call: the stream on the first page, only the
/// token on the next ones (the API refuses both together).
pub fn request_body(stream: &StreamRef, next_token: Option<&str>) -> Vec<u8> {
    match (next_token, stream) {
        (Some(token), _) => format!(r#"{{"NextToken":{}}}"#, json_string(token)),
        (None, StreamRef::Name(name)) => format!(r#"{{"StreamName":{}}}"#, json_string(name)),
        (None, StreamRef::Arn(arn)) => format!(r#"{{"StreamARN":{}}}"#, json_string(arn)),
    }
    .into_bytes()
}

/// Reads a ListShards answer of `status`: an error answer as Kinesis errors
/// are read (`CODE: message`), else the page.
pub fn parse_answer(status: u16, error_type: Option<&str>, body: &[u8]) -> Result<Page, String> {
    if !(200..300).contains(&status) {
        return Err(said(crate::response::request_error(status, error_type, body)));
    }
    parse_page(body)
}

/// A failed ListShards call as the fallback's log line names it.
pub(crate) fn said(failure: crate::report::Failure) -> String {
    format!("{}: {}", failure.code, failure.message)
}

/// Reads a ListShards answer's body. Closed shards (those with an
/// `EndingSequenceNumber`, kept for their retention after resharding) are left out.
pub fn parse_page(body: &[u8]) -> Result<Page, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("ListShards answer is not the expected JSON: {e}"))?;
    let Value::Object(answer) = value else {
        return Err(format!(
            "ListShards answer is {}, expected an object",
            json_kind(&value)
        ));
    };
    let next = answer.get("NextToken").and_then(Value::as_str).map(str::to_string);
    let list = match answer.get("Shards") {
        Some(Value::Array(list)) => list,
        Some(other) => return Err(format!("Shards is {}, expected a list", json_kind(other))),
        None => return Err("ListShards answer has no Shards".to_string()),
    };
    let mut shards = Vec::with_capacity(list.len());
    for shard in list {
        if !shard["SequenceNumberRange"]["EndingSequenceNumber"].is_null() {
            continue;
        }
        let key = |name: &str| {
            shard["HashKeyRange"][name]
                .as_str()
                .and_then(|k| k.parse::<u128>().ok())
        };
        match (shard["ShardId"].as_str(), key("StartingHashKey"), key("EndingHashKey")) {
            (Some(id), Some(start), Some(end)) => shards.push(Shard {
                id: id.to_string(),
                start,
                end,
            }),
            _ => return Err("a shard without ShardId or a valid HashKeyRange".to_string()),
        }
    }
    Ok((shards, next))
}

/// The open shards, sorted by hash key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMap {
    shards: Vec<Shard>,
    /// Counts the maps a target fetched: aggregates remember theirs.
    pub generation: u32,
}

impl ShardMap {
    pub fn new(listed: Vec<Shard>, generation: u32) -> Self {
        // Inserted in place rather than sorted: a sort costs the component ~4 KB.
        let mut shards: Vec<Shard> = Vec::with_capacity(listed.len());
        for shard in listed {
            let at = shards.partition_point(|s| s.start < shard.start);
            shards.insert(at, shard);
        }
        Self { shards, generation }
    }

    /// The index of the shard whose range holds `hash`, if one does.
    pub fn index_of(&self, hash: u128) -> Option<usize> {
        let i = self.shards.partition_point(|s| s.start <= hash).checked_sub(1)?;
        (hash <= self.shards[i].end).then_some(i)
    }

    /// The open shards, by hash key.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The shard with this id.
    pub fn shard(&self, id: &str) -> Option<&Shard> {
        self.shards.iter().find(|s| s.id == id)
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

/// What a target knows of the shards, and when to ask again.
#[derive(Debug, Default)]
pub struct Shards {
    map: Option<ShardMap>,
    generations: u32,
    /// Monotonic time before which a failed ListShards is not asked again.
    retry_at: Option<Duration>,
    /// The fallback to grouping by key was said (it is said once).
    fallback_said: bool,
    /// ListShards failed last time: a later success is said too.
    failing: bool,
}

impl Shards {
    /// Whether ListShards should be asked now.
    pub fn due(&self, now: Duration) -> bool {
        self.map.is_none() && self.retry_at.is_none_or(|at| now >= at)
    }

    /// Takes what ListShards answered at `now`; returns a line for the log
    /// when the way events are grouped changes (the first fallback, a recovery).
    pub fn update(&mut self, listed: Result<Vec<Shard>, String>, now: Duration) -> Option<String> {
        match listed {
            Ok(shards) if !shards.is_empty() => {
                self.generations += 1;
                self.map = Some(ShardMap::new(shards, self.generations));
                self.retry_at = None;
                let recovered = std::mem::replace(&mut self.failing, false);
                recovered.then(|| "aggregation: ListShards works again, aggregating by shard".to_string())
            }
            failed => {
                let why = failed
                    .err()
                    .unwrap_or_else(|| "the stream has no open shard".to_string());
                self.map = None;
                self.retry_at = Some(now + RETRY_AFTER);
                self.failing = true;
                let first = !std::mem::replace(&mut self.fallback_said, true);
                first.then(|| {
                    format!(
                        "aggregation: ListShards failed ({why}); aggregating by partition key instead \
                         of by shard until it works (needs kinesis:ListShards; asked again each minute)"
                    )
                })
            }
        }
    }

    /// Whether Kinesis put an aggregate packed for `group` where the map said.
    pub fn expected(&self, group: Group, shard_id: &str) -> bool {
        let Group::Shard { generation, index } = group else {
            // One hash key: wherever it lands holds all of its events.
            return true;
        };
        self.map
            .as_ref()
            .filter(|m| m.generation == generation)
            .and_then(|m| m.shards.get(index as usize))
            .is_some_and(|s| s.id == shard_id)
    }

    /// A put answered from another shard than the map said: the map is
    /// stale unless it was fetched after `generation`. Returns whether it was.
    pub fn invalidate(&mut self, generation: u32) -> bool {
        let stale = self.map.as_ref().is_some_and(|m| m.generation == generation);
        if stale {
            self.map = None;
            self.retry_at = None;
        }
        stale
    }

    pub fn map(&self) -> Option<&ShardMap> {
        self.map.as_ref()
    }

    /// Where an event of hash key `hash` goes: its shard when the map has
    /// one, else its own hash key group.
    pub fn place(&self, hash: u128) -> Placement {
        let group = match self.map.as_ref().and_then(|m| Some((m.generation, m.index_of(hash)?))) {
            Some((generation, index)) => Group::Shard {
                generation,
                index: index as u32,
            },
            None => Group::Key(hash),
        };
        Placement { group, hash_key: hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_open_shards_and_the_next_token() {
        let body = br#"{"Shards":[
            {"ShardId":"shardId-000000000000","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"99"},
             "SequenceNumberRange":{"StartingSequenceNumber":"1","EndingSequenceNumber":"5"}},
            {"ShardId":"shardId-000000000002","HashKeyRange":{"StartingHashKey":"50","EndingHashKey":"340282366920938463463374607431768211455"},
             "SequenceNumberRange":{"StartingSequenceNumber":"6"}},
            {"ShardId":"shardId-000000000001","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"49"},
             "SequenceNumberRange":{"StartingSequenceNumber":"6"}}],
            "NextToken":"t1"}"#;
        let (shards, next) = parse_page(body).unwrap();
        assert_eq!(next.as_deref(), Some("t1"));
        let ids: Vec<&str> = shards.iter().map(|s| &*s.id).collect();
        assert_eq!(ids, ["shardId-000000000002", "shardId-000000000001"]);
        let map = ShardMap::new(shards, 1);
        assert_eq!(map.index_of(0), Some(0));
        assert_eq!(map.index_of(49), Some(0));
        assert_eq!(map.index_of(50), Some(1));
        assert_eq!(map.index_of(u128::MAX), Some(1));
        assert_eq!(map.shard("shardId-000000000001").map(|s| s.end), Some(49));
        for bad in [
            &b"[]"[..],
            br#"{"Shards":{}}"#,
            br#"{"Shards":[{"ShardId":"s"}]}"#,
            b"nope",
        ] {
            assert!(parse_page(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_first_page_names_the_stream_the_next_only_the_token() {
        let name = StreamRef::Name("logs".into());
        assert_eq!(request_body(&name, None), br#"{"StreamName":"logs"}"#);
        let arn = StreamRef::Arn("arn:aws:kinesis:us-east-1:123456789012:stream/logs".into());
        assert_eq!(
            request_body(&arn, None),
            br#"{"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/logs"}"#
        );
        assert_eq!(request_body(&arn, Some("a\"b")), br#"{"NextToken":"a\"b"}"#);
    }

    #[test]
    fn a_gap_in_the_map_groups_by_hash_key() {
        let shard = |id: &str, start, end| Shard {
            id: id.into(),
            start,
            end,
        };
        let mut shards = Shards::default();
        shards.update(Ok(vec![shard("a", 0, 9), shard("b", 20, u128::MAX)]), Duration::ZERO);
        let a = shards.place(5).group;
        assert_eq!(
            a,
            Group::Shard {
                generation: 1,
                index: 0
            }
        );
        assert!(shards.expected(a, "a") && !shards.expected(a, "b"));
        assert_eq!(shards.place(15).group, Group::Key(15));
        assert!(shards.expected(Group::Key(15), "b"), "one key: anywhere is right");
    }

    #[test]
    fn a_failure_is_said_once_and_asked_again_after_a_while() {
        let mut shards = Shards::default();
        assert!(shards.due(Duration::ZERO));
        let said = shards.update(Err("AccessDeniedException: no".into()), Duration::ZERO);
        assert!(said.unwrap().contains("AccessDeniedException: no"));
        assert!(!shards.due(RETRY_AFTER - Duration::from_millis(1)));
        assert!(shards.due(RETRY_AFTER));
        assert_eq!(shards.update(Err("again".into()), RETRY_AFTER), None, "said once");
        let ok = vec![Shard {
            id: "s".into(),
            start: 0,
            end: u128::MAX,
        }];
        assert!(
            shards
                .update(Ok(ok.clone()), RETRY_AFTER * 2)
                .unwrap()
                .contains("works again")
        );
        assert!(!shards.due(RETRY_AFTER * 100), "a good map is kept");
        assert!(!shards.invalidate(0), "an older generation's mismatch changes nothing");
        assert!(shards.invalidate(shards.map().unwrap().generation));
        assert!(shards.due(RETRY_AFTER * 2));
        assert_eq!(shards.update(Ok(ok), RETRY_AFTER * 2), None);
    }
}
