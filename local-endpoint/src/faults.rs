//! Seeded fault injection: the endpoint can misbehave the way Kinesis and
//! the network do, repeatably, so the component's retry and failure paths
//! can be tested against a server that really stores (or doesn't store) the
//! records behind each kind of failure.
//!
//! Every draw comes from one RNG seeded with [`Faults::seed`]. Each
//! authenticated PutRecords takes one number from it to seed its own RNG,
//! which makes all of that request's decisions; so the n-th PutRecords meets
//! the same faults whatever the earlier requests carried. Connections draw
//! from the main RNG as they are accepted (only while
//! [`Faults::refuse_connections`] is above 0). With a client that sends one
//! request at a time, a run repeats exactly.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use http::StatusCode;

use super::api::ApiError;
use super::{State, bump};

/// Faults the endpoint injects, mostly into PutRecords; all fractions are
/// 0.0..=1.0 and drawn from one RNG seeded with `seed`, so a run repeats.
///
/// The default injects nothing. A PutRecords request can meet several
/// faults: it is either failed whole, or processed (minus its throttled
/// records) and then possibly held for `slow_answer`, then either dropped or
/// answered (possibly malformed).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Seeds the RNG, so the same faults hit the same requests in every run.
    pub seed: u64,
    /// Added before handling every request (any operation, after its body
    /// arrived): a slow network or a busy service, without failures.
    pub latency: Duration,
    /// Fraction of the records of each PutRecords answered with a
    /// per-record `ProvisionedThroughputExceededException` (ErrorCode and
    /// ErrorMessage; FailedRecordCount counts them) and not stored: the
    /// partial failure a client must resend, and resend only those.
    pub throttle_records: f64,
    /// Fraction of PutRecords requests failed whole before anything is
    /// stored, with an error drawn from `request_errors` (an empty list
    /// fails nothing): a failure that is safe to retry, or must not be.
    pub fail_requests: f64,
    /// The errors `fail_requests` draws from, uniformly.
    pub request_errors: Vec<RequestError>,
    /// Fraction of connections (any operation) closed right after accept,
    /// before the request is read; nothing is stored. The client sees a
    /// reset or an early end of stream, never an answer.
    pub refuse_connections: f64,
    /// Fraction of PutRecords requests that are processed (records stored)
    /// but answered only after `slow_answer`: set it longer than the
    /// client's timeout and the client gives up on records that did arrive.
    pub slow_answers: f64,
    /// How long a slow answer is held back.
    pub slow_answer: Duration,
    /// Fraction of PutRecords requests processed (records stored) and
    /// answered 200 with a body the client can't trust. The kinds take
    /// turns: the JSON cut in half; valid JSON whose Records array is one
    /// entry short; not JSON at all.
    pub malformed_answers: f64,
    /// Fraction of PutRecords requests processed (records stored) after
    /// which the connection is closed without any answer: the client can't
    /// know the records arrived, and a retry stores them twice.
    pub drop_after_processing: f64,
}

/// A whole-request failure injected by [`Faults::fail_requests`]; the
/// variants mirror how Kinesis fails a call, retryable or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// 500 `InternalFailure`: a service error, retryable.
    InternalFailure500,
    /// 503 `ServiceUnavailable`: the service is overloaded, retryable.
    ServiceUnavailable503,
    /// 400 `LimitExceededException`: a 400 that is still retryable.
    LimitExceeded400,
    /// 400 `ValidationException`: permanent, retrying can't help.
    Validation400,
}

impl RequestError {
    /// HTTP status of the error answer.
    pub fn status(self) -> StatusCode {
        match self {
            RequestError::InternalFailure500 => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::ServiceUnavailable503 => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::LimitExceeded400 | RequestError::Validation400 => StatusCode::BAD_REQUEST,
        }
    }

    /// The `__type` (and `x-amzn-ErrorType`) of the error answer.
    pub fn code(self) -> &'static str {
        match self {
            RequestError::InternalFailure500 => "InternalFailure",
            RequestError::ServiceUnavailable503 => "ServiceUnavailable",
            RequestError::LimitExceeded400 => "LimitExceededException",
            RequestError::Validation400 => "ValidationException",
        }
    }

    fn api_error(self) -> ApiError {
        let message = match self {
            RequestError::InternalFailure500 => "Internal service failure (injected fault).",
            RequestError::ServiceUnavailable503 => "Service unavailable, try again (injected fault).",
            RequestError::LimitExceeded400 => "Rate exceeded for the stream (injected fault).",
            RequestError::Validation400 => "1 validation error detected (injected fault).",
        };
        ApiError {
            status: self.status(),
            code: self.code(),
            message: message.to_owned(),
        }
    }
}

impl Faults {
    /// Checks that every fraction is a number in 0.0..=1.0.
    pub(super) fn check(&self) -> Result<(), String> {
        let fractions = [
            ("throttle_records", self.throttle_records),
            ("fail_requests", self.fail_requests),
            ("refuse_connections", self.refuse_connections),
            ("slow_answers", self.slow_answers),
            ("malformed_answers", self.malformed_answers),
            ("drop_after_processing", self.drop_after_processing),
        ];
        match fractions.iter().find(|(_, f)| !(0.0..=1.0).contains(f)) {
            Some((name, f)) => Err(format!("Faults::{name} must be in 0.0..=1.0, not {f}")),
            None => Ok(()),
        }
    }
}

/// True with probability `p`; draws nothing when `p` is 0, so a fault that
/// is off does not shift the draws of the others.
fn chance(rng: &mut fastrand::Rng, p: f64) -> bool {
    p > 0.0 && rng.f64() < p
}

/// The three malformed bodies, in the order they take turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Malformed {
    CutInHalf,
    WrongRecordCount,
    NotJson,
}

/// The faults in force and the RNG they draw from.
struct Live {
    faults: Faults,
    rng: fastrand::Rng,
    /// Malformed answers drawn so far, to take turns between the kinds.
    malformed: u64,
}

impl Live {
    fn new(faults: Faults) -> Self {
        Live {
            rng: fastrand::Rng::with_seed(faults.seed),
            faults,
            malformed: 0,
        }
    }
}

/// The endpoint's fault state, shared by all connections.
pub(super) struct FaultState(Mutex<Live>);

/// What the server does after a request was handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Delivery {
    /// Hold the answer back this long.
    pub hold: Duration,
    /// Close the connection instead of answering.
    pub drop: bool,
}

/// The faults one PutRecords request meets, drawn when it arrives.
pub(super) struct Plan {
    rng: fastrand::Rng,
    throttle: f64,
    fail: Option<RequestError>,
    slow: Option<Duration>,
    malformed: bool,
    drop: bool,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        FaultState(Mutex::new(Live::new(faults)))
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the faults and reseeds the RNG.
    pub fn set(&self, faults: Faults) {
        *self.live() = Live::new(faults);
    }

    pub fn get(&self) -> Faults {
        self.live().faults.clone()
    }

    pub fn latency(&self) -> Duration {
        self.live().faults.latency
    }

    /// Whether to close a just-accepted connection unread.
    pub fn refuse_connection(&self) -> bool {
        let live = &mut *self.live();
        chance(&mut live.rng, live.faults.refuse_connections)
    }

    /// Draws the faults of one authenticated PutRecords request.
    pub fn plan(&self) -> Plan {
        let live = &mut *self.live();
        let f = &live.faults;
        let mut rng = fastrand::Rng::with_seed(live.rng.u64(..));
        let errors = &f.request_errors;
        let fail = if chance(&mut rng, f.fail_requests) && !errors.is_empty() {
            Some(errors[rng.usize(..errors.len())])
        } else {
            None
        };
        let mut plan = Plan {
            rng,
            throttle: 0.0,
            fail,
            slow: None,
            malformed: false,
            drop: false,
        };
        // A failed request meets nothing else.
        if fail.is_none() {
            plan.throttle = f.throttle_records;
            plan.slow = chance(&mut plan.rng, f.slow_answers).then_some(f.slow_answer);
            plan.drop = chance(&mut plan.rng, f.drop_after_processing);
            // A dropped connection carries no answer to spoil.
            plan.malformed = chance(&mut plan.rng, f.malformed_answers) && !plan.drop;
        }
        plan
    }

    /// The kind of the next malformed answer: they take turns.
    fn next_malformed(&self) -> Malformed {
        let mut live = self.live();
        let kinds = [Malformed::CutInHalf, Malformed::WrongRecordCount, Malformed::NotJson];
        let kind = kinds[(live.malformed % 3) as usize];
        live.malformed += 1;
        kind
    }
}

impl Plan {
    /// Err if the whole request is to fail (counted here), before anything
    /// is parsed or stored.
    pub fn failure(&self, state: &State) -> Result<(), ApiError> {
        match self.fail {
            Some(e) => {
                bump(&state.counters.faults_failed_requests, 1);
                Err(e.api_error())
            }
            None => Ok(()),
        }
    }

    /// Whether the next record of the request is throttled; counted here.
    pub fn throttle_record(&mut self, state: &State) -> bool {
        let throttled = chance(&mut self.rng, self.throttle);
        if throttled {
            bump(&state.counters.faults_throttled_records, 1);
        }
        throttled
    }

    /// Applies the answer faults to a processed request's 200 body.
    pub fn after_processing(&self, state: &State, body: Vec<u8>) -> (Vec<u8>, Delivery) {
        let counters = &state.counters;
        let delivery = Delivery {
            hold: self.slow.unwrap_or_default(),
            drop: self.drop,
        };
        if self.slow.is_some() {
            bump(&counters.faults_slow_answers, 1);
        }
        if self.drop {
            bump(&counters.faults_dropped_connections, 1);
        }
        if !self.malformed {
            return (body, delivery);
        }
        bump(&counters.faults_malformed_answers, 1);
        (malform(state.faults.next_malformed(), body), delivery)
    }
}

/// Spoils a PutRecords answer in one of the ways an answer can't be trusted.
fn malform(kind: Malformed, body: Vec<u8>) -> Vec<u8> {
    match kind {
        Malformed::CutInHalf => body[..body.len() / 2].to_vec(),
        Malformed::WrongRecordCount => {
            let mut json: serde_json::Value = serde_json::from_slice(&body).expect("our own answer is JSON");
            if let Some(records) = json["Records"].as_array_mut() {
                records.pop();
            }
            serde_json::to_vec(&json).expect("JSON values serialize")
        }
        Malformed::NotJson => b"<html><body><h1>200 OK</h1>Request accepted.</body></html>".to_vec(),
    }
}
