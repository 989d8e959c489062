//! Request dispatch, AWS error shapes and helpers shared by the operations.

use std::time::SystemTime;

use http::{HeaderMap, Method, Response, StatusCode, Uri};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cbor::{self, CBOR_1_1};
use super::faults::{Delivery, Plan};
use super::shapes::ErrorBody;
use super::{State, bump, get, now_ms, outage, put, sigv4, streams};

const JSON_1_1: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "Kinesis_20131202.";

/// An AWS error response: HTTP status, `__type` and message.
#[derive(Debug)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// A 400 error with the given AWS code.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

/// Result of an operation: the serialized JSON response body.
pub(super) type OpResult = Result<Vec<u8>, ApiError>;

/// A handled request: the answer, and how the server is to deliver it
/// (injected faults may hold it back or drop it).
pub(super) struct Handled {
    pub response: Response<Vec<u8>>,
    pub delivery: Delivery,
}

/// Handles one HTTP request. Pure apart from the shared state, so tests can
/// call it without a socket.
pub(super) fn handle(state: &State, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Handled {
    bump(&state.counters.requests, 1);
    let mut plan = None;
    let protocol = Protocol::of(headers);
    match dispatch(state, method, uri, headers, body, SystemTime::now(), &mut plan) {
        Ok(json) => {
            let (json, delivery) = match plan {
                Some(plan) => plan.after_processing(state, json),
                None => (json, Delivery::default()),
            };
            Handled {
                response: response(protocol, StatusCode::OK, None, json),
                delivery,
            }
        }
        Err(e) => Handled {
            response: error_response(state, protocol, &e),
            delivery: Delivery::default(),
        },
    }
}

/// How a request is encoded, and so its answer: JSON 1.1 or CBOR.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    Cbor,
}

impl Protocol {
    /// CBOR when the request says so; anything else is answered in JSON.
    fn of(headers: &HeaderMap) -> Self {
        match mime(headers) {
            Some(m) if m.eq_ignore_ascii_case(CBOR_1_1) => Protocol::Cbor,
            _ => Protocol::Json,
        }
    }
}

fn mime(headers: &HeaderMap) -> Option<&str> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    content_type.split(';').next().map(str::trim)
}

/// Response for a body that could not be read whole (e.g. over the size
/// cap), before anything else is looked at.
pub(super) fn body_error(state: &State, status: StatusCode, message: String) -> Response<Vec<u8>> {
    bump(&state.counters.requests, 1);
    let e = ApiError {
        status,
        code: "SerializationException",
        message,
    };
    error_response(state, Protocol::Json, &e)
}

fn error_response(state: &State, protocol: Protocol, e: &ApiError) -> Response<Vec<u8>> {
    bump(&state.counters.error_responses, 1);
    let body = serde_json::to_vec(&ErrorBody {
        kind: e.code,
        message: &e.message,
    })
    .expect("error bodies serialize");
    response(protocol, e.status, Some(e.code), body)
}

/// The answer to a request in `protocol`, from its JSON `body`.
fn response(protocol: Protocol, status: StatusCode, error_type: Option<&str>, body: Vec<u8>) -> Response<Vec<u8>> {
    let (content_type, body) = match protocol {
        Protocol::Json => (JSON_1_1, body),
        Protocol::Cbor => (CBOR_1_1, cbor::from_json(&body)),
    };
    let mut builder = Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header("x-amzn-RequestId", request_id());
    if let Some(code) = error_type {
        builder = builder.header("x-amzn-ErrorType", code);
    }
    builder.body(body).expect("static headers are valid")
}

/// A UUID-shaped request id, unique within the process.
fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{n}:{:?}", SystemTime::now());
    let h = format!("{:x}", md5::compute(seed));
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Runs the operation; an authenticated PutRecords leaves the faults it
/// drew in `plan`, for the answer.
fn dispatch(
    state: &State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    plan: &mut Option<Plan>,
) -> OpResult {
    if method != Method::POST || uri.path() != "/" {
        return Err(ApiError::new(
            "UnknownOperationException",
            format!("Kinesis only serves POST /, not {method} {}", uri.path()),
        ));
    }
    // Authentication comes first, as on AWS: an unsigned request learns
    // nothing about operations or streams.
    if let Err(e) = sigv4::verify(&state.config, method.as_str(), uri, headers, body, now) {
        bump(&state.counters.auth_failures, 1);
        if e.code == "InvalidSignatureException" {
            bump(&state.counters.signature_failures, 1);
        }
        return Err(ApiError::new(e.code, e.message));
    }
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let Some(op) = target.and_then(|t| t.strip_prefix(TARGET_PREFIX)) else {
        return Err(ApiError::new(
            "UnknownOperationException",
            format!("Missing or unknown X-Amz-Target: {target:?}"),
        ));
    };
    let converted;
    let body = match mime(headers) {
        Some(m) if m.eq_ignore_ascii_case(JSON_1_1) => body,
        Some(m) if m.eq_ignore_ascii_case(CBOR_1_1) => {
            converted = cbor::to_json(body)
                .map_err(|e| ApiError::new("SerializationException", format!("Malformed CBOR request body: {e}")))?;
            &converted[..]
        }
        other => {
            return Err(ApiError::new(
                "SerializationException",
                format!("This endpoint speaks {JSON_1_1} and {CBOR_1_1}, got Content-Type {other:?}"),
            ));
        }
    };
    let now_ms = now_ms(now);
    let counters = &state.counters;
    match op {
        "CreateStream" => streams::create_stream(state, parse(body)?, now_ms),
        "DescribeStreamSummary" => streams::describe_stream_summary(state, parse(body)?),
        "ListShards" => {
            outage::gate(state, op)?;
            streams::list_shards(state, parse(body)?)
        }
        "PutRecord" => {
            bump(&counters.put_record_requests, 1);
            outage::gate(state, op)?;
            put::put_record(state, parse(body)?, now_ms)
        }
        "PutRecords" => {
            bump(&counters.put_records_requests, 1);
            // Before the faults are drawn: an outage answers every call
            // alike, and the calls it answers draw nothing.
            outage::gate(state, op)?;
            let plan = plan.insert(state.faults.plan());
            plan.failure(state)?;
            put::put_records(state, parse(body)?, now_ms, plan)
        }
        "GetShardIterator" => get::get_shard_iterator(state, parse(body)?, now_ms),
        "GetRecords" => {
            bump(&counters.get_records_requests, 1);
            get::get_records(state, parse(body)?, now_ms)
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("Operation {op} is not supported by the local endpoint"),
        )),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new("SerializationException", format!("Malformed request body: {e}")))
}

/// Serializes a response body.
pub(super) fn json<T: Serialize>(value: &T) -> OpResult {
    Ok(serde_json::to_vec(value).expect("response shapes serialize"))
}

/// Collects model constraint violations into one ValidationException, in
/// AWS's "N validation errors detected: a; b" style.
#[derive(Default)]
pub(super) struct Violations(Vec<String>);

impl Violations {
    /// Records that the member at `path` (with value `shown`) violates `rule`.
    pub fn add(&mut self, shown: &str, path: &str, rule: &str) {
        self.0.push(format!(
            "Value {shown} at '{path}' failed to satisfy constraint: Member {rule}"
        ));
    }

    /// Records a missing required member.
    pub fn null(&mut self, path: &str) {
        self.add("null", path, "must not be null");
    }

    /// Ok if nothing was recorded, else the ValidationException.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            n => {
                let plural = if n == 1 { "error" } else { "errors" };
                let msg = format!("{n} validation {plural} detected: {}", self.0.join("; "));
                Err(ApiError::new("ValidationException", msg))
            }
        }
    }
}

/// A member value quoted for an error message, cut short if long.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("'{}...'", &value[..cut]),
        None => format!("'{value}'"),
    }
}
