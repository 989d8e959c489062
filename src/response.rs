//! PutRecords answers: per-record results, or one error for the whole request.
//!
//! Results come in the request's protocol, JSON 1.1 or CBOR. Errors come as
//! JSON or CBOR (`__type`, `message`), as the `x-amzn-ErrorType` header, or,
//! from some endpoints (moto's auth layer), as XML served as `text/html`; all
//! are read so the user sees the real code.

mod cbor;
mod compact;
mod json;

use crate::encode::Protocol;
use crate::report::{Failure, Origin, codes, is_retryable_code};
use crate::xml::element as xml_element;
use std::borrow::Cow;

/// The result of one record of a PutRecords request. A delivered record's
/// shard id and sequence number are borrowed from the answer where they can
/// be: most callers only compare them, or drop them (`outcome_detail: ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordResult<'a> {
    Delivered {
        shard_id: Cow<'a, str>,
        sequence_number: Cow<'a, str>,
    },
    Failed(Failure),
}

/// What a PutRecords answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutRecordsResponse<'a> {
    /// One result per record sent, in order.
    Records(Vec<RecordResult<'a>>),
    /// The whole request failed; every record in it shares this failure.
    RequestFailed(Failure),
}

/// A PutRecords request carries at most this many records: room made up
/// front for an answer's entries is bounded by it.
const MAX_RECORDS: usize = 500;

/// One item of the answer's `Records`, borrowed from the answer unless a
/// value had escapes (JSON) or came in chunks (CBOR).
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Entry<'a> {
    sequence_number: Option<Cow<'a, str>>,
    shard_id: Option<Cow<'a, str>>,
    error_code: Option<Cow<'a, str>>,
    error_message: Option<Cow<'a, str>>,
}

/// The fields of an item that are read; any other is skipped.
#[derive(Debug, Clone, Copy)]
enum EntryField {
    SequenceNumber,
    ShardId,
    ErrorCode,
    ErrorMessage,
}

impl EntryField {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "SequenceNumber" => EntryField::SequenceNumber,
            "ShardId" => EntryField::ShardId,
            "ErrorCode" => EntryField::ErrorCode,
            "ErrorMessage" => EntryField::ErrorMessage,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            EntryField::SequenceNumber => "SequenceNumber",
            EntryField::ShardId => "ShardId",
            EntryField::ErrorCode => "ErrorCode",
            EntryField::ErrorMessage => "ErrorMessage",
        }
    }
}

impl<'a> Entry<'a> {
    fn slot(&mut self, field: EntryField) -> &mut Option<Cow<'a, str>> {
        match field {
            EntryField::SequenceNumber => &mut self.sequence_number,
            EntryField::ShardId => &mut self.shard_id,
            EntryField::ErrorCode => &mut self.error_code,
            EntryField::ErrorMessage => &mut self.error_message,
        }
    }
}

/// Longest error message we pass on; answers can echo whole requests.
const MAX_MESSAGE: usize = 512;

/// Reads a JSON 1.1 answer to a request of `sent` records.
///
/// ```
/// use kinesis_target::response::{parse, PutRecordsResponse};
/// let body = br#"{"__type":"ResourceNotFoundException","message":"Stream x not found"}"#;
/// match parse(400, None, body, 1) {
///     PutRecordsResponse::RequestFailed(f) => assert_eq!(f.code, "ResourceNotFoundException"),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse<'a>(status: u16, error_type: Option<&str>, body: &'a [u8], sent: usize) -> PutRecordsResponse<'a> {
    parse_in(Protocol::Json, status, error_type, body, sent)
}

/// Reads an answer in `protocol` to a request of `sent` records. Error
/// answers are read whatever their encoding: some endpoints answer a CBOR
/// request's error in JSON or XML.
///
/// ```
/// use kinesis_target::{encode::Protocol, response::{parse_in, PutRecordsResponse, RecordResult}};
/// // {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "shardId-1"}]}
/// let body = b"\xa2\x71FailedRecordCount\x00\x67Records\x81\xa2\x6eSequenceNumber\x611\x67ShardId\x69shardId-1";
/// let PutRecordsResponse::Records(results) = parse_in(Protocol::Cbor, 200, None, body, 1) else { panic!() };
/// assert!(matches!(&results[0], RecordResult::Delivered { shard_id, .. } if shard_id == "shardId-1"));
/// ```
pub fn parse_in<'a>(
    protocol: Protocol,
    status: u16,
    error_type: Option<&str>,
    body: &'a [u8],
    sent: usize,
) -> PutRecordsResponse<'a> {
    if !(200..300).contains(&status) {
        return PutRecordsResponse::RequestFailed(request_error(status, error_type, body));
    }
    let (records, format) = match protocol {
        Protocol::Json => (json::entries(body, sent), "JSON"),
        Protocol::Cbor => (cbor::entries(body), "CBOR"),
    };
    let records = match records {
        Ok(records) => records,
        Err(e) => return malformed(format!("PutRecords answer is not the expected {format}: {e}")),
    };
    if records.len() != sent {
        return malformed(format!("{} results for {sent} records sent", records.len()));
    }
    PutRecordsResponse::Records(records.into_iter().map(record_result).collect())
}

fn record_result(e: Entry) -> RecordResult {
    match (e.error_code, e.sequence_number, e.shard_id) {
        (Some(code), _, _) if !code.is_empty() => RecordResult::Failed(Failure {
            retryable: is_retryable_code(&code),
            maybe_delivered: false,
            message: clip(e.error_message.map(Cow::into_owned).unwrap_or_default()),
            code: code.into_owned(),
            origin: Origin::Kinesis,
        }),
        (_, Some(sequence_number), Some(shard_id)) => RecordResult::Delivered {
            shard_id,
            sequence_number,
        },
        _ => RecordResult::Failed(Failure {
            code: codes::MALFORMED_RESPONSE.into(),
            message: "result entry has neither SequenceNumber and ShardId nor ErrorCode".into(),
            origin: Origin::Transport,
            retryable: true,
            maybe_delivered: false,
        }),
    }
}

/// The answer was 2xx but unreadable: the records may or may not have landed.
fn malformed(message: String) -> PutRecordsResponse<'static> {
    PutRecordsResponse::RequestFailed(Failure {
        code: codes::MALFORMED_RESPONSE.into(),
        message: clip(message),
        origin: Origin::Transport,
        retryable: true,
        maybe_delivered: false,
    })
}

/// What a Kinesis error answer (any API: PutRecords, ListShards) says: its
/// code and message from JSON, CBOR, the `x-amzn-ErrorType` header or XML.
pub fn request_error(status: u16, error_type: Option<&str>, body: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(body);
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let json_field = |keys: &[&str]| {
        let obj = json.as_ref()?.as_object()?;
        keys.iter().find_map(|k| obj.get(*k)?.as_str().map(str::to_string))
    };
    let (cbor_code, cbor_message) = match json {
        Some(_) => (None, None),
        None => cbor::error_fields(body).unwrap_or_default(),
    };
    let code = json_field(&["__type", "code", "Code"])
        .or(cbor_code)
        .or_else(|| error_type.map(str::to_string))
        .or_else(|| xml_element(&text, "Code").map(str::to_string))
        .map(|c| bare_code(&c).to_string())
        .filter(|c| !c.is_empty());
    let message = json_field(&["message", "Message", "errorMessage"])
        .or(cbor_message)
        .or_else(|| xml_element(&text, "Message").map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {status}: {}", text.trim()));
    let retryable = status >= 500 || status == 429;
    match code {
        Some(code) => Failure {
            retryable: retryable || is_retryable_code(&code),
            code,
            message: clip(message),
            origin: Origin::Kinesis,
            maybe_delivered: false,
        },
        None => Failure {
            code: codes::HTTP_ERROR.into(),
            message: clip(message),
            origin: Origin::Transport,
            retryable,
            maybe_delivered: false,
        },
    }
}

/// `com.amazonaws.kinesis.v20131202#ResourceNotFoundException` and
/// `ValidationException:http://internal...` both mean the bare name.
fn bare_code(code: &str) -> &str {
    let code = code.rsplit('#').next().unwrap_or(code);
    code.split(':').next().unwrap_or(code).trim()
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests;
