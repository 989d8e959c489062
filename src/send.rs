//! The HTTP exchange, behind a trait so the same delivery logic runs inside
//! wasmtime (over `wasi:http`) and natively in tests and benchmarks.

use crate::endpoint::Endpoint;
use std::time::{Duration, SystemTime};

/// A signed PutRecords request, ready to go.
#[derive(Debug)]
pub struct HttpRequest<'a> {
    pub endpoint: &'a Endpoint,
    /// Lowercase names; never `host`, `connection` or `keep-alive`.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    /// Applied to connect, first byte and between bytes.
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

/// Sends one request and waits for its answer.
pub trait Transport {
    fn send(&mut self, request: &HttpRequest<'_>) -> Result<HttpResponse, TransportError>;
}

/// Wall-clock time for signatures, and waiting for backoff.
pub trait Clock {
    fn now(&self) -> SystemTime;
    fn sleep(&self, duration: Duration);
}
