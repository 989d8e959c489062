//! `properties.field_format`: renames an event's fields to one log schema
//! (SPEC section 4).
//!
//! An event that is a JSON object has its own format detected from its keys;
//! then every field of the mapping table moves from the source format's name
//! to the target format's name. ECS, UDM and OCSF are nested (`source.ip` is
//! `{"source":{"ip":..}}`); CIM, ASIM, CEF, LEEF and CSL are flat (the name is
//! one key). Parents a move leaves empty are removed.
//!
//! Detection, first match wins:
//!
//! 1. CIM: `_time`
//! 2. CSL: `TimeGenerated` and `LogSeverity`
//! 3. ASIM: `TimeGenerated`
//! 4. UDM: `metadata.event_type` (nested: `{"metadata":{"event_type":..}}`)
//! 5. OCSF: `class_uid`
//! 6. CEF: `rt`
//! 7. LEEF: `devTime`
//! 8. ECS: `@timestamp`, and any event with none of these keys
//!
//! This is the spec's order except for ECS, which comes last: shippers
//! (Logstash, Beats, Fluent Bit, Vector) add `@timestamp` to events of every
//! schema, so it says the least. An event without any marker is read as ECS
//! rather than by trying every format's names: ECS names are dotted paths an
//! event rarely has by accident, while other formats' names (`user`, `time`,
//! `action`, `src`) are words plain events use for their own things.
//!
//! Rules that keep an event's data whole:
//! - fields with no mapping, and concepts the target format has no name for,
//!   keep their names;
//! - a field whose target name the event already has stays where it is (a
//!   value is never overwritten);
//! - an event already in the target format, or with nothing to rename, is sent
//!   byte for byte as it came;
//! - anything that is not a JSON object (not JSON, arrays, scalars) is sent as
//!   it came; the target counts these.
//!
//! Rewritten events keep their key order, and a renamed top-level field takes
//! its source's place: events are read into `Json`, whose objects are lists.
//! (`serde_json::Value` sorts keys without the `preserve_order` feature, and
//! with it, it makes a bigger component than `Json`.) Numbers are re-printed by
//! serde_json: `1.0e2` becomes `100.0`; integers beyond 64 bits lose precision.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// The log schemas `field_format` names (SPEC 4), in the mapping table's
/// column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFormat {
    Ecs,
    Cim,
    Asim,
    Cef,
    Leef,
    Csl,
    Udm,
    Ocsf,
}

use FieldFormat::*;

impl FieldFormat {
    /// In the order the spec lists the accepted values.
    pub const ALL: [FieldFormat; 8] = [Ecs, Cim, Asim, Cef, Leef, Csl, Ocsf, Udm];

    /// The config value, in lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Ecs => "ecs",
            Cim => "cim",
            Asim => "asim",
            Cef => "cef",
            Leef => "leef",
            Csl => "csl",
            Udm => "udm",
            Ocsf => "ocsf",
        }
    }

    /// A config value, in any case.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(value))
    }

    /// Whether dotted names are nested objects; otherwise a name is one key.
    pub fn is_nested(self) -> bool {
        matches!(self, Ecs | Udm | Ocsf)
    }

    /// The format's name in one row of [`MAPPINGS`], split into its path.
    fn path(self, row: &Row) -> Option<Vec<&'static str>> {
        match row[self as usize] {
            "" => None,
            name if self.is_nested() => Some(name.split('.').collect()),
            name => Some(vec![name]),
        }
    }
}

impl std::fmt::Display for FieldFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One concept's name in each format, in [`FieldFormat`] order; `""` where
/// the format has none.
type Row = [&'static str; 8];

/// SPEC 4's mapping table, row for row.
#[rustfmt::skip]
const MAPPINGS: [Row; 9] = [
    //ecs                  cim           asim                cef                 leef       csl                 udm                               ocsf
    ["@timestamp",        "_time",      "TimeGenerated",    "rt",               "devTime", "TimeGenerated",    "metadata.event_timestamp",       "time"], // timestamp
    ["source.ip",         "src",        "SrcIp",            "src",              "srcAddr", "SourceIp",         "principal.ip",                   "src_endpoint.ip"], // source ip
    ["destination.ip",    "dest",       "DstIp",            "dst",              "dstAddr", "DestinationIp",    "target.ip",                      "dst_endpoint.ip"], // destination ip
    ["network.direction", "direction",  "NetworkDirection", "networkDirection", "netDir",  "NetworkDirection", "network.direction",              "direction_id"], // direction
    ["event.action",      "action",     "EventType",        "",                 "",        "",                 "metadata.product_event_type",    ""], // action
    ["event.severity",    "severity",   "EventSeverity",    "",                 "",        "",                 "security_result.severity",       ""], // severity
    ["source.user.name",  "user",       "ActorUsername",    "",                 "",        "",                 "principal.user.userid",          ""], // user name
    ["source.user.id",    "user_id",    "ActorUserId",      "",                 "",        "",                 "principal.user.windows_sid",     ""], // user id
    ["source.user.email", "user_email", "ActorUserEmail",   "",                 "",        "",                 "principal.user.email_addresses", ""], // user email
];

/// Detection markers in precedence order (see the module doc): a format
/// matches when the event has every one of its paths.
const MARKERS: [(FieldFormat, &[&[&str]]); 8] = [
    (Cim, &[&["_time"]]),
    (Csl, &[&["TimeGenerated"], &["LogSeverity"]]),
    (Asim, &[&["TimeGenerated"]]),
    (Udm, &[&["metadata", "event_type"]]),
    (Ocsf, &[&["class_uid"]]),
    (Cef, &[&["rt"]]),
    (Leef, &[&["devTime"]]),
    (Ecs, &[&["@timestamp"]]),
];

/// What normalizing one event came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Normalized {
    /// Fields were renamed: the event to send instead.
    Renamed(Vec<u8>),
    /// A JSON object already in the format, or with nothing to rename.
    Unchanged,
    /// Not a JSON object: sent as it came.
    NotAnObject,
}

/// Renames the fields of one event to the format `to`.
///
/// ```
/// use kinesis_target::normalize::{FieldFormat, Normalized, normalize};
/// let event = br#"{"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"},"network":{"direction":"inbound"}}"#;
/// let expected = br#"{"src":"10.0.0.1","dest":"10.0.0.2","direction":"inbound"}"#;
/// assert_eq!(normalize(event, FieldFormat::Cim), Normalized::Renamed(expected.to_vec()));
/// ```
pub fn normalize(data: &[u8], to: FieldFormat) -> Normalized {
    let Some(mut event) = parse_object(data) else {
        return Normalized::NotAnObject;
    };
    let from = detect(&event);
    if from == to {
        return Normalized::Unchanged;
    }
    let mut renamed = false;
    for row in &MAPPINGS {
        if let (Some(src), Some(dst)) = (from.path(row), to.path(row)) {
            renamed |= move_field(&mut event, &src, &dst);
        }
    }
    if !renamed {
        return Normalized::Unchanged;
    }
    // Serializing a tree with string keys cannot fail.
    serde_json::to_vec(&Json::Object(event)).map_or(Normalized::Unchanged, Normalized::Renamed)
}

/// The event's own format: the first marker it has, ECS without any.
fn detect(event: &Object) -> FieldFormat {
    MARKERS
        .iter()
        .find(|(_, paths)| paths.iter().all(|path| get(event, path).is_some()))
        .map_or(Ecs, |(format, _)| *format)
}

/// The event as an object, or `None` for anything else.
fn parse_object(data: &[u8]) -> Option<Object> {
    // Cheap early out for plain-text and binary events.
    if data.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    match serde_json::from_slice(data) {
        Ok(Json::Object(event)) => Some(event),
        _ => None,
    }
}

/// Moves the value at `src` to `dst`; false when there is none, or when
/// `dst` is taken (then the event keeps the field where it is).
fn move_field(event: &mut Object, src: &[&str], dst: &[&str]) -> bool {
    if src == dst {
        return false;
    }
    let Some(value) = get(event, src).cloned() else {
        return false;
    };
    let at = src.first().and_then(|key| position(event, key)).unwrap_or(event.len());
    // Insert before taking, so a refused insert leaves the event as it was.
    if insert(event, dst, value, at).is_err() {
        return false;
    }
    take(event, src);
    true
}

/// The value at `path`, if every step on the way is an object.
fn get<'a>(object: &'a Object, path: &[&str]) -> Option<&'a Json> {
    let (first, rest) = path.split_first()?;
    let value = &object[position(object, first)?].1;
    match (rest, value) {
        ([], _) => Some(value),
        (_, Json::Object(child)) => get(child, rest),
        _ => None,
    }
}

/// Removes the value at `path`, and the parents that removing it leaves empty.
fn take(object: &mut Object, path: &[&str]) -> Option<Json> {
    let (first, rest) = path.split_first()?;
    let i = position(object, first)?;
    if rest.is_empty() {
        return Some(object.remove(i).1);
    }
    let Json::Object(child) = &mut object[i].1 else {
        return None;
    };
    let value = take(child, rest)?;
    if child.is_empty() {
        object.remove(i);
    }
    Some(value)
}

/// Puts `value` at `path`, creating the parents it lacks: a new key goes at
/// index `at` (the top level: where the renamed field was) or last (inside
/// an existing object). A path that is taken, or that runs through something
/// other than an object, is left alone and the value handed back.
fn insert(object: &mut Object, path: &[&str], value: Json, at: usize) -> Result<(), Json> {
    let Some((first, rest)) = path.split_first() else {
        return Err(value);
    };
    let Some(i) = position(object, first) else {
        object.insert(at.min(object.len()), (first.to_string(), nested(rest, value)));
        return Ok(());
    };
    match &mut object[i].1 {
        Json::Object(child) if !rest.is_empty() => {
            let end = child.len();
            insert(child, rest, value, end)
        }
        _ => Err(value),
    }
}

/// `value` wrapped in one object per step of `path`.
fn nested(path: &[&str], value: Json) -> Json {
    path.iter()
        .rev()
        .fold(value, |inner, key| Json::Object(vec![(key.to_string(), inner)]))
}

/// Index of `key` in `object` (the first, should the event repeat a key).
fn position(object: &Object, key: &str) -> Option<usize> {
    object.iter().position(|(k, _)| k == key)
}

/// A JSON object with its keys in the event's order (repeats kept).
type Object = Vec<(String, Json)>;

/// A JSON value whose objects keep their key order, unlike
/// `serde_json::Value` without the `preserve_order` feature.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        // serde_json refuses numbers beyond f64 itself, so `n` is finite and
        // `Null` never made. No error built here: `E::custom` links
        // serde_json's message parser (~3 KB).
        Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = Object::new();
        while let Some(entry) = map.next_entry()? {
            object.push(entry);
        }
        Ok(Json::Object(object))
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(object) => serializer.collect_map(object.iter().map(|(k, v)| (k, v))),
        }
    }
}

#[cfg(test)]
mod tests;
