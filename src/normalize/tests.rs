//! Normalization against SPEC 4: its mapping table (copied below, so a change
//! to [`MAPPINGS`] that drifts from the spec fails here), detection, and the
//! rules that keep an event whole.

use super::*;
use serde_json::{Value, json};

/// SPEC 4's mapping table, verbatim.
const SPEC_TABLE: &str = "
| concept | ecs | cim | asim | cef | leef | csl | udm | ocsf |
|---|---|---|---|---|---|---|---|---|
| timestamp | `@timestamp` | `_time` | `TimeGenerated` | `rt` | `devTime` | `TimeGenerated` | `metadata.event_timestamp` | `time` |
| source ip | `source.ip` | `src` | `SrcIp` | `src` | `srcAddr` | `SourceIp` | `principal.ip` | `src_endpoint.ip` |
| destination ip | `destination.ip` | `dest` | `DstIp` | `dst` | `dstAddr` | `DestinationIp` | `target.ip` | `dst_endpoint.ip` |
| direction | `network.direction` | `direction` | `NetworkDirection` | `networkDirection` | `netDir` | `NetworkDirection` | `network.direction` | `direction_id` |
| action | `event.action` | `action` | `EventType` | | | | `metadata.product_event_type` | |
| severity | `event.severity` | `severity` | `EventSeverity` | | | | `security_result.severity` | |
| user name | `source.user.name` | `user` | `ActorUsername` | | | | `principal.user.userid` | |
| user id | `source.user.id` | `user_id` | `ActorUserId` | | | | `principal.user.windows_sid` | |
| user email | `source.user.email` | `user_email` | `ActorUserEmail` | | | | `principal.user.email_addresses` | |
";

/// One name of the spec table: a concept in one format (`None`: no name).
struct Cell {
    concept: String,
    format: FieldFormat,
    name: Option<String>,
}

/// The spec table's rows, each as its cells.
fn spec_rows() -> Vec<Vec<Cell>> {
    let split = |line: &str| -> Vec<String> {
        let line = line.trim().trim_start_matches('|').trim_end_matches('|');
        line.split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect()
    };
    let mut lines = SPEC_TABLE.trim().lines();
    let header = split(lines.next().unwrap());
    let formats: Vec<FieldFormat> = header[1..].iter().map(|f| FieldFormat::parse(f).unwrap()).collect();
    lines
        .skip(1)
        .map(|line| {
            let cells = split(line);
            formats
                .iter()
                .zip(&cells[1..])
                .map(|(&format, name)| Cell {
                    concept: cells[0].clone(),
                    format,
                    name: Some(name.clone()).filter(|n| !n.is_empty()),
                })
                .collect()
        })
        .collect()
}

/// The smallest event `format` is detected from (SPEC 4's markers).
fn marked(format: FieldFormat) -> Value {
    match format {
        Ecs => json!({"@timestamp": "marker"}),
        Cim => json!({"_time": "marker"}),
        Asim => json!({"TimeGenerated": "marker"}),
        Csl => json!({"TimeGenerated": "marker", "LogSeverity": "Informational"}),
        Udm => json!({"metadata": {"event_type": "NETWORK_CONNECTION"}}),
        Ocsf => json!({"class_uid": 4001}),
        Cef => json!({"rt": "marker"}),
        Leef => json!({"devTime": "marker"}),
    }
}

/// A name as `format` spells it: nested formats read dots as objects.
fn steps(format: FieldFormat, name: &str) -> Vec<String> {
    if format.is_nested() {
        name.split('.').map(String::from).collect()
    } else {
        vec![name.to_string()]
    }
}

fn set(event: &mut Value, format: FieldFormat, name: &str, value: Value) {
    let steps = steps(format, name);
    let (last, parents) = steps.split_last().unwrap();
    let mut object = event;
    for step in parents {
        object = object
            .as_object_mut()
            .unwrap()
            .entry(step.as_str())
            .or_insert(json!({}));
    }
    object[last.as_str()] = value;
}

fn at<'a>(event: &'a Value, format: FieldFormat, name: &str) -> Option<&'a Value> {
    steps(format, name).iter().try_fold(event, |v, step| v.get(step))
}

/// The event `normalize` sends for `event`.
fn sent(event: &Value, to: FieldFormat) -> Value {
    match normalize(event.to_string().as_bytes(), to) {
        Normalized::Renamed(data) => serde_json::from_slice(&data).unwrap(),
        Normalized::Unchanged => event.clone(),
        Normalized::NotAnObject => panic!("{event} is an object"),
    }
}

/// `normalize` on text, for exact byte comparisons.
fn renamed(event: &str, to: FieldFormat) -> String {
    match normalize(event.as_bytes(), to) {
        Normalized::Renamed(data) => String::from_utf8(data).unwrap(),
        other => panic!("{event}: expected a rename to {to}, got {other:?}"),
    }
}

fn detected(event: &str) -> FieldFormat {
    detect(&parse_object(event.as_bytes()).expect("a JSON object"))
}

#[test]
fn every_documented_mapping_renames_between_every_pair_of_formats() {
    let mut checked = 0;
    for row in spec_rows() {
        for a in &row {
            for b in row.iter().filter(|b| b.format != a.format) {
                let (Some(from), Some(to)) = (&a.name, &b.name) else {
                    continue;
                };
                let case = format!("{}: {} `{from}` -> {} `{to}`", a.concept, a.format, b.format);
                let mut event = marked(a.format);
                set(&mut event, a.format, from, json!(a.concept));
                let out = sent(&event, b.format);
                assert_eq!(at(&out, b.format, to), Some(&json!(a.concept)), "{case}: {out}");
                if steps(a.format, from) != steps(b.format, to) {
                    assert_eq!(at(&out, a.format, from), None, "{case}: source kept: {out}");
                }
                checked += 1;
            }
        }
    }
    // 4 concepts named by all 8 formats, 5 named by 4 of them.
    assert_eq!(checked, 4 * 8 * 7 + 5 * 4 * 3);
}

#[test]
fn a_concept_the_target_format_has_no_name_for_keeps_its_source_name() {
    let mut checked = 0;
    for row in spec_rows() {
        for a in &row {
            for b in row.iter().filter(|b| b.name.is_none()) {
                let Some(from) = &a.name else { continue };
                let mut event = marked(a.format);
                set(&mut event, a.format, from, json!(a.concept));
                let out = sent(&event, b.format);
                assert_eq!(
                    at(&out, a.format, from),
                    Some(&json!(a.concept)),
                    "{} `{from}` -> {}",
                    a.format,
                    b.format
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 5 * 4 * 4);
}

#[test]
fn the_spec_example_becomes_exactly_the_spec_output() {
    assert_eq!(
        renamed(
            r#"{"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"},"network":{"direction":"inbound"}}"#,
            Cim
        ),
        r#"{"src":"10.0.0.1","dest":"10.0.0.2","direction":"inbound"}"#
    );
}

#[test]
fn a_nested_event_flattens_and_keeps_what_has_no_mapping() {
    let ecs = r#"{"@timestamp":"2025-01-02T03:04:05Z","event":{"action":"allowed","severity":3},"source":{"ip":"10.0.0.1","port":51234,"user":{"name":"alice","id":"S-1-5-21","email":"alice@example.com"}},"destination":{"ip":"10.0.0.2"},"message":"hello"}"#;
    assert_eq!(
        renamed(ecs, Asim),
        r#"{"TimeGenerated":"2025-01-02T03:04:05Z","EventType":"allowed","EventSeverity":3,"SrcIp":"10.0.0.1","ActorUsername":"alice","ActorUserId":"S-1-5-21","ActorUserEmail":"alice@example.com","source":{"port":51234},"DstIp":"10.0.0.2","message":"hello"}"#
    );
}

#[test]
fn a_flat_event_nests_into_shared_parents() {
    let asim = r#"{"TimeGenerated":"t","SrcIp":"10.0.0.1","DstIp":"10.0.0.2","EventType":"allowed","ActorUsername":"alice","Computer":"host1"}"#;
    assert_eq!(
        renamed(asim, Ecs),
        r#"{"@timestamp":"t","source":{"ip":"10.0.0.1","user":{"name":"alice"}},"destination":{"ip":"10.0.0.2"},"event":{"action":"allowed"},"Computer":"host1"}"#
    );
    let cim = r#"{"_time":"t","src":"10.0.0.1","user":"alice","user_id":"S-1"}"#;
    assert_eq!(
        renamed(cim, Udm),
        r#"{"metadata":{"event_timestamp":"t"},"principal":{"ip":"10.0.0.1","user":{"userid":"alice","windows_sid":"S-1"}}}"#
    );
}

#[test]
fn nested_formats_convert_between_each_other() {
    let udm = r#"{"metadata":{"event_type":"NETWORK_CONNECTION","event_timestamp":"t"},"principal":{"ip":"10.0.0.1"},"target":{"ip":"10.0.0.2"},"network":{"direction":"OUTBOUND"}}"#;
    assert_eq!(
        renamed(udm, Ocsf),
        r#"{"time":"t","metadata":{"event_type":"NETWORK_CONNECTION"},"src_endpoint":{"ip":"10.0.0.1"},"dst_endpoint":{"ip":"10.0.0.2"},"direction_id":"OUTBOUND"}"#
    );
    // The README's example.
    assert_eq!(
        renamed(
            r#"{"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"},"network":{"direction":"inbound"}}"#,
            Udm
        ),
        r#"{"principal":{"ip":"10.0.0.1"},"target":{"ip":"10.0.0.2"},"network":{"direction":"inbound"}}"#
    );
    // Both name the direction `network.direction`: it stays.
    assert_eq!(
        renamed(udm, Ecs),
        r#"{"@timestamp":"t","metadata":{"event_type":"NETWORK_CONNECTION"},"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"},"network":{"direction":"OUTBOUND"}}"#
    );
}

#[test]
fn each_format_is_detected_from_its_own_keys() {
    for format in FieldFormat::ALL {
        assert_eq!(detected(&marked(format).to_string()), format);
    }
}

#[test]
fn detection_precedence_when_several_markers_match() {
    for (event, format) in [
        (r#"{"_time":1,"TimeGenerated":1,"LogSeverity":1,"@timestamp":1}"#, Cim),
        (r#"{"TimeGenerated":1,"LogSeverity":1,"class_uid":1}"#, Csl),
        (r#"{"TimeGenerated":1,"metadata":{"event_type":"X"}}"#, Asim),
        (r#"{"metadata":{"event_type":"X"},"class_uid":1,"rt":1}"#, Udm),
        (r#"{"class_uid":1,"rt":1,"devTime":1}"#, Ocsf),
        (r#"{"rt":1,"devTime":1,"@timestamp":1}"#, Cef),
        (r#"{"devTime":1,"@timestamp":1}"#, Leef),
    ] {
        assert_eq!(detected(event), format, "{event}");
    }
}

#[test]
fn udm_is_detected_from_the_nested_key_only() {
    assert_eq!(detected(r#"{"metadata":{"event_type":"X"}}"#), Udm);
    assert_eq!(detected(r#"{"metadata.event_type":"X"}"#), Ecs);
    assert_eq!(detected(r#"{"metadata":"X"}"#), Ecs);
}

#[test]
fn an_event_without_a_marker_is_read_as_ecs() {
    assert_eq!(detected(r#"{"source":{"ip":"10.0.0.1"}}"#), Ecs);
    assert_eq!(detected("{}"), Ecs);
    // Other formats' names in such an event are its own fields: kept.
    let plain = r#"{"user":"alice","src":"a.log","time":"noon"}"#;
    assert_eq!(normalize(plain.as_bytes(), Cim), Normalized::Unchanged);
    assert_eq!(normalize(plain.as_bytes(), Ecs), Normalized::Unchanged);
}

#[test]
fn events_that_are_not_json_objects_pass_through() {
    for data in [
        &b"plain text"[..],
        b"",
        b"   ",
        b"[{\"@timestamp\":1}]",
        b"42",
        b"\"{}\"",
        b"null",
        b"{\"broken\":",
        b"{\"a\":1} trailing",
        b"\xff\xfe{",
        b"{\"bad utf-8\":\"\xff\"}",
        b"{\"@timestamp\":\"t\",\"n\":1e400}",
    ] {
        for to in FieldFormat::ALL {
            assert_eq!(
                normalize(data, to),
                Normalized::NotAnObject,
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
}

#[test]
fn the_same_format_in_and_out_leaves_the_event_byte_for_byte() {
    for format in FieldFormat::ALL {
        let event = format!(" {}\n", marked(format)).replace(':', " : ");
        assert_eq!(normalize(event.as_bytes(), format), Normalized::Unchanged, "{event}");
    }
    let ecs = r#"{ "@timestamp": "t", "source": {"ip": "10.0.0.1"}, "n": 1.50 }"#;
    assert_eq!(normalize(ecs.as_bytes(), Ecs), Normalized::Unchanged);
}

#[test]
fn an_event_with_nothing_to_rename_is_left_as_it_came() {
    assert_eq!(normalize(br#"{"msg": "hi", "n": 1.50}"#, Cim), Normalized::Unchanged);
    // CSL and ASIM share their names for these two.
    assert_eq!(
        normalize(br#"{"TimeGenerated":"t","NetworkDirection":"in"}"#, Csl),
        Normalized::Unchanged
    );
}

#[test]
fn unmapped_fields_pass_through_in_their_order() {
    assert_eq!(
        renamed(
            r#"{"z":1,"_time":"t","a":[{"y":1,"b":2}],"src":"10.0.0.1","m":{"z":null,"a":true}}"#,
            Ecs
        ),
        r#"{"z":1,"@timestamp":"t","a":[{"y":1,"b":2}],"source":{"ip":"10.0.0.1"},"m":{"z":null,"a":true}}"#
    );
}

#[test]
fn a_field_whose_target_name_is_taken_stays_where_it_is() {
    // The event has its own `SrcIp`: neither value is lost.
    assert_eq!(
        renamed(r#"{"_time":"t","src":"10.0.0.1","SrcIp":"10.9.9.9"}"#, Asim),
        r#"{"TimeGenerated":"t","src":"10.0.0.1","SrcIp":"10.9.9.9"}"#
    );
    // `source` is a string, so `source.ip` cannot be nested into it.
    assert_eq!(
        renamed(r#"{"_time":"t","src":"10.0.0.1","source":"fw-1"}"#, Ecs),
        r#"{"@timestamp":"t","src":"10.0.0.1","source":"fw-1"}"#
    );
}

#[test]
fn a_source_path_through_a_non_object_is_not_a_field() {
    assert_eq!(
        renamed(
            r#"{"@timestamp":"t","source":"fw-1","destination":{"ip":"10.0.0.2"}}"#,
            Cim
        ),
        r#"{"_time":"t","source":"fw-1","dest":"10.0.0.2"}"#
    );
}

#[test]
fn values_keep_their_meaning_when_rewritten() {
    assert_eq!(
        renamed(
            r#"{"_time":1700000000123,"src":{"v4":"10.0.0.1"},"big":18446744073709551615,"neg":-5,"f":0.1,"s":"\u00e9\"\n"}"#,
            Ecs
        ),
        r#"{"@timestamp":1700000000123,"source":{"ip":{"v4":"10.0.0.1"}},"big":18446744073709551615,"neg":-5,"f":0.1,"s":"é\"\n"}"#
    );
}

#[test]
fn the_mapping_table_has_no_overlapping_names() {
    // `move_field` relies on this: no move can land on, or inside, a field
    // another concept moves.
    let paths: Vec<(usize, Vec<&str>)> = MAPPINGS
        .iter()
        .enumerate()
        .flat_map(|(concept, row)| {
            FieldFormat::ALL
                .into_iter()
                .filter_map(move |f| Some((concept, f.path(row)?)))
        })
        .collect();
    for (c1, p1) in &paths {
        for (c2, p2) in &paths {
            let prefix = p1.len() < p2.len() && p2.starts_with(p1);
            assert!(!prefix, "{p1:?} is a parent of {p2:?}");
            assert!(c1 == c2 || p1 != p2, "{p1:?} names two concepts");
        }
    }
}

#[test]
fn format_names_parse_in_any_case() {
    for format in FieldFormat::ALL {
        assert_eq!(FieldFormat::parse(format.name()), Some(format));
        assert_eq!(FieldFormat::parse(&format.name().to_uppercase()), Some(format));
    }
    assert_eq!(FieldFormat::parse("Ocsf"), Some(Ocsf));
    for bad in ["", "xml", " cim", "ecs1", "json"] {
        assert_eq!(FieldFormat::parse(bad), None, "{bad:?}");
    }
}
