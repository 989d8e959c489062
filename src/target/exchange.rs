//! One PutRecords attempt: the records it carries, the signed request, and
//! what its answer (or its failure) means for each record.

use crate::aggregate::{self, Aggregate};
use crate::config::TargetConfig;
use crate::encode::{Protocol, PutRecordsEncoder, Trailers, Unsealed, Wire};
use crate::endpoint::Scheme;
use crate::record::Record;
use crate::report::{Failure, Origin, codes};
use crate::response::{self, PutRecordsResponse, RecordResult};
use crate::send::{Exchanged, HttpRequest, Method};
use crate::sign::Signer;
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// What one Kinesis record of a request carries.
pub(super) enum Entry {
    /// One event, sent as it is.
    Plain(Record),
    /// Events of one shard, sent as one KPL aggregate: its outcome is each
    /// one's. Boxed: a lane holds many plain entries, and an aggregate is large.
    Packed(Box<Aggregate>),
}

impl Entry {
    /// An aggregate of one event is sent plain.
    pub fn new(mut aggregate: Aggregate) -> Self {
        match aggregate.take_single() {
            Some(record) => Entry::Plain(record),
            None => Entry::Packed(Box::new(aggregate)),
        }
    }

    /// Its events copy their bytes out of their batch buffers.
    pub fn own_data(&mut self) {
        match self {
            Entry::Plain(record) => record.data.own(),
            Entry::Packed(a) => a.own_data(),
        }
    }

    /// Events it carries.
    pub fn events(&self) -> usize {
        match self {
            Entry::Plain(_) => 1,
            Entry::Packed(a) => a.len(),
        }
    }

    /// How it goes on the wire: an aggregate is pinned to its first
    /// event's shard by `ExplicitHashKey`.
    fn on_wire(&self) -> OnWire<'_> {
        let explicit_hash_key = match self {
            Entry::Plain(_) => None,
            Entry::Packed(a) => Some(aggregate::decimal(a.placement().hash_key)),
        };
        OnWire {
            entry: self,
            explicit_hash_key,
        }
    }
}

/// An entry as a request carries it. An aggregate is encoded for each
/// attempt, straight into the body where the protocol carries raw bytes
/// (CBOR).
struct OnWire<'a> {
    entry: &'a Entry,
    /// An aggregate's hash key in decimal.
    explicit_hash_key: Option<String>,
}

/// A plain entry goes as its record does; an aggregate is built.
impl Wire for OnWire<'_> {
    fn data(&self) -> Unsealed<'_> {
        match self.entry {
            Entry::Plain(record) => record.data(),
            Entry::Packed(a) => {
                let mut out = Vec::with_capacity(a.encoded_len());
                let protobuf = a.encode_unsealed_into(&mut out);
                (Cow::Owned(out), Some(protobuf))
            }
        }
    }
    fn data_len(&self) -> usize {
        match self.entry {
            Entry::Plain(record) => record.data_len(),
            Entry::Packed(a) => a.encoded_len(),
        }
    }
    fn write_data(&self, out: &mut Vec<u8>, trailers: &mut Trailers) {
        match self.entry {
            Entry::Plain(record) => record.write_data(out, trailers),
            Entry::Packed(a) => trailers.md5_after(a.encode_unsealed_into(out)),
        }
    }
    fn partition_key(&self) -> Option<&str> {
        match self.entry {
            Entry::Plain(record) => record.partition_key(),
            Entry::Packed(a) => a.partition_key(),
        }
    }
    fn explicit_hash_key(&self) -> Option<&str> {
        self.explicit_hash_key.as_deref()
    }
}

/// The PutRecords body for these entries, in order.
pub(super) fn body(encoder: &PutRecordsEncoder, items: &[Waiting]) -> Vec<u8> {
    let records: Vec<OnWire> = items.iter().map(|w| w.entry.on_wire()).collect();
    encoder.encode(&records)
}

/// A Kinesis record on its way, with what happened to it so far.
pub(super) struct Waiting {
    pub entry: Entry,
    /// Its hash key, which finds its shard's lane (0 where one lane holds all).
    pub hash: u128,
    /// Data + partition key bytes, as Kinesis counts them against its limits.
    pub size: usize,
    /// Attempts made so far.
    pub attempts: u32,
    /// Monotonic time of the first attempt, for `retry_max_duration`.
    pub first_attempt: Option<Duration>,
    /// The last retryable failure, reported if its time runs out. Boxed:
    /// most records that wait never failed.
    pub failure: Option<Box<Failure>>,
    /// The last attempt may have landed it: re-sending may duplicate.
    pub ambiguous: bool,
    /// Some attempt so far may have landed it: a final failure says so.
    pub maybe_delivered: bool,
}

impl Waiting {
    /// A record before its first attempt.
    pub fn new(entry: Entry, hash: u128, size: usize) -> Self {
        Self {
            entry,
            hash,
            size,
            attempts: 0,
            first_attempt: None,
            failure: None,
            ambiguous: false,
            maybe_delivered: false,
        }
    }
}

/// Records that go out together in one request.
pub(super) struct Outbound {
    pub items: Vec<Waiting>,
}

/// One result per record of an attempt, and whether its failure was
/// ambiguous. Deliveries borrow their shard id and sequence number from the
/// answer.
pub(super) struct Attempted<'a> {
    pub results: Vec<RecordResult<'a>>,
    pub ambiguous: bool,
    /// The request failed as a whole (an error status, no connection, no
    /// answer): the stream, not one shard, said no.
    pub whole: bool,
}

impl Attempted<'_> {
    /// The same failure for each of `sent` records.
    pub fn failed(sent: usize, failure: Failure, ambiguous: bool) -> Self {
        Self {
            results: vec![RecordResult::Failed(failure); sent],
            ambiguous,
            whole: true,
        }
    }
}

/// Reads how an exchange of `sent` records, in `protocol`, ended.
pub(super) fn read(protocol: Protocol, sent: usize, exchanged: &Exchanged) -> Attempted<'_> {
    match exchanged {
        Ok(answer) => match response::parse_in(
            protocol,
            answer.status,
            answer.error_type.as_deref(),
            &answer.body,
            sent,
        ) {
            PutRecordsResponse::Records(results) => Attempted {
                results,
                ambiguous: false,
                whole: false,
            },
            PutRecordsResponse::RequestFailed(f) => Attempted::failed(sent, f, false),
        },
        Err(e) => {
            let failure = Failure {
                code: e.code.to_string(),
                message: e.message.clone(),
                origin: Origin::Transport,
                // The host's outbound policy will not change its mind.
                retryable: e.code != codes::HTTP_REQUEST_DENIED,
                maybe_delivered: false,
            };
            Attempted::failed(sent, failure, e.ambiguous)
        }
    }
}

/// The Kinesis request for `body` (`operation`: PutRecords, ListShards) in
/// `protocol`, signed at `now`.
pub(super) fn signed_request<'a>(
    config: &'a TargetConfig,
    signer: &Signer,
    (operation, protocol): (&str, Protocol),
    body: Vec<u8>,
    now: SystemTime,
) -> Result<HttpRequest<'a>, Failure> {
    let scheme = match config.endpoint.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let base = [("content-type", protocol.content_type()), ("x-amz-target", operation)];
    let added = signer
        .sign(scheme, &config.endpoint.authority, &base, &body, now)
        .map_err(|message| Failure::target(codes::SIGNING_ERROR, message, false))?;
    let mut headers: Vec<(String, String)> = base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    headers.extend(added);
    Ok(HttpRequest {
        method: Method::Post,
        endpoint: &config.endpoint,
        path: "/",
        headers,
        body,
        timeout: config.timeout,
    })
}

impl Outbound {
    /// Events it carries.
    pub fn events(&self) -> usize {
        self.items.iter().map(|w| w.entry.events()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Group, Placement};
    use crate::encode::StreamRef;

    fn packed() -> (Aggregate, Waiting) {
        packed_of(7, 300)
    }

    /// An aggregate of two events, the second of `bytes` bytes, pinned to `hash_key`.
    fn packed_of(hash_key: u128, bytes: usize) -> (Aggregate, Waiting) {
        let placement = Placement {
            group: Group::Key(hash_key),
            hash_key,
        };
        let mut aggregate = Aggregate::new(Record::new(1, b"first".to_vec()), "pk", placement, None);
        let data: Vec<u8> = (0..bytes).map(|i| (i as u128 * 13 + hash_key) as u8).collect();
        aggregate.push(Record::new(2, data), "pk", hash_key);
        let entry = Entry::new(aggregate.clone());
        (aggregate, Waiting::new(entry, hash_key, 0))
    }

    /// Sizes of the aggregates of [`many_aggregates`]: either side of MD5's
    /// block and padding edges, and more than four, so lanes take a second
    /// message.
    const MANY: [usize; 9] = [300, 40, 41, 100_000, 0, 103, 5_000, 64, 51_200];

    /// Aggregates of the [`MANY`] sizes, and the entries of a request that
    /// carries them with a plain record fourth.
    fn many_aggregates() -> (Vec<Aggregate>, Vec<Waiting>) {
        let (aggregates, mut items): (Vec<Aggregate>, Vec<Waiting>) = MANY
            .iter()
            .enumerate()
            .map(|(i, &n)| packed_of(i as u128 + 1, n))
            .unzip();
        items.insert(3, Waiting::new(Entry::Plain(Record::new(9, b"plain".to_vec())), 0, 0));
        (aggregates, items)
    }

    /// Each record's data in a body of [`many_aggregates`] is its own:
    /// the plain record's bytes, each aggregate's `encode()`.
    fn assert_many_aggregates(mut data: Vec<Vec<u8>>, aggregates: &[Aggregate]) {
        assert_eq!(data.len(), aggregates.len() + 1);
        assert_eq!(data.remove(3), b"plain");
        for (i, (got, aggregate)) in data.iter().zip(aggregates).enumerate() {
            assert_eq!(got, &aggregate.encode(), "aggregate {i} of {} bytes", MANY[i]);
        }
    }

    #[test]
    fn a_cbor_body_of_many_aggregates_carries_each_with_the_md5_of_its_own_protobuf() {
        let (aggregates, items) = many_aggregates();
        let encoder = PutRecordsEncoder::with_protocol(Protocol::Cbor, &StreamRef::Name("s".into()), "pk", None);
        let body = body(&encoder, &items);
        let d = &mut minicbor::Decoder::new(&body);
        d.map().unwrap();
        d.str().unwrap();
        d.str().unwrap();
        d.str().unwrap();
        assert_eq!(d.array().unwrap(), Some(items.len() as u64));
        let mut data = Vec::new();
        for _ in 0..items.len() {
            let entries = d.map().unwrap().unwrap();
            assert_eq!(d.str().unwrap(), "Data");
            data.push(d.bytes().unwrap().to_vec());
            for _ in 0..entries * 2 - 2 {
                d.skip().unwrap();
            }
        }
        assert_many_aggregates(data, &aggregates);
    }

    #[test]
    fn a_json_body_of_many_aggregates_carries_each_with_the_md5_of_its_own_protobuf() {
        let (aggregates, items) = many_aggregates();
        let encoder = PutRecordsEncoder::new(&StreamRef::Name("s".into()), "pk", None);
        let body: serde_json::Value = serde_json::from_slice(&body(&encoder, &items)).unwrap();
        let data = body["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                base64_simd::STANDARD
                    .decode_to_vec(r["Data"].as_str().unwrap())
                    .unwrap()
            })
            .collect();
        assert_many_aggregates(data, &aggregates);
    }

    #[test]
    fn a_cbor_body_carries_the_aggregate_it_wrote_in_place_byte_for_byte() {
        let (aggregate, waiting) = packed();
        let encoder = PutRecordsEncoder::with_protocol(Protocol::Cbor, &StreamRef::Name("s".into()), "pk", None);
        let body = body(&encoder, std::slice::from_ref(&waiting));
        let d = &mut minicbor::Decoder::new(&body);
        d.map().unwrap();
        assert_eq!((d.str().unwrap(), d.str().unwrap()), ("StreamName", "s"));
        assert_eq!(d.str().unwrap(), "Records");
        d.array().unwrap();
        d.map().unwrap();
        assert_eq!(d.str().unwrap(), "Data");
        assert_eq!(d.bytes().unwrap(), aggregate.encode());
        assert_eq!(d.str().unwrap(), "PartitionKey");
        d.str().unwrap();
        assert_eq!((d.str().unwrap(), d.str().unwrap()), ("ExplicitHashKey", "7"));
        assert_eq!(d.position(), body.len());
    }

    #[test]
    fn a_json_body_carries_the_same_aggregate_in_base64() {
        let (aggregate, waiting) = packed();
        let encoder = PutRecordsEncoder::new(&StreamRef::Name("s".into()), "pk", None);
        let body: serde_json::Value = serde_json::from_slice(&body(&encoder, &[waiting])).unwrap();
        let data = base64_simd::STANDARD
            .decode_to_vec(body["Records"][0]["Data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, aggregate.encode());
        assert_eq!(body["Records"][0]["ExplicitHashKey"], "7");
    }
}
