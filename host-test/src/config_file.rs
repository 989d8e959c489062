//! The user's config file: a `targets:` list (or one target) in YAML or JSON,
//! with `${VAR}` references replaced from the environment.
//!
//! Substitution happens in string values after parsing, so a value can never
//! change the file's structure. `${VAR:-fallback}` gives a default, `$${`
//! writes a literal `${`, and an unset variable without a default is an error
//! (a silently empty secret would only fail later, less clearly).

use serde_json::Value;

/// One target definition from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDef {
    /// Position in the `targets:` list, for error messages.
    pub index: usize,
    pub name: String,
    pub kind: String,
    /// The definition with `${VAR}` replaced, as the component's `configure` takes it.
    pub definition: Value,
}

/// Parses a config file's text; `env` looks variables up.
///
/// ```
/// let defs = kinesis_host::config_file::parse(
///     "targets:\n  - name: a\n    type: amazonkinesis\n    properties: {stream: \"${S}\"}\n",
///     |v| (v == "S").then(|| "logs".to_string()),
/// ).unwrap();
/// assert_eq!(defs[0].definition["properties"]["stream"], "logs");
/// ```
pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Vec<TargetDef>, String> {
    let mut root: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML or JSON: {e}"))?;
    substitute(&mut root, &env, "")?;
    let (list, prefix) = match root {
        Value::Object(ref mut map) if map.contains_key("targets") => match map.remove("targets") {
            Some(Value::Array(items)) => (items, "targets"),
            _ => return Err("targets: must be a list".into()),
        },
        Value::Object(_) => (vec![root], "(target)"),
        _ => return Err("must be a mapping with a targets: list, or one target".into()),
    };
    let mut defs = Vec::with_capacity(list.len());
    for (index, definition) in list.into_iter().enumerate() {
        let field = |f: &str| format!("{prefix}[{index}].{f}");
        let text_of = |key: &str| definition.get(key).and_then(Value::as_str).map(str::to_string);
        let name = text_of("name").ok_or_else(|| format!("{}: required", field("name")))?;
        let kind = text_of("type").ok_or_else(|| format!("{}: required", field("type")))?;
        if defs.iter().any(|d: &TargetDef| d.name == name) {
            return Err(format!("{}: duplicate target name {name:?}", field("name")));
        }
        defs.push(TargetDef {
            index,
            name,
            kind,
            definition,
        });
    }
    if defs.is_empty() {
        return Err("targets: the list is empty".into());
    }
    Ok(defs)
}

fn substitute(value: &mut Value, env: &impl Fn(&str) -> Option<String>, path: &str) -> Result<(), String> {
    match value {
        Value::String(s) if s.contains('$') => *s = expand(s, env).map_err(|e| format!("{path}: {e}"))?,
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute(item, env, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                substitute(v, env, &child)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands `${VAR}`, `${VAR:-default}` and `$${` in one string.
fn expand(s: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let end = body.find('}').ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            match (env(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(format!("environment variable {name} is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail['$'.len_utf8()..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("AKID".into()),
            "N" => Some("100".into()),
            _ => None,
        }
    }

    #[test]
    fn env_references_are_replaced_in_string_values_only() {
        let defs = parse(
            "targets:\n- name: t\n  type: amazonkinesis\n  properties:\n    key: ${KEY}\n    max_events: ${N}\n    secret: 'a$b$${x}'\n    region: ${REGION:-eu-west-1}\n",
            env,
        )
        .unwrap();
        let p = &defs[0].definition["properties"];
        assert_eq!(p["key"], "AKID");
        assert_eq!(p["max_events"], "100");
        assert_eq!(p["secret"], "a$b${x}");
        assert_eq!(p["region"], "eu-west-1");
    }

    #[test]
    fn unset_variable_names_the_field() {
        let err = parse("name: t\ntype: amazonkinesis\nproperties: {secret: '${NOPE}'}\n", env).unwrap_err();
        assert_eq!(err, "properties.secret: environment variable NOPE is not set");
    }

    #[test]
    fn a_single_target_and_json_are_accepted() {
        let defs = parse(r#"{"name":"one","type":"amazonkinesis","properties":{}}"#, env).unwrap();
        assert_eq!(defs[0].name, "one");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let err = parse(
            "targets:\n- {name: a, type: amazonkinesis}\n- {name: a, type: amazonkinesis}\n",
            env,
        );
        assert_eq!(err.unwrap_err(), "targets[1].name: duplicate target name \"a\"");
    }
}
