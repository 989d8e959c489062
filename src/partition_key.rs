//! The partition key of each record: static, or rendered per event from a
//! template with `{{field.path}}` placeholders.
//!
//! `{{` cannot clash with `${VAR}` substitution in config files, which the
//! host does before the component sees the config.
//!
//! - `{{host.name}}`: the event's field. The path is looked up as one flat key
//!   first, then as nested objects. A string is used as it is, anything else
//!   as its JSON text. The event must be a JSON object.
//! - `{{host.name|unknown}}`: `unknown` when the field is missing or null
//!   (or the event is not a JSON object). Without a fallback, a missing field
//!   renders as nothing, and a key that renders empty becomes `default`.
//! - `{{random}}`: 16 random hex digits per record, to spread records evenly
//!   over the shards when there is no good key (order is then not kept).
//! - A key longer than 256 characters (the Kinesis limit) is replaced by
//!   `sha256:` and the hex SHA-256 of the key: stable, so records of one long
//!   key stay on one shard, and distinct long keys do not collide the way
//!   truncated ones would.

use crate::rng::Draw;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Kinesis' limit on a partition key, in Unicode characters.
pub const MAX_KEY_CHARS: usize = 256;
/// What an empty rendered key becomes (the spec's default key).
pub const DEFAULT_KEY: &str = "default";

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field { path: String, fallback: Option<String> },
    Random,
}

/// A parsed `partition_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    parts: Vec<Part>,
}

impl PartitionKey {
    /// Parses a template; the error says what is wrong, for `properties.partition_key`.
    ///
    /// ```
    /// use kinesis_target::partition_key::PartitionKey;
    /// let key = PartitionKey::parse("web-{{host.name|unknown}}").unwrap();
    /// let mut seed = 1;
    /// assert_eq!(key.render(br#"{"host":{"name":"a1"}}"#, &mut seed), "web-a1");
    /// assert_eq!(key.render(b"not json", &mut seed), "web-unknown");
    /// ```
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or("a `{{` is not closed by `}}`")?;
            let inner = &after[..close];
            let (path, fallback) = match inner.split_once('|') {
                Some((p, f)) => (p.trim(), Some(f.to_string())),
                None => (inner.trim(), None),
            };
            if path.is_empty() || path.contains(['{', '}']) {
                return Err(format!("`{{{{{inner}}}}}` names no field"));
            }
            parts.push(if path == "random" && fallback.is_none() {
                Part::Random
            } else {
                Part::Field {
                    path: path.to_string(),
                    fallback,
                }
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        let key = Self { parts };
        if let Some(text) = key.as_static() {
            let chars = text.chars().count();
            if !(1..=MAX_KEY_CHARS).contains(&chars) {
                return Err(format!("must be 1-{MAX_KEY_CHARS} characters, got {chars}"));
            }
        }
        Ok(key)
    }

    /// The key when it does not depend on the event.
    pub fn as_static(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// Whether rendering needs the event's fields (and so a JSON parse).
    fn reads_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field { .. }))
    }

    /// The key for one event. `random` feeds `{{random}}` (spread, not secrecy).
    pub fn render(&self, data: &[u8], random: &mut impl Draw) -> String {
        let event: Option<Value> = if self.reads_fields() {
            serde_json::from_slice(data).ok()
        } else {
            None
        };
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Random => {
                    key.push_str(&hex::encode(random.next_u64().to_be_bytes()));
                }
                Part::Field { path, fallback } => match event.as_ref().and_then(|e| lookup(e, path)) {
                    Some(Value::String(s)) => key.push_str(s),
                    Some(other) => key.push_str(&json(other)),
                    None => key.push_str(fallback.as_deref().unwrap_or("")),
                },
            }
        }
        fit(key)
    }
}

/// `v` as compact JSON, what its `Display` prints; `Display` also links
/// serde_json's pretty printer (for `{:#}`), which nothing here uses.
pub(crate) fn json(v: &Value) -> String {
    // Serializing a `Value` cannot fail: its keys are strings.
    serde_json::to_string(v).unwrap_or_default()
}

/// `a.b.c`: the flat key `"a.b.c"` if the object has it, else nested objects.
fn lookup<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    let object = event.as_object()?;
    let found = match object.get(path) {
        Some(v) => Some(v),
        None => path.split('.').try_fold(event, |v, name| v.as_object()?.get(name)),
    };
    found.filter(|v| !v.is_null())
}

/// Empty keys become `default`; keys over the limit become their hash.
fn fit(key: String) -> String {
    if key.is_empty() {
        return DEFAULT_KEY.to_string();
    }
    if key.chars().count() <= MAX_KEY_CHARS {
        return key;
    }
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

#[cfg(test)]
mod tests;
