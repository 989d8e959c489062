//! The PutRecords body in the JSON 1.1 protocol: each event's data base64'd
//! straight into a body allocated at its exact final size.

use super::{StreamRef, Wire, json_string, seal};

/// JSON 1.1 bodies for one stream and partition key.
#[derive(Debug, Clone)]
pub(super) struct JsonBody {
    /// `{"StreamName":"...","Records":[`
    prefix: Vec<u8>,
    /// `"...",` the static key, JSON-escaped once.
    static_key: Vec<u8>,
    /// `,"ExplicitHashKey":"..."}` or `}`.
    record_end: Vec<u8>,
}

const RECORD_PREFIX: &[u8] = br#"{"Data":""#;
const KEY_FIELD: &[u8] = br#"","PartitionKey":"#;
const HASH_KEY_FIELD: &[u8] = br#","ExplicitHashKey":""#;
const HASH_KEY_END: &[u8] = br#""}"#;
const BODY_SUFFIX: &[u8] = b"]}";

impl JsonBody {
    pub(super) fn new(stream: &StreamRef, partition_key: &str, explicit_hash_key: Option<&str>) -> Self {
        let (field, name) = match stream {
            StreamRef::Name(n) => ("StreamName", n),
            StreamRef::Arn(a) => ("StreamARN", a),
        };
        let prefix = format!(r#"{{"{field}":{},"Records":["#, json_string(name)).into_bytes();
        let record_end = match explicit_hash_key {
            Some(hash) => format!(r#","ExplicitHashKey":{}}}"#, json_string(hash)),
            None => "}".to_string(),
        };
        Self {
            prefix,
            static_key: json_string(partition_key).into_bytes(),
            record_end: record_end.into_bytes(),
        }
    }

    /// Exact body length for these records.
    pub(super) fn encoded_len<R: Wire>(&self, records: &[R]) -> usize {
        let data: usize = records.iter().map(|r| base64_len(r.data_len())).sum();
        let count = records.len();
        let per_record = RECORD_PREFIX.len() + KEY_FIELD.len();
        let keys: usize = records
            .iter()
            .map(|r| match r.partition_key() {
                Some(key) => json_string(key).len(),
                None => self.static_key.len(),
            })
            .sum();
        let ends: usize = records
            .iter()
            .map(|r| match r.explicit_hash_key() {
                Some(hash) => HASH_KEY_FIELD.len() + hash.len() + HASH_KEY_END.len(),
                None => self.record_end.len(),
            })
            .sum();
        self.prefix.len() + data + keys + ends + count * per_record + count.saturating_sub(1) + BODY_SUFFIX.len()
    }

    /// The request body for these records, in order.
    pub(super) fn encode<R: Wire>(&self, records: &[R]) -> Vec<u8> {
        let len = self.encoded_len(records);
        let mut body = Vec::with_capacity(len);
        body.extend_from_slice(&self.prefix);
        // Four records' data at a time, so that aggregates among them have
        // their MD5 trailers hashed side by side (one lane each), and no more
        // than four are built at once.
        let mut data = Vec::with_capacity(4);
        for (c, chunk) in records.chunks(4).enumerate() {
            data.clear();
            data.extend(chunk.iter().map(Wire::data));
            seal(&mut data);
            for (i, (record, (bytes, _))) in chunk.iter().zip(&data).enumerate() {
                self.write_record(&mut body, c + i > 0, record, bytes);
            }
        }
        body.extend_from_slice(BODY_SUFFIX);
        debug_assert_eq!(body.len(), len);
        body
    }

    /// One record, after a comma unless it is the first.
    fn write_record<R: Wire>(&self, body: &mut Vec<u8>, comma: bool, record: &R, data: &[u8]) {
        if comma {
            body.push(b',');
        }
        body.extend_from_slice(RECORD_PREFIX);
        // Appended into the capacity reserved above: no zeroing first.
        base64_simd::STANDARD.encode_append(data, body);
        body.extend_from_slice(KEY_FIELD);
        match record.partition_key() {
            Some(key) => body.extend_from_slice(json_string(key).as_bytes()),
            None => body.extend_from_slice(&self.static_key),
        }
        match record.explicit_hash_key() {
            Some(hash) => {
                body.extend_from_slice(HASH_KEY_FIELD);
                body.extend_from_slice(hash.as_bytes());
                body.extend_from_slice(HASH_KEY_END);
            }
            None => body.extend_from_slice(&self.record_end),
        }
    }
}

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Record;
    use crate::encode::PutRecordsEncoder;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn rec(data: &[u8]) -> Record {
        Record::new(0, data.to_vec())
    }

    #[test]
    fn body_round_trips_through_a_json_parser() {
        let enc = PutRecordsEncoder::new(&StreamRef::Name("s".into()), "k\"ey\u{e9}\n", None);
        let records = [rec(b""), rec(&[0, 255, 10, 13]), rec("héllo".as_bytes())];
        let body = enc.encode(&records);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["StreamName"], "s");
        let recs = v["Records"].as_array().unwrap();
        assert_eq!(recs.len(), 3);
        for (r, sent) in records.iter().zip(recs) {
            assert_eq!(STANDARD.decode(sent["Data"].as_str().unwrap()).unwrap(), &r.data[..]);
            assert_eq!(sent["PartitionKey"], "k\"ey\u{e9}\n");
        }
    }

    #[test]
    fn stream_arn_is_sent_as_stream_arn() {
        let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/logs";
        let body = PutRecordsEncoder::new(&StreamRef::Arn(arn.into()), "p", None).encode(&[rec(b"x")]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["StreamARN"], arn);
        assert!(v.get("StreamName").is_none());
    }

    #[test]
    fn encoded_len_is_exact_for_every_padding() {
        let enc = PutRecordsEncoder::new(&StreamRef::Name("s".into()), "p", None);
        for n in 0..7 {
            let records: Vec<Record> = (0..n).map(|i| rec(&vec![7; i * 5 + 1])).collect();
            assert_eq!(enc.encode(&records).len(), enc.encoded_len(&records));
        }
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;
    use crate::batch::Record;
    use crate::encode::PutRecordsEncoder;

    #[test]
    fn records_with_their_own_key_and_an_explicit_hash_key_are_encoded_exactly() {
        let enc = PutRecordsEncoder::new(&StreamRef::Name("s".into()), "static", Some("123"));
        let mut own = Record::new(1, b"x".to_vec());
        own.partition_key = Some("h\u{e9}\"1".into());
        let records = [Record::new(0, b"y".to_vec()), own];
        let body = enc.encode(&records);
        assert_eq!(body.len(), enc.encoded_len(&records));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Records"][0]["PartitionKey"], "static");
        assert_eq!(v["Records"][1]["PartitionKey"], "h\u{e9}\"1");
        assert_eq!(v["Records"][1]["ExplicitHashKey"], "123");
    }

    #[test]
    fn a_built_record_carries_its_own_hash_key() {
        let enc = PutRecordsEncoder::new(&StreamRef::Name("s".into()), "static", Some("123"));
        let body = crate::encode::built_then_plain(&enc, vec![0xF3, 0x89]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Records"][0]["ExplicitHashKey"], "42");
        assert_eq!(v["Records"][0]["PartitionKey"], "k");
        assert_eq!(v["Records"][0]["Data"], "84k=");
        assert_eq!(v["Records"][1]["ExplicitHashKey"], "123");
        assert_eq!(v["Records"][1]["PartitionKey"], "static");
    }
}
