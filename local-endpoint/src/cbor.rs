//! The CBOR protocol (`application/x-amz-cbor-1.1`) on the local endpoint.
//!
//! A request body is turned into the JSON the operations already read, with
//! byte strings as base64 text (how JSON 1.1 carries `Data`), and an answer
//! is written back from their JSON. kinesis-local does the same in reverse:
//! it answers a CBOR `GetRecords` with `Data` as text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minicbor::data::Type;
use minicbor::{Decoder, Encoder};
use serde_json::{Map, Number, Value};

/// Content type of the CBOR protocol.
pub(super) const CBOR_1_1: &str = "application/x-amz-cbor-1.1";

/// Deepest nesting read; Kinesis shapes are three levels deep.
const MAX_DEPTH: usize = 16;

/// The JSON text of a CBOR request body.
pub(super) fn to_json(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut d = Decoder::new(body);
    let value = item(&mut d, 0)?;
    if d.position() != body.len() {
        return Err(format!("{} bytes after the body", body.len() - d.position()));
    }
    Ok(serde_json::to_vec(&value).expect("JSON values serialize"))
}

/// The CBOR form of a JSON answer (definite lengths, as kinesis-local writes);
/// an answer that is not JSON (an injected malformed one) goes as it is.
pub(super) fn from_json(json: &[u8]) -> Vec<u8> {
    let Ok(value) = serde_json::from_slice::<Value>(json) else {
        return json.to_vec();
    };
    let mut out = Vec::new();
    write(&mut Encoder::new(&mut out), &value).expect("writing into a Vec");
    out
}

fn item(d: &mut Decoder, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("nested too deep".into());
    }
    let e = |e: minicbor::decode::Error| e.to_string();
    Ok(match d.datatype().map_err(e)? {
        Type::Bool => Value::Bool(d.bool().map_err(e)?),
        Type::Null | Type::Undefined => {
            d.skip().map_err(e)?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64().map_err(e)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64().map_err(e)?),
        Type::F16 | Type::F32 | Type::F64 => Number::from_f64(d.f64().map_err(e)?).map_or(Value::Null, Value::Number),
        Type::Bytes => Value::String(STANDARD.encode(d.bytes().map_err(e)?)),
        Type::BytesIndef => {
            let chunks: Result<Vec<&[u8]>, _> = d.bytes_iter().map_err(e)?.collect();
            Value::String(STANDARD.encode(chunks.map_err(e)?.concat()))
        }
        Type::String => Value::String(d.str().map_err(e)?.to_string()),
        Type::StringIndef => Value::String(d.str_iter().map_err(e)?.collect::<Result<String, _>>().map_err(e)?),
        Type::Array | Type::ArrayIndef => {
            let len = d.array().map_err(e)?;
            let mut items = Vec::new();
            while more(d, len, items.len())? {
                items.push(item(d, depth + 1)?);
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let len = d.map().map_err(e)?;
            let mut map = Map::new();
            let mut seen = 0;
            while more(d, len, seen)? {
                let Value::String(key) = item(d, depth + 1)? else {
                    return Err("a map key is not text".into());
                };
                map.insert(key, item(d, depth + 1)?);
                seen += 1;
            }
            Value::Object(map)
        }
        Type::Tag => {
            d.tag().map_err(e)?;
            item(d, depth + 1)?
        }
        other => return Err(format!("unexpected {other}")),
    })
}

/// Whether a list or map of `len` items (`None`: up to a break) has more after `seen`.
fn more(d: &mut Decoder, len: Option<u64>, seen: usize) -> Result<bool, String> {
    match len {
        Some(n) => Ok((seen as u64) < n),
        None if d.datatype().map_err(|e| e.to_string())? == Type::Break => {
            d.set_position(d.position() + 1);
            Ok(false)
        }
        None => Ok(true),
    }
}

fn write(
    e: &mut Encoder<&mut Vec<u8>>,
    value: &Value,
) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
    match value {
        Value::Null => e.null().map(drop),
        Value::Bool(b) => e.bool(*b).map(drop),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => e.u64(u).map(drop),
            (None, Some(i)) => e.i64(i).map(drop),
            _ => e.f64(n.as_f64().unwrap_or(0.0)).map(drop),
        },
        Value::String(s) => e.str(s).map(drop),
        Value::Array(items) => {
            e.array(items.len() as u64)?;
            items.iter().try_for_each(|v| write(e, v))
        }
        Value::Object(map) => {
            e.map(map.len() as u64)?;
            map.iter().try_for_each(|(k, v)| {
                e.str(k)?;
                write(e, v)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cbor_put_records_reads_as_the_json_shape_with_data_in_base64() {
        let mut body = Vec::new();
        let mut e = Encoder::new(&mut body);
        e.begin_map().unwrap().str("StreamName").unwrap().str("s").unwrap();
        e.str("Records").unwrap().array(1).unwrap();
        e.map(2).unwrap().str("Data").unwrap().bytes(&[0, 255]).unwrap();
        e.str("PartitionKey").unwrap().str("k").unwrap().end().unwrap();
        let json: Value = serde_json::from_slice(&to_json(&body).unwrap()).unwrap();
        assert_eq!(json["Records"][0]["Data"], "AP8=");
        assert_eq!(json["StreamName"], "s");
    }

    #[test]
    fn a_json_answer_round_trips_through_cbor() {
        let json = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-0"}],"x":-1.5}"#;
        let back: Value = serde_json::from_slice(&to_json(&from_json(json)).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_slice::<Value>(json).unwrap());
    }
}
