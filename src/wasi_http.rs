//! `Transport` and `Clock` over WASI 0.2: the host performs the exchange
//! through `wasi:http/outgoing-handler`; the component never opens sockets.

use crate::endpoint::Scheme;
use crate::report::codes;
use crate::send::{Clock, HttpRequest, HttpResponse, Transport, TransportError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme as WasiScheme,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{OutputStream, StreamError};

/// Sends requests through the host's `wasi:http/outgoing-handler`.
#[derive(Debug, Default)]
pub struct WasiHttp;

/// Wall clock and monotonic sleep from `wasi:clocks`.
#[derive(Debug, Default)]
pub struct WasiClock;

impl Clock for WasiClock {
    fn now(&self) -> SystemTime {
        let t = wall_clock::now();
        UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds)
    }

    fn sleep(&self, duration: Duration) {
        monotonic_clock::subscribe_duration(duration.as_nanos() as u64).block();
    }
}

impl Transport for WasiHttp {
    fn send(&mut self, request: &HttpRequest<'_>) -> Result<HttpResponse, TransportError> {
        let deadline = Deadline::after(request.timeout);
        let outgoing = build_request(request)?;
        let body = outgoing
            .body()
            .map_err(|()| build_error("request body already taken"))?;
        let timeout_ns = request.timeout.as_nanos() as u64;
        let options = RequestOptions::new();
        // Hosts may not support every timeout; what they refuse, the deadline covers.
        let _ = options.set_connect_timeout(Some(timeout_ns));
        let _ = options.set_first_byte_timeout(Some(timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(timeout_ns));
        // Hand the request over before writing: the host streams the body out
        // as we write it, so a body larger than its pipe cannot stall.
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| from_error_code(&e, false))?;
        let wrote_all = write_body(&body, request.body, &deadline);
        // Finish without `flush()`: flushing a large body fails on some hosts.
        let finished = OutgoingBody::finish(body, None);
        let response = wait_response(&future, &deadline)?;
        if let Err(e) = finished {
            return Err(from_error_code(&e, true));
        }
        if let Err(message) = wrote_all {
            return Err(TransportError {
                code: codes::CONNECTION_ERROR,
                message,
                ambiguous: true,
            });
        }
        read_response(response, &deadline)
    }
}

fn build_request(request: &HttpRequest<'_>) -> Result<OutgoingRequest, TransportError> {
    let mut list: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    list.push((
        "content-length".to_string(),
        request.body.len().to_string().into_bytes(),
    ));
    let headers = Fields::from_list(&list).map_err(|e| build_error(&format!("header rejected by host: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let scheme = match request.endpoint.scheme {
        Scheme::Http => WasiScheme::Http,
        Scheme::Https => WasiScheme::Https,
    };
    let ok = outgoing.set_method(&Method::Post).is_ok()
        && outgoing.set_scheme(Some(&scheme)).is_ok()
        && outgoing.set_authority(Some(&request.endpoint.authority)).is_ok()
        && outgoing.set_path_with_query(Some("/")).is_ok();
    if ok {
        Ok(outgoing)
    } else {
        Err(build_error("host refused the request line"))
    }
}

fn build_error(message: &str) -> TransportError {
    TransportError {
        code: codes::CONNECTION_ERROR,
        message: message.to_string(),
        ambiguous: false,
    }
}

/// Writes the whole body, waiting for the host's permits; gives up at the deadline.
fn write_body(body: &OutgoingBody, mut rest: &[u8], deadline: &Deadline) -> Result<(), String> {
    let stream: OutputStream = body
        .write()
        .map_err(|()| "request body stream unavailable".to_string())?;
    let ready = stream.subscribe();
    while !rest.is_empty() {
        match stream.check_write() {
            Ok(0) => {
                if !deadline.wait(&ready) {
                    return Err("timed out writing the request body".to_string());
                }
            }
            Ok(permit) => {
                let n = rest.len().min(usize::try_from(permit).unwrap_or(usize::MAX));
                stream
                    .write(&rest[..n])
                    .map_err(|e| stream_error("writing the request body", e))?;
                rest = &rest[n..];
            }
            Err(e) => return Err(stream_error("writing the request body", e)),
        }
    }
    Ok(())
}

fn wait_response(future: &FutureIncomingResponse, deadline: &Deadline) -> Result<IncomingResponse, TransportError> {
    let ready = future.subscribe();
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(e))) => return Err(from_error_code(&e, true)),
            Some(Err(())) => return Err(build_error("response already taken")),
            None if !deadline.wait(&ready) => {
                return Err(TransportError {
                    code: codes::TIMEOUT,
                    message: "no answer within the timeout".into(),
                    ambiguous: true,
                });
            }
            None => {}
        }
    }
}

fn read_response(response: IncomingResponse, deadline: &Deadline) -> Result<HttpResponse, TransportError> {
    let status = response.status();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .into_iter()
        .next()
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    let incoming = response
        .consume()
        .map_err(|()| build_error("response body already taken"))?;
    let stream = incoming
        .stream()
        .map_err(|()| build_error("response body stream unavailable"))?;
    let ready = stream.subscribe();
    let mut body = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(chunk) if chunk.is_empty() => {
                if !deadline.wait(&ready) {
                    return Err(TransportError {
                        code: codes::TIMEOUT,
                        message: "timed out reading the answer".into(),
                        ambiguous: true,
                    });
                }
            }
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => {
                let message = stream_error("reading the answer", e);
                return Err(TransportError {
                    code: codes::CONNECTION_ERROR,
                    message,
                    ambiguous: true,
                });
            }
        }
    }
    drop(ready);
    drop(stream);
    drop(wasip2::http::types::IncomingBody::finish(incoming));
    Ok(HttpResponse {
        status,
        error_type,
        body,
    })
}

fn stream_error(what: &str, e: StreamError) -> String {
    match e {
        StreamError::Closed => format!("{what}: stream closed"),
        StreamError::LastOperationFailed(err) => match wasip2::http::types::http_error_code(&err) {
            Some(code) => format!("{what}: {code:?}"),
            None => format!("{what}: {}", err.to_debug_string()),
        },
    }
}

/// Maps the host's error to our codes; `sent` says whether bytes may have left.
fn from_error_code(e: &ErrorCode, sent: bool) -> TransportError {
    let (code, ambiguous) = match e {
        ErrorCode::HttpRequestDenied => (codes::HTTP_REQUEST_DENIED, false),
        ErrorCode::ConnectionTimeout | ErrorCode::DnsTimeout => (codes::TIMEOUT, false),
        ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout | ErrorCode::HttpResponseTimeout => {
            (codes::TIMEOUT, sent)
        }
        ErrorCode::ConnectionRefused
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::DnsError(_)
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => (codes::CONNECTION_ERROR, false),
        _ => (codes::CONNECTION_ERROR, sent),
    };
    TransportError {
        code,
        message: format!("{e:?}"),
        ambiguous,
    }
}

/// The longest wait for any single step (connect, a write permit, the first
/// byte, the next bytes), so a slow but moving exchange is not cut short.
struct Deadline {
    idle: Duration,
}

impl Deadline {
    fn after(idle: Duration) -> Self {
        Self { idle }
    }

    /// Waits for `ready` or the idle timeout; false when the timeout came first.
    fn wait(&self, ready: &Pollable) -> bool {
        let timer = monotonic_clock::subscribe_duration(self.idle.as_nanos() as u64);
        poll(&[ready, &timer]).contains(&0)
    }
}
