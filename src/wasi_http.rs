//! `Transport` and `Clock` over WASI 0.2: the host performs the exchange
//! through `wasi:http/outgoing-handler`; the component never opens sockets.

use crate::endpoint::Scheme;
use crate::report::codes;
use crate::send::{self, Clock, Exchanged, HttpRequest, HttpResponse, Transport, TransportError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme as WasiScheme,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// Sends requests through the host's `wasi:http/outgoing-handler`.
#[derive(Debug, Default)]
pub struct WasiHttp;

/// Wall clock and monotonic time from `wasi:clocks`.
#[derive(Debug, Default)]
pub struct WasiClock;

impl Clock for WasiClock {
    fn now(&self) -> SystemTime {
        let t = wall_clock::now();
        UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(monotonic_clock::now())
    }
}

/// One PutRecords exchange with the host, advanced step by step.
pub struct Exchange {
    stage: Stage,
    /// Longest silence allowed between two steps.
    idle: Duration,
    /// Monotonic time of the last step.
    moved_at: Duration,
    /// Whether any request bytes were handed over: from then on a failure is ambiguous.
    sent_any: bool,
    /// Set by a step that moved bytes: the idle timer restarts.
    moved: bool,
}

enum Stage {
    /// Writing the body; the response future may already resolve (an early error).
    Writing {
        future: FutureIncomingResponse,
        // Field order is drop order: the stream is a child of the body.
        stream: OutputStream,
        body: OutgoingBody,
        data: Vec<u8>,
        written: usize,
    },
    /// Body finished, or its write failed: either way the future tells
    /// what came of it (an answer, or the host's error).
    Waiting {
        future: FutureIncomingResponse,
    },
    Reading {
        status: u16,
        error_type: Option<String>,
        stream: InputStream,
        incoming: IncomingBody,
        body: Vec<u8>,
    },
    Done,
}

impl Transport for WasiHttp {
    type Exchange = Exchange;

    fn start(&mut self, request: HttpRequest<'_>) -> Result<Exchange, TransportError> {
        let outgoing = build_request(&request)?;
        let body = outgoing
            .body()
            .map_err(|()| build_error("request body already taken"))?;
        let timeout_ns = request.timeout.as_nanos() as u64;
        let options = RequestOptions::new();
        // Hosts may not support every timeout; what they refuse, `idle` covers.
        let _ = options.set_connect_timeout(Some(timeout_ns));
        let _ = options.set_first_byte_timeout(Some(timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(timeout_ns));
        // Hand the request over before writing: the host streams the body out
        // as it is written, so a body larger than its pipe cannot stall.
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| from_error_code(&e, false))?;
        let stream = body
            .write()
            .map_err(|()| build_error("request body stream unavailable"))?;
        Ok(Exchange {
            stage: Stage::Writing {
                future,
                stream,
                body,
                data: request.body,
                written: 0,
            },
            idle: request.timeout,
            moved_at: monotonic(),
            sent_any: false,
            moved: false,
        })
    }

    fn progress(&mut self, exchange: &mut Exchange) -> Option<Exchanged> {
        loop {
            let step = exchange.step();
            let now = monotonic();
            // Bytes written or read, even without finishing a stage, are progress.
            if step.is_some() || std::mem::take(&mut exchange.moved) {
                exchange.moved_at = now;
            }
            match step {
                Some(Step::Ended(result)) => return Some(result),
                Some(Step::Moved) => continue,
                None if now.saturating_sub(exchange.moved_at) >= exchange.idle => {
                    exchange.stage = Stage::Done;
                    return Some(Err(TransportError {
                        code: codes::TIMEOUT,
                        // Milliseconds as a u64: float (~20 KB) and u128 (~2 KB) formatting grow the component.
                        message: format!("no progress for {} ms", exchange.idle.as_millis() as u64),
                        ambiguous: exchange.sent_any,
                    }));
                }
                None => return None,
            }
        }
    }

    fn wait(&mut self, exchanges: &[&Exchange], max: Duration) {
        let now = monotonic();
        let mut until = max;
        let mut ready: Vec<Pollable> = Vec::with_capacity(exchanges.len() * 2 + 1);
        for exchange in exchanges {
            until = until.min((exchange.moved_at + exchange.idle).saturating_sub(now));
            match &exchange.stage {
                Stage::Writing { future, stream, .. } => {
                    ready.push(stream.subscribe());
                    ready.push(future.subscribe());
                }
                Stage::Waiting { future } => ready.push(future.subscribe()),
                Stage::Reading { stream, .. } => ready.push(stream.subscribe()),
                Stage::Done => {}
            }
        }
        ready.push(monotonic_clock::subscribe_duration(until.as_nanos() as u64));
        let list: Vec<&Pollable> = ready.iter().collect();
        poll(&list);
    }
}

/// What one step of an exchange did.
enum Step {
    /// It moved to another stage or moved bytes; try again.
    Moved,
    Ended(Exchanged),
}

impl Exchange {
    /// One non-blocking step; `None` when it must wait for the host.
    fn step(&mut self) -> Option<Step> {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Writing {
                future,
                stream,
                body,
                data,
                mut written,
            } => {
                while written < data.len() {
                    match stream.check_write() {
                        // The host answered (or failed) before taking the whole body.
                        Ok(0) if future.subscribe().ready() => break,
                        Ok(0) => {
                            self.stage = Stage::Writing {
                                future,
                                stream,
                                body,
                                data,
                                written,
                            };
                            return None;
                        }
                        Ok(permit) => {
                            let n = (data.len() - written).min(usize::try_from(permit).unwrap_or(usize::MAX));
                            if stream.write(&data[written..written + n]).is_err() {
                                break;
                            }
                            self.sent_any = true;
                            self.moved = true;
                            written += n;
                        }
                        Err(_) => break,
                    }
                }
                drop(stream);
                // Finish without `flush()`: flushing a large body fails on some hosts.
                // A failed write or finish (or an early answer) surfaces through the future.
                let _ = OutgoingBody::finish(body, None);
                self.stage = Stage::Waiting { future };
                Some(Step::Moved)
            }
            Stage::Waiting { future } => match future.get() {
                None => {
                    self.stage = Stage::Waiting { future };
                    None
                }
                Some(Ok(Ok(response))) => Some(match start_reading(response) {
                    Ok(stage) => {
                        self.stage = stage;
                        Step::Moved
                    }
                    Err(e) => Step::Ended(Err(e)),
                }),
                // The host's error says more than a failed write.
                Some(Ok(Err(e))) => Some(Step::Ended(Err(from_error_code(&e, self.sent_any)))),
                Some(Err(())) => Some(Step::Ended(Err(build_error("response already taken")))),
            },
            Stage::Reading {
                status,
                error_type,
                stream,
                incoming,
                mut body,
            } => loop {
                match stream.read(64 * 1024) {
                    Ok(chunk) if chunk.is_empty() => {
                        self.stage = Stage::Reading {
                            status,
                            error_type,
                            stream,
                            incoming,
                            body,
                        };
                        return None;
                    }
                    Ok(chunk) => {
                        self.moved = true;
                        body.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => {
                        drop(stream);
                        drop(IncomingBody::finish(incoming));
                        return Some(Step::Ended(Ok(HttpResponse {
                            status,
                            error_type,
                            body,
                        })));
                    }
                    Err(e) => {
                        return Some(Step::Ended(Err(TransportError {
                            code: codes::CONNECTION_ERROR,
                            message: stream_error("reading the answer", e),
                            ambiguous: true,
                        })));
                    }
                }
            },
            Stage::Done => Some(Step::Ended(Err(build_error("exchange already ended")))),
        }
    }
}

fn monotonic() -> Duration {
    Duration::from_nanos(monotonic_clock::now())
}

fn start_reading(response: IncomingResponse) -> Result<Stage, TransportError> {
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
    Ok(Stage::Reading {
        status,
        error_type,
        stream,
        incoming,
        body: Vec::new(),
    })
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
    let method = match request.method {
        send::Method::Get => Method::Get,
        send::Method::Post => Method::Post,
        send::Method::Put => Method::Put,
    };
    let ok = outgoing.set_method(&method).is_ok()
        && outgoing.set_scheme(Some(&scheme)).is_ok()
        && outgoing.set_authority(Some(&request.endpoint.authority)).is_ok()
        && outgoing.set_path_with_query(Some(request.path)).is_ok();
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
