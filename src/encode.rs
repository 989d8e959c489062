//! The PutRecords request body (SPEC section 2), in the JSON 1.1 protocol or,
//! opt-in, in CBOR (`application/x-amz-cbor-1.1`, the Java SDKs' default).
//!
//! Built by hand rather than through serde: the stream name and partition key
//! are encoded once per configuration, and each event's bytes are written
//! straight into a body allocated at its exact final size.

mod cbor;
mod json;

use crate::record::Record;
use std::borrow::Cow;
use std::ops::Range;

/// Where the stream is named: by name, or by ARN (sent as `StreamARN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamRef {
    Name(String),
    Arn(String),
}

impl StreamRef {
    /// The name or the ARN.
    pub fn as_str(&self) -> &str {
        match self {
            StreamRef::Name(s) | StreamRef::Arn(s) => s,
        }
    }
}

/// `X-Amz-Target` of PutRecords.
pub const PUT_RECORDS_TARGET: &str = "Kinesis_20131202.PutRecords";
/// Content type of the JSON 1.1 protocol.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Content type of the CBOR protocol.
pub const CBOR_CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// How PutRecords bodies and their answers are encoded (extension `protocol`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// JSON 1.1, data in base64: what every Kinesis endpoint speaks.
    #[default]
    Json,
    /// CBOR, data as raw byte strings: a quarter fewer bytes to hash and send, no base64.
    Cbor,
}

impl Protocol {
    /// The `content-type` of its requests.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Json => CONTENT_TYPE,
            Protocol::Cbor => CBOR_CONTENT_TYPE,
        }
    }
}

/// Writes PutRecords bodies for one stream and partition key.
#[derive(Debug, Clone)]
pub struct PutRecordsEncoder(Format);

#[derive(Debug, Clone)]
enum Format {
    Json(json::JsonBody),
    Cbor(cbor::CborBody),
}

/// One record of a request as it goes on the wire: an event, or a KPL
/// aggregate of events (see [`crate::aggregate`]).
pub trait Wire {
    /// Its data: borrowed for an event, built for a record made for the
    /// request (an aggregate), whose MD5 trailer may be left to fill: then
    /// with the span of the data that trailer covers. A JSON body seals four
    /// records' trailers at a time (`seal`) before it base64s them.
    fn data(&self) -> Unsealed<'_>;
    /// Bytes of its data, without building it.
    fn data_len(&self) -> usize;
    /// Appends its data (`data_len` bytes) to the body `out`, an open
    /// trailer to `trailers`, filled once the whole body is written. A
    /// record made for the request writes itself straight into the body,
    /// not into a buffer of its own first.
    fn write_data(&self, out: &mut Vec<u8>, trailers: &mut Trailers) {
        let start = out.len();
        let (data, open) = self.data();
        out.extend_from_slice(&data);
        if let Some(span) = open {
            trailers.md5_after(start + span.start..start + span.end);
        }
    }
    /// `None`: the encoder's static key.
    fn partition_key(&self) -> Option<&str>;
    /// Decimal digits; `None`: the encoder's (the config's `explicit_hash_key`, if any).
    fn explicit_hash_key(&self) -> Option<&str> {
        None
    }
}

/// What records leave in a body for it to fill once it is whole: the MD5
/// trailers of KPL aggregates, which are then hashed four side by side
/// ([`crate::md5x4`]) rather than one after another as each is written.
#[derive(Debug, Default)]
pub struct Trailers(Vec<Range<usize>>);

impl Trailers {
    /// The MD5 of the body's bytes in `span` goes in the 16 bytes after it.
    pub fn md5_after(&mut self, span: Range<usize>) {
        self.0.push(span);
    }

    /// Writes every trailer into `body`.
    fn fill(self, body: &mut [u8]) {
        let messages: Vec<&[u8]> = self.0.iter().map(|span| &body[span.clone()]).collect();
        let digests = crate::md5x4::digests(&messages);
        for (span, digest) in self.0.iter().zip(digests) {
            body[span.end..span.end + 16].copy_from_slice(&digest);
        }
    }
}

/// A record's data from [`Wire::data`], with the span its open MD5
/// trailer covers, if it has one (the trailer is the 16 bytes after it).
pub type Unsealed<'a> = (Cow<'a, [u8]>, Option<Range<usize>>);

/// Writes the MD5 trailers [`Wire::data`] left open, all of them at once.
fn seal(data: &mut [Unsealed<'_>]) {
    if data.iter().all(|(_, span)| span.is_none()) {
        return;
    }
    let messages: Vec<&[u8]> = data
        .iter()
        .filter_map(|(bytes, span)| span.clone().map(|span| &bytes[span]))
        .collect();
    let digests = crate::md5x4::digests(&messages);
    let spans = data
        .iter_mut()
        .filter_map(|(bytes, span)| span.clone().map(|span| (bytes, span)));
    for ((bytes, span), digest) in spans.zip(digests) {
        bytes.to_mut()[span.end..span.end + 16].copy_from_slice(&digest);
    }
}

impl Wire for Record {
    fn data(&self) -> Unsealed<'_> {
        (Cow::Borrowed(&self.data), None)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
    fn partition_key(&self) -> Option<&str> {
        self.partition_key.as_deref()
    }
}

impl<W: Wire + ?Sized> Wire for &W {
    fn data(&self) -> Unsealed<'_> {
        (*self).data()
    }
    fn data_len(&self) -> usize {
        (*self).data_len()
    }
    fn write_data(&self, out: &mut Vec<u8>, trailers: &mut Trailers) {
        (*self).write_data(out, trailers)
    }
    fn partition_key(&self) -> Option<&str> {
        (*self).partition_key()
    }
    fn explicit_hash_key(&self) -> Option<&str> {
        (*self).explicit_hash_key()
    }
}

impl PutRecordsEncoder {
    /// JSON 1.1 bodies; `partition_key` is used for records without their own key.
    pub fn new(stream: &StreamRef, partition_key: &str, explicit_hash_key: Option<&str>) -> Self {
        Self::with_protocol(Protocol::Json, stream, partition_key, explicit_hash_key)
    }

    /// Bodies in `protocol`; `partition_key` is used for records without their own key.
    pub fn with_protocol(
        protocol: Protocol,
        stream: &StreamRef,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
    ) -> Self {
        Self(match protocol {
            Protocol::Json => Format::Json(json::JsonBody::new(stream, partition_key, explicit_hash_key)),
            Protocol::Cbor => Format::Cbor(cbor::CborBody::new(stream, partition_key, explicit_hash_key)),
        })
    }

    /// The protocol its bodies are in.
    pub fn protocol(&self) -> Protocol {
        match self.0 {
            Format::Json(_) => Protocol::Json,
            Format::Cbor(_) => Protocol::Cbor,
        }
    }

    /// Exact body length for these records.
    pub fn encoded_len<R: Wire>(&self, records: &[R]) -> usize {
        match &self.0 {
            Format::Json(f) => f.encoded_len(records),
            Format::Cbor(f) => f.encoded_len(records),
        }
    }

    /// The request body for these records, in order.
    ///
    /// ```
    /// use kinesis_target::{encode::{PutRecordsEncoder, StreamRef}, record::Record};
    /// let enc = PutRecordsEncoder::new(&StreamRef::Name("logs".into()), "pk", None);
    /// let body = enc.encode(&[Record::new(1, b"hi".to_vec())]);
    /// assert_eq!(body, br#"{"StreamName":"logs","Records":[{"Data":"aGk=","PartitionKey":"pk"}]}"#);
    /// ```
    pub fn encode<R: Wire>(&self, records: &[R]) -> Vec<u8> {
        match &self.0 {
            Format::Json(f) => f.encode(records),
            Format::Cbor(f) => f.encode(records),
        }
    }
}

/// A record made for a request with its own key and hash key, as an
/// aggregate is (data built on demand).
#[cfg(test)]
struct Built(Vec<u8>);

#[cfg(test)]
impl Wire for Built {
    fn data(&self) -> Unsealed<'_> {
        (Cow::Owned(self.0.clone()), None)
    }
    fn data_len(&self) -> usize {
        self.0.len()
    }
    fn partition_key(&self) -> Option<&str> {
        Some("k")
    }
    fn explicit_hash_key(&self) -> Option<&str> {
        Some("42")
    }
}

/// The body of a built record (key "k", hash key "42", `data`) followed by a
/// plain one, its length checked against `encoded_len`.
#[cfg(test)]
fn built_then_plain(enc: &PutRecordsEncoder, data: Vec<u8>) -> Vec<u8> {
    let built = Built(data);
    let plain = Record::new(0, b"y".to_vec());
    let records: [&dyn Wire; 2] = [&built, &plain];
    let body = enc.encode(&records);
    assert_eq!(body.len(), enc.encoded_len(&records));
    body
}

/// `s` as a JSON string literal, quotes included.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}
