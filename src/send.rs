//! Sending: the HTTP exchange, behind a trait so the same delivery logic runs
//! inside wasmtime (over `wasi:http`) and natively in tests and benchmarks,
//! and `exchange_blocking`, the one way of sending that waits.
//!
//! Exchanges are started and then advanced without blocking, so several
//! PutRecords requests can be in flight at once; only [`Transport::wait`]
//! blocks, and only as long as it is told.

use crate::endpoint::Endpoint;
use std::time::{Duration, SystemTime};

/// HTTP methods the component uses: PutRecords and STS are POSTs, the
/// instance metadata service wants a PUT for its token and GETs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

/// A request ready to go: a signed PutRecords request, or a credential
/// provider's call.
#[derive(Debug)]
pub struct HttpRequest<'a> {
    pub method: Method,
    pub endpoint: &'a Endpoint,
    /// Path and query; `/` for Kinesis and STS.
    pub path: &'a str,
    /// Lowercase names; never `host`, `connection` or `keep-alive`.
    pub headers: Vec<(String, String)>,
    /// Owned: the exchange keeps writing it after `start` returns.
    pub body: Vec<u8>,
    /// Longest wait for any one step: connect, a write, the first byte, the next bytes.
    pub timeout: Duration,
}

/// The parts of an answer delivery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// The `x-amzn-ErrorType` header, when present.
    pub error_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why an exchange produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// One of `report::codes`: `ConnectionError`, `Timeout`, `HttpRequestDenied`.
    pub code: &'static str,
    pub message: String,
    /// True when the request may have reached Kinesis (records may have landed).
    pub ambiguous: bool,
}

/// How an exchange ended.
pub type Exchanged = Result<HttpResponse, TransportError>;

/// Starts exchanges and advances them without blocking.
pub trait Transport {
    /// One exchange in progress.
    type Exchange;

    /// Hands the request to the host and starts writing it; never waits.
    fn start(&mut self, request: HttpRequest<'_>) -> Result<Self::Exchange, TransportError>;

    /// Moves the exchange on as far as it can without waiting; `Some` once it ended.
    fn progress(&mut self, exchange: &mut Self::Exchange) -> Option<Exchanged>;

    /// Blocks until one of `exchanges` can move on, one of them times out, or
    /// `max` has passed.
    fn wait(&mut self, exchanges: &[&Self::Exchange], max: Duration);
}

/// Where `debug.status` lines go: the host's log (SPEC 6).
pub trait Log {
    /// One line about `target`; callers never put credentials in it.
    fn log(&self, target: &str, line: &str);
}

/// Time, for signatures (wall clock) and for backoff and timeouts (monotonic).
pub trait Clock {
    fn now(&self) -> SystemTime;
    /// Monotonic time since an arbitrary origin.
    fn monotonic(&self) -> Duration;
}

/// Starts `request` and waits for its end: each step is bounded by the
/// request's timeout (the transport enforces it), the whole by three of them.
/// For one-shot calls the caller cannot go on without (credential providers);
/// PutRecords and ListShards are advanced without waiting instead.
pub(crate) fn exchange_blocking<T: Transport, C: Clock>(
    transport: &mut T,
    clock: &C,
    request: HttpRequest<'_>,
) -> Result<HttpResponse, TransportError> {
    let deadline = clock.monotonic() + request.timeout * 3;
    let mut exchange = transport.start(request)?;
    loop {
        if let Some(ended) = transport.progress(&mut exchange) {
            return ended;
        }
        let now = clock.monotonic();
        if now >= deadline {
            return Err(TransportError {
                code: crate::report::codes::TIMEOUT,
                message: "no answer in time".to_string(),
                ambiguous: false,
            });
        }
        transport.wait(&[&exchange], deadline - now);
    }
}
