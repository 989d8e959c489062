//! The PutRecords body in CBOR (`application/x-amz-cbor-1.1`): the same
//! fields as JSON 1.1, with each event's data as a raw byte string, so there
//! is no base64 and a quarter fewer bytes to hash and send (BENCHMARKS.md).
//!
//! Definite lengths throughout, so the body is sized exactly before it is
//! written, as the JSON body is.

use super::StreamRef;
use super::{Trailers, Wire};
use minicbor::Encoder;
use std::convert::Infallible;

/// CBOR bodies for one stream and partition key.
#[derive(Debug, Clone)]
pub(super) struct CborBody {
    /// `{"StreamName": "...", "Records":` without the array's head.
    prefix: Vec<u8>,
    /// `"PartitionKey": "..."` with the static key.
    static_key: Vec<u8>,
    /// `"ExplicitHashKey": "..."` of the config, if any.
    hash_key: Option<Vec<u8>>,
}

const DATA: &str = "Data";
const PARTITION_KEY: &str = "PartitionKey";
const EXPLICIT_HASH_KEY: &str = "ExplicitHashKey";

impl CborBody {
    pub(super) fn new(stream: &StreamRef, partition_key: &str, explicit_hash_key: Option<&str>) -> Self {
        let (field, name) = match stream {
            StreamRef::Name(n) => ("StreamName", n),
            StreamRef::Arn(a) => ("StreamARN", a),
        };
        let prefix = written(|e| e.map(2)?.str(field)?.str(name)?.str("Records").map(drop));
        Self {
            prefix,
            static_key: pair(PARTITION_KEY, partition_key),
            hash_key: explicit_hash_key.map(|hash| pair(EXPLICIT_HASH_KEY, hash)),
        }
    }

    /// Exact body length for these records.
    pub(super) fn encoded_len<R: Wire>(&self, records: &[R]) -> usize {
        let fields = minicbor::len(DATA) + minicbor::len(PARTITION_KEY);
        let per_record = |r: &R| {
            let data = r.data_len();
            let key = match r.partition_key() {
                Some(key) => minicbor::len(key),
                None => self.static_key.len() - minicbor::len(PARTITION_KEY),
            };
            let hash = match r.explicit_hash_key() {
                Some(hash) => minicbor::len(EXPLICIT_HASH_KEY) + minicbor::len(hash),
                None => self.hash_key.as_ref().map_or(0, Vec::len),
            };
            // The record's map head is one byte: it has two or three entries.
            1 + fields + head_len(data) + data + key + hash
        };
        self.prefix.len() + head_len(records.len()) + records.iter().map(per_record).sum::<usize>()
    }

    /// The request body for these records, in order.
    pub(super) fn encode<R: Wire>(&self, records: &[R]) -> Vec<u8> {
        let len = self.encoded_len(records);
        let mut body = Vec::with_capacity(len);
        body.extend_from_slice(&self.prefix);
        let mut trailers = Trailers::default();
        ok(self.write_records(&mut Encoder::new(&mut body), records, &mut trailers));
        debug_assert_eq!(body.len(), len);
        trailers.fill(&mut body);
        body
    }

    fn write_records<R: Wire>(&self, e: &mut Encoder<&mut Vec<u8>>, records: &[R], trailers: &mut Trailers) -> Written {
        e.array(records.len() as u64)?;
        for record in records {
            let hash = record.explicit_hash_key();
            let entries = if hash.is_some() || self.hash_key.is_some() {
                3
            } else {
                2
            };
            e.map(entries)?.str(DATA)?.bytes_len(record.data_len() as u64)?;
            record.write_data(e.writer_mut(), trailers);
            match record.partition_key() {
                Some(key) => e.str(PARTITION_KEY)?.str(key).map(drop)?,
                None => e.writer_mut().extend_from_slice(&self.static_key),
            }
            match (hash, &self.hash_key) {
                (Some(hash), _) => e.str(EXPLICIT_HASH_KEY)?.str(hash).map(drop)?,
                (None, Some(pair)) => e.writer_mut().extend_from_slice(pair),
                (None, None) => {}
            }
        }
        Ok(())
    }
}

type Written = Result<(), minicbor::encode::Error<Infallible>>;

/// Writing into a `Vec` cannot fail.
fn ok(result: Written) {
    let _ = result;
}

fn written(write: impl FnOnce(&mut Encoder<&mut Vec<u8>>) -> Written) -> Vec<u8> {
    let mut out = Vec::new();
    ok(write(&mut Encoder::new(&mut out)));
    out
}

/// A text key and its text value.
fn pair(key: &str, value: &str) -> Vec<u8> {
    written(|e| e.str(key)?.str(value).map(drop))
}

/// Bytes of the head of an item of length `n` (the same for every major type).
fn head_len(n: usize) -> usize {
    minicbor::len(n as u64)
}

#[cfg(test)]
mod tests {
    use crate::batch::Record;
    use crate::encode::StreamRef;
    use crate::encode::{Protocol, PutRecordsEncoder};
    use minicbor::Decoder;

    fn cbor(stream: StreamRef, key: &str, hash: Option<&str>) -> PutRecordsEncoder {
        PutRecordsEncoder::with_protocol(Protocol::Cbor, &stream, key, hash)
    }

    /// `(field, text or bytes)` pairs of one record map.
    fn record_fields(d: &mut Decoder) -> Vec<(String, Vec<u8>)> {
        let n = d.map().unwrap().unwrap();
        (0..n)
            .map(|_| {
                let key = d.str().unwrap().to_string();
                let value = match key.as_str() {
                    "Data" => d.bytes().unwrap().to_vec(),
                    _ => d.str().unwrap().as_bytes().to_vec(),
                };
                (key, value)
            })
            .collect()
    }

    #[test]
    fn a_cbor_body_carries_data_as_raw_bytes_with_the_keys_as_text() {
        let enc = cbor(StreamRef::Name("logs".into()), "k\"\u{e9}", None);
        let mut own = Record::new(1, vec![0, 255, 10]);
        own.partition_key = Some("own".into());
        let records = [Record::new(0, b"hello".to_vec()), own];
        let body = enc.encode(&records);
        assert_eq!(body.len(), enc.encoded_len(&records));
        let mut d = Decoder::new(&body);
        assert_eq!(d.map().unwrap(), Some(2));
        assert_eq!(d.str().unwrap(), "StreamName");
        assert_eq!(d.str().unwrap(), "logs");
        assert_eq!(d.str().unwrap(), "Records");
        assert_eq!(d.array().unwrap(), Some(2));
        let first = record_fields(&mut d);
        assert_eq!(
            first,
            [
                ("Data".into(), b"hello".to_vec()),
                ("PartitionKey".into(), "k\"\u{e9}".into())
            ]
        );
        let second = record_fields(&mut d);
        assert_eq!(
            second,
            [
                ("Data".into(), vec![0, 255, 10]),
                ("PartitionKey".into(), b"own".to_vec())
            ]
        );
        assert_eq!(d.position(), body.len());
    }

    #[test]
    fn explicit_hash_keys_come_from_the_config_or_the_record_and_stream_arns_stay_arns() {
        let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/logs";
        let enc = cbor(StreamRef::Arn(arn.into()), "static", Some("123"));
        let body = crate::encode::built_then_plain(&enc, vec![0xF3; 300]);
        let mut d = Decoder::new(&body);
        d.map().unwrap();
        assert_eq!((d.str().unwrap(), d.str().unwrap()), ("StreamARN", arn));
        d.str().unwrap();
        d.array().unwrap();
        let first = record_fields(&mut d);
        assert_eq!(first[0].1.len(), 300);
        assert_eq!(
            &first[1..],
            [
                ("PartitionKey".into(), b"k".to_vec()),
                ("ExplicitHashKey".into(), b"42".to_vec())
            ]
        );
        let second = record_fields(&mut d);
        assert_eq!(
            &second[1..],
            [
                ("PartitionKey".into(), b"static".to_vec()),
                ("ExplicitHashKey".into(), b"123".to_vec())
            ]
        );
    }

    #[test]
    fn encoded_len_is_exact_across_every_cbor_head_size() {
        let enc = cbor(StreamRef::Name("s".into()), "p", None);
        for size in [0, 23, 24, 255, 256, 65_535, 65_536] {
            for count in [1, 23, 24] {
                let records: Vec<Record> = (0..count).map(|i| Record::new(i, vec![7; size])).collect();
                assert_eq!(
                    enc.encode(&records).len(),
                    enc.encoded_len(&records),
                    "{size} x {count}"
                );
            }
        }
    }
}
