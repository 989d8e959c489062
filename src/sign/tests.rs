//! Signatures pinned to what botocore's `SigV4Auth` (an independent signer)
//! computes for the same request, time and credentials:
//!
//! ```python
//! req = AWSRequest("POST", url, data=BODY, headers={"Content-Type": ..., "X-Amz-Target": ...})
//! with mock.patch("botocore.auth.get_current_datetime", return_value=datetime(2026,11,25,12,0,0,tzinfo=utc)):
//!     SigV4Auth(Credentials(AKID, SECRET, token), "kinesis", "us-east-1").add_auth(req)
//! ```
use super::*;
use crate::credentials::Credentials;
use crate::endpoint::Endpoint;
use std::time::{Duration, UNIX_EPOCH};

const BODY: &[u8] = br#"{"StreamName":"logs","Records":[{"Data":"aGVsbG8=","PartitionKey":"default"}]}"#;
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HEADERS: [(&str, &str); 2] = [
    ("content-type", "application/x-amz-json-1.1"),
    ("x-amz-target", "Kinesis_20131202.PutRecords"),
];

/// 2026-11-25T12:00:00Z
fn time() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_608_000)
}

fn signer(token: Option<&str>) -> Signer {
    let creds = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: SECRET.into(),
        session_token: token.map(str::to_string),
        expires: None,
    };
    Signer::new(&creds, "us-east-1")
}

fn header<'a>(added: &'a [(String, String)], name: &str) -> Option<&'a str> {
    added.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn signature_matches_botocore_for_the_aws_endpoint() {
    let e = Endpoint::for_region("us-east-1");
    let added = signer(None)
        .sign("https", &e.authority, &HEADERS, BODY, time())
        .unwrap();
    assert_eq!(header(&added, "x-amz-date"), Some("20261125T120000Z"));
    assert_eq!(
        header(&added, "authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=cede39926a4b0efd09da6d90c78d20a93f74a872b61f4a4bde880896d1aa2a9b"
        )
    );
}

#[test]
fn signature_matches_botocore_with_a_port_and_a_session_token() {
    let e = Endpoint::parse("http://127.0.0.1:4567").unwrap();
    let added = signer(Some("FwoGZXIvYXdzEXAMPLETOKEN"))
        .sign("http", &e.authority, &HEADERS, BODY, time())
        .unwrap();
    assert_eq!(header(&added, "x-amz-security-token"), Some("FwoGZXIvYXdzEXAMPLETOKEN"));
    assert_eq!(
        header(&added, "authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=ad4d2e16c1d892bef545f3657eed20a5184e7e53c1b1c5f5d248e124ba110b48"
        )
    );
}

/// botocore signs `https://kinesis.us-east-1.amazonaws.com:443/` with host
/// `kinesis.us-east-1.amazonaws.com` (it drops a default port), so a config
/// that writes `:443` must produce the very signature of the plain endpoint.
#[test]
fn an_explicit_default_port_signs_the_same_host_as_without_it() {
    let e = Endpoint::parse("https://kinesis.us-east-1.amazonaws.com:443").unwrap();
    let added = signer(None)
        .sign("https", &e.authority, &HEADERS, BODY, time())
        .unwrap();
    assert_eq!(
        header(&added, "authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=cede39926a4b0efd09da6d90c78d20a93f74a872b61f4a4bde880896d1aa2a9b"
        )
    );
}

/// The headers `sign` hands back are sent as they are: only the date, the
/// signature and (with a session token) the token; never `host`, which the
/// component host derives from the URL (some refuse it from the guest), nor
/// a payload hash header Kinesis does not ask for.
#[test]
fn sign_adds_only_the_date_the_authorization_and_the_session_token() {
    let names = |token: Option<&str>| {
        let added = signer(token)
            .sign("https", "example.com", &HEADERS, BODY, time())
            .unwrap();
        let mut names: Vec<String> = added.into_iter().map(|(k, _)| k).collect();
        names.sort();
        names
    };
    assert_eq!(names(None), ["authorization", "x-amz-date"]);
    assert_eq!(
        names(Some("t")),
        ["authorization", "x-amz-date", "x-amz-security-token"]
    );
}

#[test]
fn a_different_body_changes_the_signature() {
    let a = signer(None)
        .sign("https", "example.com", &HEADERS, BODY, time())
        .unwrap();
    let b = signer(None)
        .sign("https", "example.com", &HEADERS, b"{}", time())
        .unwrap();
    assert_ne!(header(&a, "authorization"), header(&b, "authorization"));
}
