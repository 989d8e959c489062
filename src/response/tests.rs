use super::*;

fn failed(r: PutRecordsResponse) -> Failure {
    match r {
        PutRecordsResponse::RequestFailed(f) => f,
        other => panic!("expected a request failure, got {other:?}"),
    }
}

#[test]
fn per_record_results_come_back_in_order() {
    let body = br#"{"FailedRecordCount":1,"Records":[
        {"SequenceNumber":"1","ShardId":"shardId-000000000000","ErrorCode":null},
        {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded"},
        {"ErrorCode":"InternalFailure","ErrorMessage":"x"},
        {"ErrorCode":"AccessDeniedException","ErrorMessage":"kms"}],"EncryptionType":"NONE"}"#;
    let PutRecordsResponse::Records(r) = parse(200, None, body, 4) else {
        panic!()
    };
    assert_eq!(
        r[0],
        RecordResult::Delivered {
            shard_id: "shardId-000000000000".into(),
            sequence_number: "1".into()
        }
    );
    let RecordResult::Failed(f) = &r[1] else { panic!() };
    assert_eq!(
        (f.code.as_str(), f.retryable, f.origin),
        ("ProvisionedThroughputExceededException", true, Origin::Kinesis)
    );
    let RecordResult::Failed(f) = &r[2] else { panic!() };
    assert!(f.retryable);
    let RecordResult::Failed(f) = &r[3] else { panic!() };
    assert!(!f.retryable);
}

#[test]
fn wrong_number_of_results_is_malformed_and_retryable() {
    let body = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"s"}]}"#;
    let f = failed(parse(200, None, body, 2));
    assert_eq!((f.code.as_str(), f.retryable), ("MalformedResponse", true));
}

#[test]
fn garbage_2xx_bodies_are_malformed() {
    for body in [&b""[..], b"<html>", b"{\"Records\":3}", &[0xff, 0xfe]] {
        assert_eq!(failed(parse(200, None, body, 1)).code, "MalformedResponse");
    }
}

#[test]
fn json_errors_give_the_bare_code_and_message() {
    let body =
        br#"{"__type":"com.amazonaws.kinesis.v20131202#ResourceNotFoundException","message":"Stream logs not found"}"#;
    let f = failed(parse(400, None, body, 3));
    assert_eq!(f.code, "ResourceNotFoundException");
    assert_eq!(f.message, "Stream logs not found");
    assert!(!f.retryable);
}

#[test]
fn the_error_type_header_is_used_when_the_body_has_no_code() {
    let f = failed(parse(
        400,
        Some("ValidationException:http://internal.amazon.com/"),
        b"{}",
        1,
    ));
    assert_eq!(f.code, "ValidationException");
}

#[test]
fn moto_xml_auth_errors_are_read() {
    let body = b"<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>\
        <Message>The request signature we calculated does not match the signature you provided.</Message>\
        </Error></Errors></ErrorResponse>";
    let f = failed(parse(403, None, body, 1));
    assert_eq!(f.code, "SignatureDoesNotMatch");
    assert!(f.message.starts_with("The request signature"));
    assert!(!f.retryable);
}

#[test]
fn throttling_and_5xx_are_retryable() {
    let f = failed(parse(
        400,
        None,
        br#"{"__type":"LimitExceededException","message":"slow down"}"#,
        1,
    ));
    assert!(f.retryable);
    let f = failed(parse(503, None, b"Service Unavailable", 1));
    assert_eq!(
        (f.code.as_str(), f.retryable, f.origin),
        ("HttpError", true, Origin::Transport)
    );
    assert!(failed(parse(429, None, b"", 1)).retryable);
    assert!(!failed(parse(404, None, b"nope", 1)).retryable);
}

#[test]
fn long_messages_are_clipped_on_a_char_boundary() {
    let body = format!(r#"{{"__type":"X","message":"{}"}}"#, "é".repeat(1000));
    let f = failed(parse(400, None, body.as_bytes(), 1));
    assert!(f.message.len() <= MAX_MESSAGE + 3);
    assert!(f.message.ends_with("..."));
}
