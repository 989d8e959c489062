//! One PutRecords attempt: the records it carries, the signed request, and
//! what its answer (or its failure) means for each record.

use crate::aggregate::{self, Aggregate};
use crate::batch::{Batch, Record};
use crate::config::TargetConfig;
use crate::encode::{Outgoing, Protocol, PutRecordsEncoder};
use crate::endpoint::Scheme;
use crate::report::{Failure, Origin, codes};
use crate::response::{self, PutRecordsResponse, RecordResult};
use crate::send::{Exchanged, HttpRequest, Method};
use crate::sign::Signer;
use std::time::{Duration, SystemTime};

/// What one Kinesis record of a request carries.
pub(super) enum Entry {
    /// One event, sent as it is.
    Plain(Record),
    /// Events of one shard, sent as one KPL aggregate: its outcome is each one's.
    Packed(Aggregate),
}

impl Entry {
    /// An aggregate of one event is sent plain.
    pub fn new(mut aggregate: Aggregate) -> Self {
        match aggregate.take_single() {
            Some(record) => Entry::Plain(record),
            None => Entry::Packed(aggregate),
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

/// A Kinesis record on its way, with what happened to it last time.
pub(super) struct Waiting {
    pub entry: Entry,
    /// The last retryable failure, reported if the retry budget runs out.
    pub failure: Option<Failure>,
    /// The last attempt may have landed it: re-sending may duplicate.
    pub ambiguous: bool,
    /// Some attempt so far may have landed it: a final failure says so.
    pub maybe_delivered: bool,
}

/// Records that go out together in one request.
pub(super) struct Outbound {
    pub items: Vec<Waiting>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Monotonic time of the first attempt, for `retry_max_duration`.
    pub first_attempt: Option<Duration>,
    /// Monotonic time before which a retry must not start.
    pub not_before: Duration,
}

/// One result per record of an attempt, and whether its failure was ambiguous.
pub(super) struct Attempted {
    pub results: Vec<RecordResult>,
    pub ambiguous: bool,
}

impl Attempted {
    /// The same failure for each of `sent` records.
    pub fn failed(sent: usize, failure: Failure, ambiguous: bool) -> Self {
        Self {
            results: vec![RecordResult::Failed(failure); sent],
            ambiguous,
        }
    }
}

/// Reads how an exchange of `sent` records, in `protocol`, ended.
pub(super) fn read(protocol: Protocol, sent: usize, exchanged: Exchanged) -> Attempted {
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
            },
            PutRecordsResponse::RequestFailed(f) => Attempted::failed(sent, f, false),
        },
        Err(e) => {
            let failure = Failure {
                code: e.code.to_string(),
                message: e.message,
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
    /// Records of an earlier request for another attempt.
    pub fn again(items: Vec<Waiting>, attempts: u32, first_attempt: Duration, not_before: Duration) -> Self {
        Self {
            items,
            attempts,
            first_attempt: Some(first_attempt),
            not_before,
        }
    }

    /// Events it carries.
    pub fn events(&self) -> usize {
        self.items.iter().map(|w| w.entry.events()).sum()
    }

    /// A batch's records on their first attempt.
    pub fn fresh(batch: Batch) -> Self {
        let plain = batch.records.into_iter().map(Entry::Plain);
        let packed = batch.aggregates.into_iter().map(Entry::new);
        Self {
            items: plain
                .chain(packed)
                .map(|entry| Waiting {
                    entry,
                    failure: None,
                    ambiguous: false,
                    maybe_delivered: false,
                })
                .collect(),
            attempts: 0,
            first_attempt: None,
            not_before: Duration::ZERO,
        }
    }
}
