//! The `Records` of a JSON 1.1 PutRecords answer, read as the parser goes:
//! no `serde_json::Value` tree, no key strings, values borrowed from the
//! answer (a `String` only for one with escapes).
//!
//! Written as visitors over `deserialize_any` that handle every JSON type:
//! serde's defaults for the types a visitor does not expect, and serde_json's
//! typed entry points (`deserialize_map`, `deserialize_string`), report
//! through `invalid_type`, which links core's float formatting into the
//! component (BENCHMARKS.md, size notes).

use super::{Entry, EntryField, MAX_RECORDS};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The entries of `body`'s `Records`, in order; `expected` of them, if it is
/// right. The compact form Kinesis writes is read without serde.
pub(super) fn entries(body: &[u8], expected: usize) -> Result<Vec<Entry<'_>>, String> {
    match super::compact::entries(body, expected) {
        Some(records) => Ok(records),
        None => general(body, expected),
    }
}

/// [`entries`] for any JSON: whitespace, escapes, fields in any order.
pub(super) fn general(body: &[u8], expected: usize) -> Result<Vec<Entry<'_>>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let records = Shape::Answer(expected)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    match records {
        Read::Records(records) => Ok(records),
        _ => Err("missing field `Records`".into()),
    }
}

/// What is being read, so a wrong type is named by where it is.
#[derive(Clone, Copy)]
enum Shape {
    /// The answer object, with `Records` of this many items expected.
    Answer(usize),
    /// The `Records` list, and how many items to make room for.
    Records(usize),
    /// One item of `Records`.
    Entry,
    /// A string field of an item, or null.
    Text(EntryField),
}

enum Read<'a> {
    Records(Vec<Entry<'a>>),
    Entry(Entry<'a>),
    Text(Option<Cow<'a, str>>),
    /// The answer without `Records`.
    Nothing,
}

impl Shape {
    fn what(self) -> &'static str {
        match self {
            Shape::Answer(_) => "the answer",
            Shape::Records(_) => "Records",
            Shape::Entry => "a Records item",
            Shape::Text(field) => field.name(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Shape::Answer(_) | Shape::Entry => "an object",
            Shape::Records(_) => "a list",
            Shape::Text(_) => "a string",
        }
    }

    fn wrong<'a, E: de::Error>(self, found: &str) -> Result<Read<'a>, E> {
        Err(E::custom(format_args!(
            "{} is {found}, expected {}",
            self.what(),
            self.expected()
        )))
    }
}

impl<'de> DeserializeSeed<'de> for Shape {
    type Value = Read<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Read<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shape {
    type Value = Read<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read<'de>, A::Error> {
        let (mut read, expected) = match self {
            Shape::Answer(expected) => (Read::Nothing, expected),
            Shape::Entry => (Read::Entry(Entry::default()), 0),
            _ => return self.wrong("an object"),
        };
        while let Some(field) = map.next_key_seed(FieldName)? {
            match (&mut read, field) {
                (Read::Nothing, Field::Records) => read = map.next_value_seed(Shape::Records(expected))?,
                (Read::Entry(entry), Field::Entry(field)) => {
                    if let Read::Text(text) = map.next_value_seed(Shape::Text(field))? {
                        *entry.slot(field) = text;
                    }
                }
                _ => {
                    // Read as a `Value`, not `IgnoredAny`: the config reader
                    // already links `Value`'s code; skipping is ~3 KB more.
                    map.next_value::<serde_json::Value>()?;
                }
            }
        }
        Ok(read)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read<'de>, A::Error> {
        let Shape::Records(expected) = self else {
            return self.wrong("a list");
        };
        // The parser gives no size hint; a PutRecords answer has one item per record sent.
        let mut records = Vec::with_capacity(expected.min(MAX_RECORDS));
        while let Some(read) = seq.next_element_seed(Shape::Entry)? {
            if let Read::Entry(entry) = read {
                records.push(entry);
            }
        }
        Ok(Read::Records(records))
    }

    /// A value without escapes, in the answer as it is: no copy.
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Read<'de>, E> {
        match self {
            Shape::Text(_) => Ok(Read::Text(Some(Cow::Borrowed(s)))),
            _ => self.wrong("a string"),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Read<'de>, E> {
        match self {
            Shape::Text(_) => Ok(Read::Text(Some(Cow::Owned(s.to_string())))),
            _ => self.wrong("a string"),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Read<'de>, E> {
        match self {
            Shape::Text(_) => Ok(Read::Text(Some(Cow::Owned(s)))),
            _ => self.wrong("a string"),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Read<'de>, E> {
        match self {
            Shape::Text(_) => Ok(Read::Text(None)),
            _ => self.wrong("null"),
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Read<'de>, E> {
        self.wrong("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Read<'de>, E> {
        self.wrong("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Read<'de>, E> {
        self.wrong("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Read<'de>, E> {
        self.wrong("a number")
    }
}

/// The fields we read; every other key is skipped unread.
enum Field {
    Records,
    Entry(EntryField),
    Other,
}

struct FieldName;

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldName {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match (name, EntryField::named(name)) {
            ("Records", _) => Field::Records,
            (_, Some(field)) => Field::Entry(field),
            _ => Field::Other,
        })
    }
}
