use super::*;

fn render(template: &str, event: &str) -> String {
    PartitionKey::parse(template).unwrap().render(event.as_bytes(), &mut 7)
}

#[test]
fn a_plain_key_is_static() {
    let key = PartitionKey::parse("server-01").unwrap();
    assert_eq!(key.as_static(), Some("server-01"));
    assert_eq!(key.render(b"anything", &mut 1), "server-01");
}

#[test]
fn fields_are_read_nested_or_flat_with_literal_text_around() {
    let event = r#"{"host":{"name":"web-1"},"service.name":"api","code":404,"ok":true,"tags":["a"]}"#;
    assert_eq!(render("{{host.name}}", event), "web-1");
    assert_eq!(render("{{service.name}}/{{host.name}}", event), "api/web-1");
    assert_eq!(render("c{{code}}-{{ok}}-{{tags}}", event), "c404-true-[\"a\"]");
}

#[test]
fn a_missing_field_takes_the_fallback_or_nothing() {
    let event = r#"{"host":{"name":null}}"#;
    assert_eq!(render("{{host.name|unknown}}", event), "unknown");
    assert_eq!(render("h-{{host.name}}", event), "h-");
    assert_eq!(
        render("{{host.name}}", event),
        DEFAULT_KEY,
        "an empty key becomes the default"
    );
    assert_eq!(render("{{host.name|n/a}}", "plain text, not JSON"), "n/a");
    assert_eq!(render("{{a.b|x}}", r#"{"a":"not an object"}"#), "x");
}

#[test]
fn random_keys_differ_per_record() {
    let key = PartitionKey::parse("{{random}}").unwrap();
    let mut seed = 42;
    let keys: std::collections::HashSet<String> = (0..100).map(|_| key.render(b"", &mut seed)).collect();
    assert_eq!(keys.len(), 100);
    assert!(keys.iter().all(|k| k.len() == 16));
}

#[test]
fn keys_over_256_characters_are_hashed_not_truncated() {
    // What is hashed is the whole rendered key (literal text included) as
    // UTF-8; digests from `printf '%s' KEY | sha256sum`.
    let long = format!(r#"{{"k":"{}"}}"#, "x".repeat(300));
    assert_eq!(
        render("key-{{k}}", &long),
        "sha256:8558f73a58abcac348e8a0f536c995756ed610c87a0413c571495c65d989739d",
        "key- and 300 x"
    );
    // 257 characters (514 bytes): over the limit, which counts characters.
    let wide = format!(r#"{{"k":"{}"}}"#, "é".repeat(257));
    assert_eq!(
        render("{{k}}", &wide),
        "sha256:db33c4ce9e8a72562c8f24aa67b7abbabdb848426e8ddfff4ee08f6ae04d1b17",
        "257 é"
    );
    // Keys that differ only past character 256 stay apart.
    let long_b = format!(r#"{{"k":"{}b"}}"#, "x".repeat(299));
    assert_ne!(render("key-{{k}}", &long), render("key-{{k}}", &long_b));
    let exactly_256 = format!(r#"{{"k":"{}"}}"#, "é".repeat(256));
    assert_eq!(
        render("{{k}}", &exactly_256),
        "é".repeat(256),
        "256 characters are kept as they are"
    );
}

#[test]
fn bad_templates_are_refused_with_the_reason() {
    assert!(PartitionKey::parse("a{{host").unwrap_err().contains("not closed"));
    assert!(PartitionKey::parse("{{ }}").unwrap_err().contains("names no field"));
    assert!(PartitionKey::parse("").unwrap_err().contains("1-256"));
    assert!(PartitionKey::parse(&"k".repeat(257)).unwrap_err().contains("1-256"));
}

#[test]
fn json_prints_what_display_prints() {
    let value: Value = serde_json::from_str(r#"{"b":[1,2.5,-3,true,null],"a":{"s":"x\"y\n"}}"#).unwrap();
    assert_eq!(json(&value), value.to_string());
}
