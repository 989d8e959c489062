//! The HTTP/1.1 accept loop around [`super::api::handle`].

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::{LocalEndpointConfig, State, api, bump};

/// The service's error when a fault or an outage drops the connection:
/// hyper closes the connection without writing a response.
#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose (injected fault or outage)")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// Accept loop. Connections live in a JoinSet owned by this task, so they
/// are aborted together with it.
pub(super) async fn serve(listener: TcpListener, state: Arc<State>, mut stopped: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                // Before the faults draw: an outage refuses every
                // connection, and those it refuses draw nothing.
                if state.outage.refusing(Instant::now()) {
                    bump(&state.counters.outage_refused_connections, 1);
                    drop(stream);
                    continue;
                }
                if state.faults.refuse_connection() {
                    // Closed unread: the client gets a reset or an early EOF.
                    bump(&state.counters.faults_refused_connections, 1);
                    drop(stream);
                    continue;
                }
                bump(&state.counters.connections, 1);
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = service_fn(move |req| respond(Arc::clone(&state), req));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    // A client going away mid-request is not our problem.
                    let _ = conn.await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Upper bound on a request body: the largest legal PutRecords, base64
/// inflated (4/3), plus room for JSON syntax, member names and escaped
/// partition keys (500 x 256 chars x 6 bytes is under 1 MiB).
fn body_limit(config: &LocalEndpointConfig) -> usize {
    config.max_request_size.div_ceil(3) * 4 + 2 * 1024 * 1024
}

async fn respond(
    state: Arc<State>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, DroppedOnPurpose> {
    // A kept-alive connection breaks in an outage too, before its
    // request is read.
    if state.outage.refusing(Instant::now()) {
        bump(&state.counters.outage_dropped_connections, 1);
        return Err(DroppedOnPurpose);
    }
    let (parts, body) = req.into_parts();
    let limit = body_limit(&state.config);
    let collected = Limited::new(body, limit).collect().await;
    let latency = state.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match collected {
        Ok(collected) => {
            let body = collected.to_bytes();
            let handled = api::handle(&state, &parts.method, &parts.uri, &parts.headers, &body);
            // The records are stored by now: whatever happens to the answer,
            // they stay.
            if !handled.delivery.hold.is_zero() {
                tokio::time::sleep(handled.delivery.hold).await;
            }
            if handled.delivery.drop {
                return Err(DroppedOnPurpose);
            }
            handled.response
        }
        // The front door rejects oversized bodies before any parsing, as
        // AWS's load balancers do.
        Err(e) if e.is::<LengthLimitError>() => api::body_error(
            &state,
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than {limit} bytes."),
        ),
        // The client broke the connection mid-body; answer for form's sake.
        Err(e) => api::body_error(
            &state,
            hyper::StatusCode::BAD_REQUEST,
            format!("Could not read the request body: {e}"),
        ),
    };
    Ok(response.map(|b| Full::new(Bytes::from(b))))
}
