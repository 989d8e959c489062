//! PutRecords answers: per-record results, or one error for the whole request.
//!
//! Errors come as JSON (`__type`, `message`), as the `x-amzn-ErrorType`
//! header, or, from some endpoints (moto's auth layer), as XML served as
//! `text/html`; all three are read so the user sees the real code.

use crate::config::json_kind;
use crate::report::{Failure, Origin, codes, is_retryable_code};
use serde_json::Value;

/// The result of one record of a PutRecords request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordResult {
    Delivered { shard_id: String, sequence_number: String },
    Failed(Failure),
}

/// What a PutRecords answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutRecordsResponse {
    /// One result per record sent, in order.
    Records(Vec<RecordResult>),
    /// The whole request failed; every record in it shares this failure.
    RequestFailed(Failure),
}

/// One item of the answer's `Records`.
#[derive(Default)]
struct Entry {
    sequence_number: Option<String>,
    shard_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// Longest error message we pass on; answers can echo whole requests.
const MAX_MESSAGE: usize = 512;

/// Reads an answer to a request of `sent` records.
///
/// ```
/// use kinesis_target::response::{parse, PutRecordsResponse};
/// let body = br#"{"__type":"ResourceNotFoundException","message":"Stream x not found"}"#;
/// match parse(400, None, body, 1) {
///     PutRecordsResponse::RequestFailed(f) => assert_eq!(f.code, "ResourceNotFoundException"),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse(status: u16, error_type: Option<&str>, body: &[u8], sent: usize) -> PutRecordsResponse {
    if !(200..300).contains(&status) {
        return PutRecordsResponse::RequestFailed(request_error(status, error_type, body));
    }
    let parsed = serde_json::from_slice(body).map_err(|e| e.to_string());
    let records = match parsed.and_then(entries) {
        Ok(records) => records,
        Err(e) => return malformed(format!("PutRecords answer is not the expected JSON: {e}")),
    };
    if records.len() != sent {
        return malformed(format!("{} results for {sent} records sent", records.len()));
    }
    PutRecordsResponse::Records(records.into_iter().map(record_result).collect())
}

/// The answer's `Records`, read from a [`Value`] rather than through
/// `#[derive(Deserialize)]`: typed deserialization links serde's type-error
/// messages, and through them core's float formatting, into the component
/// (about 35 KB of its size).
fn entries(output: Value) -> Result<Vec<Entry>, String> {
    let Value::Object(output) = output else {
        return Err(format!("the answer is {}, expected an object", json_kind(&output)));
    };
    let records = match output.into_iter().find(|(name, _)| name == "Records") {
        Some((_, Value::Array(records))) => records,
        Some((_, other)) => return Err(format!("Records is {}, expected a list", json_kind(&other))),
        None => return Err("missing field `Records`".into()),
    };
    records.into_iter().map(entry).collect()
}

fn entry(record: Value) -> Result<Entry, String> {
    let Value::Object(fields) = record else {
        return Err(format!("a Records item is {}, expected an object", json_kind(&record)));
    };
    let mut entry = Entry::default();
    for (name, value) in fields {
        let slot = match name.as_str() {
            "SequenceNumber" => &mut entry.sequence_number,
            "ShardId" => &mut entry.shard_id,
            "ErrorCode" => &mut entry.error_code,
            "ErrorMessage" => &mut entry.error_message,
            _ => continue,
        };
        *slot = match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => return Err(format!("{name} is {}, expected a string", json_kind(&other))),
        };
    }
    Ok(entry)
}

fn record_result(e: Entry) -> RecordResult {
    match (e.error_code, e.sequence_number, e.shard_id) {
        (Some(code), _, _) if !code.is_empty() => RecordResult::Failed(Failure {
            retryable: is_retryable_code(&code),
            maybe_delivered: false,
            message: clip(e.error_message.unwrap_or_default()),
            code,
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
fn malformed(message: String) -> PutRecordsResponse {
    PutRecordsResponse::RequestFailed(Failure {
        code: codes::MALFORMED_RESPONSE.into(),
        message: clip(message),
        origin: Origin::Transport,
        retryable: true,
        maybe_delivered: false,
    })
}

fn request_error(status: u16, error_type: Option<&str>, body: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(body);
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let json_field = |keys: &[&str]| {
        let obj = json.as_ref()?.as_object()?;
        keys.iter().find_map(|k| obj.get(*k)?.as_str().map(str::to_string))
    };
    let code = json_field(&["__type", "code", "Code"])
        .or_else(|| error_type.map(str::to_string))
        .or_else(|| xml_element(&text, "Code").map(str::to_string))
        .map(|c| bare_code(&c).to_string())
        .filter(|c| !c.is_empty());
    let message = json_field(&["message", "Message", "errorMessage"])
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

/// The trimmed text of the first `<name>...</name>` in `text`, entities
/// left as they are (moto's auth errors, STS answers).
pub(crate) fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(text[start..end].trim())
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
