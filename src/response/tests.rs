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
fn values_without_escapes_are_borrowed_from_the_answer() {
    let body = br#"{"Records":[{"SequenceNumber":"1","ShardId":"shardId-0"},{"SequenceNumber":"\u0032","ShardId":"shardId-0"}]}"#;
    let PutRecordsResponse::Records(r) = parse(200, None, body, 2) else {
        panic!()
    };
    let borrowed = |r: &RecordResult| match r {
        RecordResult::Delivered {
            shard_id,
            sequence_number,
        } => (
            matches!(shard_id, Cow::Borrowed(_)),
            matches!(sequence_number, Cow::Borrowed(_)),
        ),
        RecordResult::Failed(f) => panic!("{f:?}"),
    };
    assert_eq!(borrowed(&r[0]), (true, true));
    // An escape needs a copy.
    assert_eq!(borrowed(&r[1]), (true, false));
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
    let message = |text: String| {
        let body = format!(r#"{{"__type":"X","message":"{text}"}}"#);
        failed(parse(400, None, body.as_bytes(), 1)).message
    };
    // 512 bytes pass whole; one more keeps exactly the first 512 and marks the cut.
    let digits: String = (0..513).map(|i| char::from(b'0' + (i % 10) as u8)).collect();
    assert_eq!(message(digits[..512].to_string()), digits[..512]);
    assert_eq!(message(digits.clone()), format!("{}...", &digits[..512]));
    // "a" then 2-byte chars: byte 512 is mid-char, so the cut steps back to 511.
    let kept = message(format!("a{}", "é".repeat(1000)));
    assert_eq!(kept, format!("a{}...", "é".repeat(255)));
    assert_eq!(kept.len(), 511 + 3);
}

#[test]
fn json_answers_are_read_with_escapes_unknown_fields_and_nulls() {
    let body = br#"{"Extra":{"nested":[1,2.5,{"Records":"no"}]},"Records":[
        {"SequenceNumber":"4\u0032","ShardId":"shardId-\"7\"","Other":[true,null],"ErrorCode":null},
        {"ErrorCode":"InternalFailure","ErrorMessage":null,"SequenceNumber":null}],"FailedRecordCount":1}"#;
    let PutRecordsResponse::Records(r) = parse(200, None, body, 2) else {
        panic!()
    };
    assert_eq!(
        r[0],
        RecordResult::Delivered {
            shard_id: "shardId-\"7\"".into(),
            sequence_number: "42".into()
        }
    );
    let RecordResult::Failed(f) = &r[1] else { panic!() };
    assert_eq!(
        (f.code.as_str(), f.message.as_str(), f.retryable),
        ("InternalFailure", "", true)
    );
}

#[test]
fn json_answers_of_the_wrong_shape_name_what_is_wrong() {
    for (body, says) in [
        (&br#"[1]"#[..], "the answer is a list, expected an object"),
        (br#"{"Records":{}}"#, "Records is an object, expected a list"),
        (br#"{"Records":[7]}"#, "a Records item is a number, expected an object"),
        (
            br#"{"Records":[{"ShardId":1.5}]}"#,
            "ShardId is a number, expected a string",
        ),
        (
            br#"{"Records":[{"ErrorCode":false}]}"#,
            "ErrorCode is a boolean, expected a string",
        ),
        (br#"{"FailedRecordCount":0}"#, "missing field `Records`"),
        (br#"{"Records":[]} x"#, "trailing characters"),
    ] {
        let f = failed(parse(200, None, body, 0));
        assert_eq!(f.code, "MalformedResponse");
        assert!(f.message.contains(says), "{says}: {}", f.message);
    }
}

mod cbor {
    use super::*;
    use minicbor::Encoder;

    fn cbor(
        write: impl FnOnce(&mut Encoder<&mut Vec<u8>>) -> Result<(), minicbor::encode::Error<std::convert::Infallible>>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut Encoder::new(&mut out)).unwrap();
        out
    }

    fn read(status: u16, body: &[u8], sent: usize) -> PutRecordsResponse<'_> {
        parse_in(Protocol::Cbor, status, None, body, sent)
    }

    #[test]
    fn cbor_answers_give_per_record_results_in_order() {
        // As kinesis-local answers: every field present, the unused ones null.
        let body = cbor(|e| {
            e.map(3)?
                .str("EncryptionType")?
                .null()?
                .str("FailedRecordCount")?
                .u32(1)?;
            e.str("Records")?.array(2)?;
            e.map(4)?.str("ErrorCode")?.null()?.str("ErrorMessage")?.null()?;
            e.str("SequenceNumber")?
                .str("49590338271490256608559692538361571095921575989136588898")?;
            e.str("ShardId")?.str("shardId-000000000000")?;
            e.map(2)?
                .str("ErrorCode")?
                .str("ProvisionedThroughputExceededException")?;
            e.str("ErrorMessage")?.str("Rate exceeded")?;
            Ok(())
        });
        let PutRecordsResponse::Records(r) = read(200, &body, 2) else {
            panic!()
        };
        assert_eq!(
            r[0],
            RecordResult::Delivered {
                shard_id: "shardId-000000000000".into(),
                sequence_number: "49590338271490256608559692538361571095921575989136588898".into()
            }
        );
        let RecordResult::Failed(f) = &r[1] else { panic!() };
        assert_eq!(
            (f.code.as_str(), f.retryable),
            ("ProvisionedThroughputExceededException", true)
        );
        assert_eq!(f.message, "Rate exceeded");
    }

    #[test]
    fn indefinite_lengths_chunked_text_and_skipped_items_are_read() {
        let body = cbor(|e| {
            e.begin_map()?
                .str("Unknown")?
                .begin_array()?
                .f64(1.5)?
                .tag(minicbor::data::Tag::new(1))?
                .u8(0)?
                .end()?;
            e.str("Records")?.begin_array()?;
            e.begin_map()?
                .str("ShardId")?
                .begin_str()?
                .str("shardId-")?
                .str("1")?
                .end()?;
            e.str("SequenceNumber")?.str("9")?.str("Blob")?.bytes(&[1, 2])?.end()?;
            e.end()?.end()?;
            Ok(())
        });
        let PutRecordsResponse::Records(r) = read(200, &body, 1) else {
            panic!()
        };
        assert_eq!(
            r[0],
            RecordResult::Delivered {
                shard_id: "shardId-1".into(),
                sequence_number: "9".into()
            }
        );
    }

    #[test]
    fn cbor_answers_of_the_wrong_shape_or_truncated_are_malformed() {
        let list = cbor(|e| e.array(0).map(drop));
        let number_shard = cbor(|e| {
            e.map(1)?
                .str("Records")?
                .array(1)?
                .map(1)?
                .str("ShardId")?
                .u8(1)
                .map(drop)
        });
        let whole = cbor(|e| {
            e.map(1)?
                .str("Records")?
                .array(1)?
                .map(1)?
                .str("ShardId")?
                .str("s")
                .map(drop)
        });
        for (body, says) in [
            (&list[..], "the answer is a list, expected an object"),
            (&number_shard[..], "ShardId is a number, expected a string"),
            (&whole[..whole.len() - 1], "CBOR"),
            (&[whole.clone(), vec![0]].concat()[..], "1 bytes after the answer"),
            (b"{\"Records\":[]}", "CBOR"),
        ] {
            let f = failed(read(200, body, 1));
            assert_eq!(f.code, "MalformedResponse");
            assert!(f.message.contains(says), "{says}: {}", f.message);
        }
    }

    #[test]
    fn cbor_texts_of_every_head_size_are_read_and_text_that_is_not_utf8_is_malformed() {
        for len in [0, 23, 24, 255, 256, 300] {
            let shard = "s".repeat(len);
            let body = cbor(|e| {
                e.map(1)?.str("Records")?.array(1)?.map(2)?;
                e.str("ShardId")?.str(&shard)?.str("SequenceNumber")?.str("7").map(drop)
            });
            let PutRecordsResponse::Records(r) = read(200, &body, 1) else {
                panic!("{len}")
            };
            assert_eq!(
                r[0],
                RecordResult::Delivered {
                    shard_id: shard.as_str().into(),
                    sequence_number: "7".into()
                },
                "{len}"
            );
        }
        for head in [&[0x62][..], &[0x78, 0x02]] {
            let body = cbor(|e| {
                e.map(1)?.str("Records")?.array(1)?.map(1)?.str("ShardId")?;
                e.writer_mut().extend_from_slice(head);
                e.writer_mut().extend_from_slice(&[0xC3, 0x28]);
                Ok(())
            });
            let f = failed(read(200, &body, 1));
            assert_eq!(f.code, "MalformedResponse", "{head:?}");
        }
    }

    #[test]
    fn cbor_error_answers_give_the_bare_code_and_message() {
        let body = cbor(|e| {
            e.map(2)?
                .str("__type")?
                .str("com.amazonaws.kinesis.v20131202#ResourceNotFoundException")?;
            e.str("message")?.str("Stream logs not found").map(drop)
        });
        let f = failed(read(400, &body, 3));
        assert_eq!(
            (f.code.as_str(), f.message.as_str()),
            ("ResourceNotFoundException", "Stream logs not found")
        );
        assert!(!f.retryable);
        // A JSON error to a CBOR request is read too.
        let json = br#"{"__type":"ProvisionedThroughputExceededException","message":"slow"}"#;
        assert!(failed(read(400, json, 1)).retryable);
    }
}

mod compact_form {
    use super::super::{compact, json};

    const AWS: &[u8] = br#"{"EncryptionType":"NONE","FailedRecordCount":1,"Records":[{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard shardId-000000000001 in stream s under account 111122223333."}]}"#;
    const KINESIS_LOCAL: &[u8] = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000001","ErrorCode":null,"ErrorMessage":null},{"ShardId":"shardId-000000000000","SequenceNumber":"2"}]}"#;

    #[test]
    fn compact_reads_the_answers_kinesis_and_kinesis_local_write() {
        for body in [AWS, KINESIS_LOCAL] {
            let fast = compact::entries(body, 2).expect("the compact form");
            assert_eq!(fast.len(), 2);
            assert_eq!(Ok(fast), json::general(body, 2));
        }
        assert_eq!(compact::entries(br#"{"Records":[]}"#, 0), Some(Vec::new()));
    }

    #[test]
    fn compact_leaves_whitespace_escapes_and_other_shapes_to_the_general_reader() {
        for body in [
            &br#"{ "Records":[{"SequenceNumber":"1","ShardId":"s"}]}"#[..],
            br#"{"Records":[{"SequenceNumber":"\u0031","ShardId":"s"}]}"#,
            br#"{"Records":[{"SequenceNumber":"1","ShardId":"s","Other":"x"}]}"#,
            br#"{"Records":[{"SequenceNumber":"1","SequenceNumber":"2","ShardId":"s"}]}"#,
            br#"{"FailedRecordCount":-1,"Records":[]}"#,
            br#"{"Records":[],"Records":[]}"#,
            br#"{"Records":[]} "#,
        ] {
            assert_eq!(compact::entries(body, 1), None, "{}", String::from_utf8_lossy(body));
        }
    }

    /// Every one-byte edit of real answers (a byte deleted, or one of the
    /// characters JSON turns on put in or over it): whatever the compact
    /// reader accepts, the general reader reads the same.
    #[test]
    fn compact_reads_what_it_accepts_as_the_general_reader_does() {
        let alphabet = b" \"\\,:{}[]n0x\x01";
        let mut accepted = 0;
        for base in [AWS, KINESIS_LOCAL] {
            for at in 0..=base.len() {
                let mut edits = Vec::new();
                if at < base.len() {
                    edits.push([&base[..at], &base[at + 1..]].concat());
                }
                for &c in alphabet {
                    edits.push([&base[..at], &[c], &base[at..]].concat());
                    if at < base.len() {
                        edits.push([&base[..at], &[c], &base[at + 1..]].concat());
                    }
                }
                for body in &edits {
                    if let Some(fast) = compact::entries(body, 2) {
                        accepted += 1;
                        assert_eq!(Ok(fast), json::general(body, 2), "{}", String::from_utf8_lossy(body));
                    }
                }
            }
        }
        // Edits inside values and keys it does not know keep the form.
        assert!(accepted > 1000, "only {accepted} edits were in the compact form");
    }
}
