//! What an embedder chooses: isolation limits, outbound policy, TLS roots,
//! the HTTP client, and where the component's debug lines go.

use crate::outbound::OutboundPolicy;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How tenants are isolated. The defaults suit an edge host running a few
/// targets; see README "Embedding in your own host".
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Linear memory one instance may grow to (default 64 MiB). Growing past
    /// it stops that instance (`MemoryLimitExceeded`), not the process.
    pub memory_limit: usize,
    /// Wall-clock budget of `configure`, `push` and `stats` (default 30 s:
    /// a push may wait on a credential provider); `poll` gets its wait on top.
    pub call_budget: Duration,
    /// Budget of `flush`, which waits on the network and retries (default 10 min).
    pub flush_budget: Duration,
    /// `Some(n)`: wasmtime's pooling allocator with slots for `n` instances,
    /// for hosts with many tenants; `None`: allocate on demand.
    pub pooling: Option<u32>,
    /// What tenants may reach (default: their configured endpoint).
    pub outbound: OutboundPolicy,
    /// A PEM file of extra CA certificates trusted for `https`, besides the platform's roots.
    pub extra_ca: Option<PathBuf>,
    /// The HTTP client for requests the outbound policy allowed (`None`,
    /// the default: the built-in HTTP/1.1 client over TCP and rustls).
    pub transport: Option<Transport>,
    /// Where the component's debug lines (`debug.status`) go (`None`, the
    /// default: stderr, as `[debug] target NAME: LINE`).
    pub debug_log: Option<DebugLog>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            memory_limit: 64 << 20,
            call_budget: Duration::from_secs(30),
            flush_budget: Duration::from_secs(600),
            pooling: None,
            outbound: OutboundPolicy::ConfiguredEndpoints,
            extra_ca: None,
            transport: None,
            debug_log: None,
        }
    }
}

/// What a [`Transport`] returns: the response, and a future that ends with the exchange.
pub type Answered = Box<dyn Future<Output = Result<crate::send::Sent, wasmtime_wasi_http::Error>> + Send>;

/// An embedder's own HTTP client ([`RuntimeOptions::transport`]): a proxy
/// client, an in-process service, or a benchmark's instant answer. It sees
/// only requests the outbound policy allowed.
///
/// ```
/// use kinesis_host::{RuntimeOptions, Transport};
/// let refuse_all = Transport::new(|_request| {
///     Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
/// });
/// let options = RuntimeOptions { transport: Some(refuse_all), ..RuntimeOptions::default() };
/// assert!(options.transport.is_some());
/// ```
#[derive(Clone)]
pub struct Transport(Arc<SendFn>);

/// What a [`Transport`] calls for each request.
type SendFn = dyn Fn(http::Request<wasmtime_wasi_http::WasiBody>) -> Answered + Send + Sync;

impl Transport {
    /// A transport that sends each request with `send`.
    pub fn new(send: impl Fn(http::Request<wasmtime_wasi_http::WasiBody>) -> Answered + Send + Sync + 'static) -> Self {
        Self(Arc::new(send))
    }

    pub(crate) fn send(&self, request: http::Request<wasmtime_wasi_http::WasiBody>) -> Answered {
        (self.0)(request)
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport(..)")
    }
}

/// Receives the component's debug lines ([`RuntimeOptions::debug_log`]):
/// the target's name, then the line.
///
/// ```
/// use kinesis_host::{DebugLog, RuntimeOptions};
/// let log = DebugLog::new(|target, line| println!("{target}: {line}"));
/// let options = RuntimeOptions { debug_log: Some(log), ..RuntimeOptions::default() };
/// assert!(options.debug_log.is_some());
/// ```
#[derive(Clone)]
pub struct DebugLog(Arc<LogFn>);

/// What a [`DebugLog`] calls: `(target, line)`.
type LogFn = dyn Fn(&str, &str) + Send + Sync;

impl DebugLog {
    /// Lines go to `log(target, line)`.
    pub fn new(log: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(log))
    }

    pub(crate) fn write(&self, target: &str, line: &str) {
        (self.0)(target, line)
    }
}

impl std::fmt::Debug for DebugLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DebugLog(..)")
    }
}
