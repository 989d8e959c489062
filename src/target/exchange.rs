//! One PutRecords attempt: the records it carries, the signed request, and
//! what its answer (or its failure) means for each record.

use crate::aggregate::{self, Aggregate};
use crate::config::TargetConfig;
use crate::encode::{Outgoing, Protocol, PutRecordsEncoder};
use crate::endpoint::Scheme;
use crate::record::Record;
use crate::report::{Failure, Origin, codes};
use crate::response::{self, PutRecordsResponse, RecordResult};
use crate::send::{Exchanged, HttpRequest, Method};
use crate::sign::Signer;
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

    /// How it goes on the wire: an aggregate is encoded now, pinned to its
    /// first event's shard by `ExplicitHashKey`.
    fn outgoing(&self) -> Outgoing<'_> {
        match self {
            Entry::Plain(record) => Outgoing {
                data: (&record.data[..]).into(),
                partition_key: record.partition_key.as_deref(),
                explicit_hash_key: None,
            },
            Entry::Packed(a) => Outgoing {
                data: a.encode().into(),
                partition_key: a.partition_key(),
                explicit_hash_key: Some(aggregate::decimal(a.placement().hash_key)),
            },
        }
    }
}

/// The PutRecords body for these entries, in order.
pub(super) fn body(encoder: &PutRecordsEncoder, items: &[Waiting]) -> Vec<u8> {
    let records: Vec<Outgoing> = items.iter().map(|w| w.entry.outgoing()).collect();
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
