//! Tests that drive the request handler directly (no sockets), plus one
//! round trip through the real server.

mod auth;
mod faults;
mod faults_wire;
mod limits;
mod put;
mod read;
mod server;

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::{LocalEndpointConfig, State, api};

/// Host header value the signed test requests carry.
const HOST: &str = "127.0.0.1:4566";

/// How to sign a test request.
#[derive(Clone)]
struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    session_token: Option<String>,
    time: SystemTime,
}

impl Default for Signer {
    fn default() -> Self {
        let c = LocalEndpointConfig::default();
        Signer {
            access_key: c.access_key,
            secret_key: c.secret_key,
            region: c.region,
            session_token: None,
            time: SystemTime::now(),
        }
    }
}

/// A request as the handler receives it.
struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    /// Replaces a part of the Authorization header (e.g. to drop a signed header).
    fn edit_auth(&mut self, from: &str, to: &str) {
        let auth = self.headers["authorization"].to_str().unwrap().replace(from, to);
        self.headers
            .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    }
}

/// Builds a Kinesis request for `op` and signs it the way a client using
/// aws-sigv4 would (host, content-type and x-amz-target in the headers).
fn signed(signer: &Signer, op: &str, body: &[u8]) -> Req {
    let target = format!("Kinesis_20131202.{op}");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static(HOST));
    headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    headers.insert("x-amz-target", HeaderValue::from_str(&target).unwrap());
    let creds = Credentials::new(
        &signer.access_key,
        &signer.secret_key,
        signer.session_token.clone(),
        None,
        "test",
    );
    let identity = Identity::from(creds);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&signer.region)
        .name("kinesis")
        .time(signer.time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    let url = format!("http://{HOST}/");
    let signable = SignableRequest::new("POST", url, pairs.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method("POST").uri("/").body(()).unwrap();
    *request.headers_mut() = headers;
    instructions.apply_to_request_http1x(&mut request);
    let (parts, ()) = request.into_parts();
    Req {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body: body.to_vec(),
    }
}

/// Sends a request to the handler; returns status, error type header and JSON body.
fn send(state: &State, req: &Req) -> (StatusCode, Option<String>, Value) {
    let resp = api::handle(state, &req.method, &req.uri, &req.headers, &req.body).response;
    let error_type = resp
        .headers()
        .get("x-amzn-ErrorType")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.1");
    let body = serde_json::from_slice(resp.body()).expect("responses are JSON");
    (resp.status(), error_type, body)
}

/// Signs with the default credentials and sends; returns status and body.
fn call(state: &State, op: &str, body: Value) -> (StatusCode, Value) {
    let req = signed(&Signer::default(), op, body.to_string().as_bytes());
    let (status, error_type, body) = send(state, &req);
    if status != StatusCode::OK {
        // Errors always carry the type both in the body and the header.
        assert_eq!(error_type.as_deref(), body["__type"].as_str());
    }
    (status, body)
}

/// The `__type` of an error response (panics on success).
fn error_code(state: &State, op: &str, body: Value) -> String {
    let (status, body) = call(state, op, body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    body["__type"].as_str().unwrap().to_owned()
}

/// A handler state with default limits and a stream of `shards` shards.
fn state_with_stream(name: &str, shards: u32) -> State {
    state_with_config(LocalEndpointConfig::default(), name, shards)
}

fn state_with_config(config: LocalEndpointConfig, name: &str, shards: u32) -> State {
    let state = State::new(config);
    state.store().create(name, shards, 1_700_000_000_000);
    state
}

/// Base64 as the JSON protocol carries blobs.
fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// `count` PutRecords entries "event i" with partition keys "pk-i".
fn entries(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| json!({"Data": b64(format!("event {i}").as_bytes()), "PartitionKey": format!("pk-{i}")}))
        .collect()
}

/// PutRecords to stream "s".
fn put_records(state: &State, records: Vec<Value>) -> (StatusCode, Value) {
    call(state, "PutRecords", json!({"StreamName": "s", "Records": records}))
}
