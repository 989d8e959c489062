//! One PutRecords attempt: the records it carries, the signed request, and
//! what its answer (or its failure) means for each record.

use crate::batch::{Batch, Record};
use crate::config::TargetConfig;
use crate::encode::{CONTENT_TYPE, PUT_RECORDS_TARGET};
use crate::endpoint::Scheme;
use crate::report::{Failure, Origin, codes};
use crate::response::{self, PutRecordsResponse, RecordResult};
use crate::send::{Exchanged, HttpRequest, Method};
use crate::sign::Signer;
use std::time::{Duration, SystemTime};

/// A record on its way, with what happened to it last time.
pub(super) struct Waiting {
    pub record: Record,
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

/// Reads how an exchange of `sent` records ended.
pub(super) fn read(sent: usize, exchanged: Exchanged) -> Attempted {
    match exchanged {
        Ok(answer) => match response::parse(answer.status, answer.error_type.as_deref(), &answer.body, sent) {
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

/// The PutRecords request for `body`, signed at `now`.
pub(super) fn signed_request<'a>(
    config: &'a TargetConfig,
    signer: &Signer,
    body: Vec<u8>,
    now: SystemTime,
) -> Result<HttpRequest<'a>, Failure> {
    let scheme = match config.endpoint.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let base = [("content-type", CONTENT_TYPE), ("x-amz-target", PUT_RECORDS_TARGET)];
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
    /// A batch's records on their first attempt.
    pub fn fresh(batch: Batch) -> Self {
        Self {
            items: batch
                .records
                .into_iter()
                .map(|record| Waiting {
                    record,
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
