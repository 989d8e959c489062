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
    let long_a = format!("{{\"k\":\"{}a\"}}", "x".repeat(300));
    let long_b = format!("{{\"k\":\"{}b\"}}", "x".repeat(300));
    let a = render("{{k}}", &long_a);
    let b = render("{{k}}", &long_b);
    assert!(a.starts_with("sha256:") && a.len() == 7 + 64, "{a}");
    assert_ne!(a, b, "distinct long keys stay distinct");
    assert_eq!(a, render("{{k}}", &long_a), "and stable");
    let exactly_256 = format!("{{\"k\":\"{}\"}}", "é".repeat(256));
    assert_eq!(render("{{k}}", &exactly_256).chars().count(), 256);
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
