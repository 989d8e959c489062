//! Typed, path-aware reads of the JSON config: every error names the field.

use super::ConfigError;
use crate::json::kind;
use crate::partition_key::json;
use serde_json::{Map, Value};
use std::time::Duration;

/// A JSON object being read, with its dotted path for error messages.
pub(super) struct Obj<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(path: &'a str, value: &'a Value) -> Result<Self, ConfigError> {
        match value {
            Value::Object(map) => Ok(Self { path, map }),
            other => Err(ConfigError::new(
                if path.is_empty() { "(config)" } else { path },
                format!("must be an object, got {}", kind(other)),
            )),
        }
    }

    pub(super) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn missing(&self, key: &str) -> ConfigError {
        ConfigError::new(self.field(key), "required")
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(super) fn deny_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        // `iter`, which serde_json links anyway, rather than a second BTreeMap iterator (`keys`).
        match self.map.iter().map(|(k, _)| k).find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ConfigError::new(
                self.field(k),
                format!("unknown field (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(ConfigError::new(
                self.field(key),
                format!("must be a string, got {}", kind(other)),
            )),
        }
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(ConfigError::new(
                self.field(key),
                format!("must be true or false, got {}", json(other)),
            )),
        }
    }

    pub(super) fn uint(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        let parsed = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        let shown = self.map.get(key).map(json).unwrap_or_default();
        match parsed {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError::new(
                self.field(key),
                format!("must be {min}..={max}, got {shown}"),
            )),
        }
    }

    /// A positive number of seconds, at most an hour.
    pub(super) fn seconds(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        let parsed = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => parse_f64(s.trim().trim_end_matches('s')),
            Some(_) => None,
        };
        let shown = self.map.get(key).map(json).unwrap_or_default();
        match parsed {
            Some(s) if s > 0.0 && s <= 3600.0 => Ok(Some(Duration::from_secs_f64(s))),
            _ => Err(ConfigError::new(
                self.field(key),
                format!("must be seconds in (0, 3600], got {shown}"),
            )),
        }
    }

    pub(super) fn string_list(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            // A loop, not `collect::<Result<Vec<_>, _>>()`: that adapter costs ~1 KB.
            Some(Value::Array(items)) => {
                let mut strings = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    match v {
                        Value::String(s) => strings.push(s.clone()),
                        other => {
                            return Err(ConfigError::new(
                                format!("{}[{i}]", self.field(key)),
                                format!("must be a string, got {}", kind(other)),
                            ));
                        }
                    }
                }
                Ok(strings)
            }
            Some(other) => Err(ConfigError::new(
                self.field(key),
                format!("must be a list, got {}", kind(other)),
            )),
        }
    }
}

/// A number written as JSON writes it (`2.5`, `30`, `1e3`), read by serde_json:
/// core's own float parser and its tables would add ~16 KB to the component
/// for the two fields that take fractions.
pub(super) fn parse_f64(s: &str) -> Option<f64> {
    // As a `Value` from a slice: the reader and visitor the component already links.
    serde_json::from_slice::<Value>(s.as_bytes()).ok()?.as_f64()
}
