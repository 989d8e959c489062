//! SigV4 acceptance and rejection.

use std::time::Duration;

use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::*;

const SUMMARY: &str = "DescribeStreamSummary";

fn summary_body() -> Vec<u8> {
    json!({"StreamName": "s"}).to_string().into_bytes()
}

/// Sends and returns the error code (None on success); checks the stats.
fn outcome(state: &State, req: &Req) -> Option<String> {
    let (status, error_type, body) = send(state, req);
    if status == StatusCode::OK {
        return None;
    }
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_type.as_deref(), body["__type"].as_str());
    assert!(body["message"].is_string(), "{body}");
    error_type
}

#[test]
fn signed_request_is_accepted() {
    let state = state_with_stream("s", 1);
    let req = signed(&Signer::default(), SUMMARY, &summary_body());
    assert_eq!(outcome(&state, &req), None);
    let stats = state.counters.snapshot();
    assert_eq!((stats.requests, stats.auth_failures), (1, 0));
}

#[test]
fn session_token_signed_by_aws_sigv4_is_accepted() {
    let state = state_with_stream("s", 1);
    let signer = Signer {
        session_token: Some("FwoGZXIvYXdzEXAMPLETOKEN//+==".into()),
        ..Signer::default()
    };
    let req = signed(&signer, SUMMARY, &summary_body());
    // aws-sigv4 sends the token and signs it.
    assert_eq!(req.headers["x-amz-security-token"], "FwoGZXIvYXdzEXAMPLETOKEN//+==");
    let auth = req.headers["authorization"].to_str().unwrap();
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
        "{auth}"
    );
    assert_eq!(outcome(&state, &req), None);
}

#[test]
fn session_token_that_is_not_signed_is_rejected() {
    let state = state_with_stream("s", 1);
    let signer = Signer {
        session_token: Some("token".into()),
        ..Signer::default()
    };
    let mut req = signed(&signer, SUMMARY, &summary_body());
    req.edit_auth(";x-amz-security-token", "");
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
    // A token swapped after signing breaks the signature.
    let mut req = signed(&signer, SUMMARY, &summary_body());
    req.headers
        .insert("x-amz-security-token", HeaderValue::from_static("other"));
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn tampered_body_is_rejected() {
    let state = state_with_stream("s", 1);
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.body = json!({"StreamName": "t"}).to_string().into_bytes();
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
    let stats = state.counters.snapshot();
    assert_eq!(
        (stats.auth_failures, stats.signature_failures, stats.error_responses),
        (1, 1, 1)
    );
}

#[test]
fn tampered_signed_header_is_rejected() {
    let state = state_with_stream("s", 1);
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.headers
        .insert("x-amz-target", HeaderValue::from_static("Kinesis_20131202.ListShards"));
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn wrong_secret_is_rejected() {
    let state = state_with_stream("s", 1);
    let signer = Signer {
        secret_key: "not-the-secret".into(),
        ..Signer::default()
    };
    let req = signed(&signer, SUMMARY, &summary_body());
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn wrong_region_is_rejected() {
    let state = state_with_stream("s", 1);
    let signer = Signer {
        region: "eu-west-1".into(),
        ..Signer::default()
    };
    let req = signed(&signer, SUMMARY, &summary_body());
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn unknown_access_key_is_rejected() {
    let state = state_with_stream("s", 1);
    let signer = Signer {
        access_key: "AKIDSOMEONEELSE".into(),
        ..Signer::default()
    };
    let req = signed(&signer, SUMMARY, &summary_body());
    assert_eq!(outcome(&state, &req).as_deref(), Some("UnrecognizedClientException"));
}

#[test]
fn missing_authorization_is_rejected() {
    let state = state_with_stream("s", 1);
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.headers.remove("authorization");
    assert_eq!(
        outcome(&state, &req).as_deref(),
        Some("MissingAuthenticationTokenException")
    );
}

#[test]
fn host_missing_from_signed_headers_is_rejected() {
    let state = state_with_stream("s", 1);
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.edit_auth(";host;", ";");
    let auth = req.headers["authorization"].to_str().unwrap();
    assert!(
        auth.contains("SignedHeaders=content-type;x-amz-date;x-amz-target"),
        "{auth}"
    );
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn signed_header_missing_from_request_is_rejected() {
    let state = state_with_stream("s", 1);
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.headers.remove("content-type");
    assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn stale_or_future_date_is_rejected() {
    let state = state_with_stream("s", 1);
    let now = SystemTime::now();
    for time in [now - Duration::from_secs(16 * 60), now + Duration::from_secs(16 * 60)] {
        let req = signed(
            &Signer {
                time,
                ..Signer::default()
            },
            SUMMARY,
            &summary_body(),
        );
        assert_eq!(outcome(&state, &req).as_deref(), Some("InvalidSignatureException"));
    }
    // Within the 15 minute window is fine.
    let time = now - Duration::from_secs(10 * 60);
    let req = signed(
        &Signer {
            time,
            ..Signer::default()
        },
        SUMMARY,
        &summary_body(),
    );
    assert_eq!(outcome(&state, &req), None);
}

#[test]
fn malformed_authorization_is_incomplete() {
    let state = state_with_stream("s", 1);
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.edit_auth("Signature=", "Sig=");
    assert_eq!(outcome(&state, &req).as_deref(), Some("IncompleteSignatureException"));
    let mut req = signed(&Signer::default(), SUMMARY, &summary_body());
    req.headers.remove("x-amz-date");
    assert_eq!(outcome(&state, &req).as_deref(), Some("IncompleteSignatureException"));
}
