//! Answers in CBOR (`application/x-amz-cbor-1.1`): the same fields as JSON
//! 1.1, read with minicbor straight from the body. Definite and
//! indefinite lengths are both read, as any CBOR encoder may choose either.

use super::{Entry, EntryField};
use minicbor::Decoder;
use minicbor::data::Type;
use std::borrow::Cow;

type Read<T> = Result<T, String>;

/// The entries of `body`'s `Records`, in order.
pub(super) fn entries(body: &[u8]) -> Read<Vec<Entry<'_>>> {
    let d = &mut Decoder::new(body);
    let mut records = None;
    each_pair(d, "the answer", |d, key| {
        match key {
            "Records" if records.is_none() => records = Some(list(d, body.len())?),
            _ => skip(d)?,
        }
        Ok(())
    })?;
    if d.position() != body.len() {
        return Err(format!("{} bytes after the answer", body.len() - d.position()));
    }
    records.ok_or_else(|| "missing field `Records`".into())
}

/// An error answer's code (`__type`) and message, if the body is a CBOR map.
pub(super) fn error_fields(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let d = &mut Decoder::new(body);
    let (mut code, mut message) = (None, None);
    each_pair(d, "the error", |d, key| {
        let slot = match key {
            "__type" | "code" | "Code" => &mut code,
            "message" | "Message" | "errorMessage" => &mut message,
            _ => return skip(d),
        };
        if let Some(text) = text_or_null(d, key)? {
            slot.get_or_insert(text.into_owned());
        }
        Ok(())
    })
    .ok()?;
    Some((code, message))
}

/// `Records`: a list of entries; `limit` bounds what is reserved up front.
fn list<'b>(d: &mut Decoder<'b>, limit: usize) -> Read<Vec<Entry<'b>>> {
    let found = d.datatype().map_err(said)?;
    if !matches!(found, Type::Array | Type::ArrayIndef) {
        return Err(format!("Records is {}, expected a list", kind(found)));
    }
    let len = d.array().map_err(said)?;
    let mut records = Vec::with_capacity(len.unwrap_or(0).min(limit as u64) as usize);
    while more(d, len, records.len() as u64)? {
        let mut entry = Entry::default();
        each_pair(d, "a Records item", |d, key| match EntryField::named(key) {
            Some(field) => {
                *entry.slot(field) = text_or_null(d, field.name())?;
                Ok(())
            }
            None => skip(d),
        })?;
        records.push(entry);
    }
    Ok(records)
}

/// Calls `read` with each key of the map at `d`; `read` consumes the value.
fn each_pair<'b>(
    d: &mut Decoder<'b>,
    what: &str,
    mut read: impl FnMut(&mut Decoder<'b>, &str) -> Read<()>,
) -> Read<()> {
    let found = d.datatype().map_err(said)?;
    if !matches!(found, Type::Map | Type::MapIndef) {
        return Err(format!("{what} is {}, expected an object", kind(found)));
    }
    let len = d.map().map_err(said)?;
    let mut seen = 0;
    while more(d, len, seen)? {
        match text_or_null(d, "a field name")? {
            Some(key) => read(d, &key)?,
            None => return Err(format!("{what} has a field name that is not text")),
        }
        seen += 1;
    }
    Ok(())
}

/// Whether a list or map of `len` items (`None`: up to a break) has more
/// after `seen`; consumes the break.
fn more(d: &mut Decoder, len: Option<u64>, seen: u64) -> Read<bool> {
    match len {
        Some(n) => Ok(seen < n),
        None if d.datatype().map_err(said)? == Type::Break => {
            d.set_position(d.position() + 1);
            Ok(false)
        }
        None => Ok(true),
    }
}

/// A text item (borrowed, or joined from chunks), or `None` for null and undefined.
fn text_or_null<'b>(d: &mut Decoder<'b>, what: &str) -> Read<Option<Cow<'b, str>>> {
    if let Some(text) = short_text(d) {
        return Ok(Some(Cow::Borrowed(text)));
    }
    // Null (0xf6) and undefined (0xf7) are one byte; kinesis-local sends
    // `ErrorCode` and `ErrorMessage` as null in every delivered record.
    if let Some(0xf6 | 0xf7) = d.input().get(d.position()) {
        d.set_position(d.position() + 1);
        return Ok(None);
    }
    let text = match d.datatype().map_err(said)? {
        Type::String => d.str().map(Cow::Borrowed),
        Type::StringIndef => d
            .str_iter()
            .and_then(|chunks| chunks.collect::<Result<String, _>>())
            .map(Cow::Owned),
        other => return Err(format!("{what} is {}, expected a string", kind(other))),
    };
    text.map(Some).map_err(said)
}

/// What went wrong, without minicbor's `Display` (~4.6 KB of component for
/// its type names and messages).
fn said(e: minicbor::decode::Error) -> String {
    match (e.is_end_of_input(), e.position()) {
        (true, _) => "the answer ends early".into(),
        (false, Some(at)) => format!("not valid CBOR at byte {at}"),
        (false, None) => "not valid CBOR".into(),
    }
}

/// Text of fewer than 256 bytes (field names, shard ids, sequence numbers)
/// read from its one- or two-byte head, without minicbor's type dispatch:
/// most of an answer is such items. `None` (anything else, or text that is
/// not UTF-8, which the general read then reports) leaves `d` where it was.
fn short_text<'b>(d: &mut Decoder<'b>) -> Option<&'b str> {
    let at = d.position();
    let input = d.input();
    let (len, head) = match *input.get(at)? {
        b @ 0x60..=0x77 => (usize::from(b - 0x60), 1),
        0x78 => (usize::from(*input.get(at + 1)?), 2),
        _ => return None,
    };
    let start = at + head;
    let text = std::str::from_utf8(input.get(start..start + len)?).ok()?;
    d.set_position(start + len);
    Some(text)
}

fn skip(d: &mut Decoder) -> Read<()> {
    d.skip().map_err(said)
}

fn kind(found: Type) -> &'static str {
    match found {
        Type::Map | Type::MapIndef => "an object",
        Type::Array | Type::ArrayIndef => "a list",
        Type::String | Type::StringIndef => "a string",
        Type::Bytes | Type::BytesIndef => "a byte string",
        Type::Bool => "a boolean",
        Type::Null | Type::Undefined => "null",
        Type::Tag => "a tagged item",
        Type::Break => "a break",
        Type::Simple | Type::Unknown(_) => "an unknown item",
        _ => "a number",
    }
}
