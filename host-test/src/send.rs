//! How the host sends a tenant's request once the outbound policy allowed
//! it: TCP, and for `https` TLS with the platform's root certificates plus an
//! optional extra CA file (corporate proxies, local emulators on HTTPS).
//!
//! wasmtime-wasi-http's own sender trusts only its bundled Mozilla roots and
//! takes no extra CA, hence this one; it honours the same per-request
//! timeouts the guest sets (connect, first byte, between bytes).
//!
//! Connections are kept alive and reused ([`Pool`], one per tenant): a new
//! TCP connection per PutRecords request cost more of the host's CPU than
//! the request itself (BENCHMARKS.md "Issue 14 again"), and with `https` each
//! would also be a TLS handshake.

use anyhow::{Context, Result};
use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// No step of an exchange waits longer than this unless the guest says so.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// An idle connection older than this is closed, not reused: shorter than
/// the idle timeouts of AWS endpoints and load balancers, so a request
/// rarely meets a connection the server is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept per endpoint: enough for `max_in_flight`'s default
/// of 4 with room to spare; more are closed once their exchange ends.
const MAX_IDLE_PER_ENDPOINT: usize = 8;

/// A tenant's idle HTTP/1.1 connections, by scheme and authority. Each
/// tenant has its own, so no connection carries two tenants' requests.
#[derive(Clone, Default)]
pub struct Pool(Arc<Mutex<HashMap<Endpoint, Vec<Idle>>>>);

/// `https`, and the authority as the request names it.
type Endpoint = (bool, String);

struct Idle {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

impl Pool {
    /// A connection to `endpoint` that is open and ready, if one is idle.
    fn take(&self, endpoint: &Endpoint) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(endpoint)?;
        // Newest first: the one least likely to have been closed by the server.
        while let Some(Idle { sender, since }) = list.pop() {
            if since.elapsed() < IDLE_TIMEOUT && sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next request to `endpoint` once its exchange
    /// has ended (its answer read to the end); a connection that closes
    /// meanwhile is dropped.
    fn keep(&self, endpoint: Endpoint, mut sender: SendRequest<WasiBody>) {
        let pool = self.clone();
        tokio::spawn(async move {
            if sender.ready().await.is_err() {
                return;
            }
            let mut idle = pool.0.lock().unwrap_or_else(|e| e.into_inner());
            let list = idle.entry(endpoint).or_default();
            list.retain(|i| i.since.elapsed() < IDLE_TIMEOUT && !i.sender.is_closed());
            if list.len() < MAX_IDLE_PER_ENDPOINT {
                list.push(Idle {
                    sender,
                    since: Instant::now(),
                });
            }
        });
    }
}

/// The TLS settings every tenant's `https` requests use: the platform's
/// roots (the bundled Mozilla roots when the platform has none), plus the
/// certificates of `extra_ca` (a PEM file) when given.
pub fn tls_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = extra_ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading CA file {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing CA file {}", path.display()))?;
        anyhow::ensure!(!certs.is_empty(), "CA file {} holds no certificate", path.display());
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("a certificate of {} is not a usable CA", path.display()))?;
        }
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The response, and a future that ends with the connection.
pub type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Sends `request` (absolute URI) over an idle connection of `pool` to its
/// endpoint, or a new one.
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    tls: Arc<rustls::ClientConfig>,
    pool: Pool,
) -> Result<Sent, Error> {
    let timeout = |t: Option<Duration>| t.unwrap_or(DEFAULT_TIMEOUT).max(Duration::from_nanos(1));
    let connect_timeout = timeout(options.and_then(|o| o.connect_timeout));
    let first_byte_timeout = timeout(options.and_then(|o| o.first_byte_timeout));
    let between_bytes_timeout = timeout(options.and_then(|o| o.between_bytes_timeout));

    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let endpoint = (https, authority.as_str().to_string());

    // On the wire the request line carries the path only.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    while let Some(mut sender) = pool.take(&endpoint) {
        match tokio::time::timeout(first_byte_timeout, sender.try_send_request(request)).await {
            Ok(Ok(response)) => {
                pool.keep(endpoint, sender);
                return Ok(answer(response, between_bytes_timeout));
            }
            // Closed before the request went out: it was not sent, so it
            // may go on another connection.
            Ok(Err(mut e)) => match e.take_message() {
                Some(unsent) => request = unsent,
                None => return Err(Error::from(e.into_error())),
            },
            Err(_) => return Err(Error::ConnectionReadTimeout),
        }
    }

    let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let stream: Box<dyn Stream> = if https {
        let name = ServerName::try_from(host.clone()).map_err(|_| Error::HttpRequestUriInvalid)?;
        let tls = tokio_rustls::TlsConnector::from(tls);
        let tls = tokio::time::timeout(connect_timeout, tls.connect(name, tcp))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    // The connection lives in its own task for as long as the pool (or an
    // exchange) holds its sender; dropping the last sender ends it.
    tokio::spawn(conn);
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;
    pool.keep(endpoint, sender);
    Ok(answer(response, between_bytes_timeout))
}

/// The answer, its body failing when no bytes arrive for `between_bytes`.
/// The connection outlives the exchange, so the future that "ends with the
/// connection" ends at once: wasmtime-wasi-http only logs its result, and
/// the exchange's errors reach the guest through the answer body.
fn answer(response: http::Response<Incoming>, between_bytes: Duration) -> Sent {
    let response = response.map(|incoming| {
        TimedBody {
            incoming,
            idle: tokio::time::interval_at(tokio::time::Instant::now() + between_bytes, between_bytes),
        }
        .boxed_unsync()
    });
    (response, Box::new(async { Ok(()) }))
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// An answer body that fails when no bytes arrive for `idle`'s period.
struct TimedBody {
    incoming: Incoming,
    idle: tokio::time::Interval,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.idle.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) if e.is_timeout() => Poll::Ready(Some(Err(Error::HttpResponseTimeout))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.idle.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }
}
