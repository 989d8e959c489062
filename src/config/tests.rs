use super::*;
use serde_json::json;

fn base() -> Value {
    json!({
        "name": "t",
        "type": "amazonkinesis",
        "properties": {"key": "AKID", "secret": "s3cret", "region": "us-east-1", "stream": "logs"}
    })
}

fn with(props: Value) -> Value {
    let mut v = base();
    for (k, val) in props.as_object().unwrap() {
        v["properties"][k] = val.clone();
    }
    v
}

fn err(v: Value) -> ConfigError {
    parse(&v.to_string()).expect_err("config should be refused")
}

fn ok(v: Value) -> TargetConfig {
    parse(&v.to_string()).expect("config should be accepted")
}

#[test]
fn minimal_config_gets_the_spec_defaults() {
    let c = ok(base());
    assert_eq!(c.partition_key.as_static(), Some("default"));
    assert_eq!(c.max_events, 500);
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.max_record_size, 1024 * 1024);
    assert_eq!(c.max_request_size, 5 * 1024 * 1024);
    assert_eq!(c.retry.max_retries, None);
    assert_eq!(c.endpoint.url(), "https://kinesis.us-east-1.amazonaws.com/");
    assert_eq!(c.stream, StreamRef::Name("logs".into()));
    assert!(c.pipelines.is_empty());
}

#[test]
fn max_events_must_be_1_to_500() {
    assert_eq!(
        err(with(json!({"max_events": 501}))),
        ConfigError::new("properties.max_events", "must be 1..=500, got 501")
    );
    assert_eq!(err(with(json!({"max_events": 0}))).field, "properties.max_events");
    assert_eq!(err(with(json!({"max_events": -1}))).field, "properties.max_events");
    assert_eq!(err(with(json!({"max_events": 2.5}))).field, "properties.max_events");
    assert_eq!(ok(with(json!({"max_events": 1}))).max_events, 1);
    assert_eq!(ok(with(json!({"max_events": "500"}))).max_events, 500);
}

#[test]
fn timeout_is_positive_seconds() {
    assert_eq!(ok(with(json!({"timeout": 60}))).timeout, Duration::from_secs(60));
    assert_eq!(ok(with(json!({"timeout": "2.5"}))).timeout, Duration::from_millis(2500));
    for bad in [json!(0), json!(-3), json!("soon"), json!(3601), json!(true)] {
        assert_eq!(err(with(json!({"timeout": bad}))).field, "properties.timeout");
    }
}

#[test]
fn required_fields_are_named_when_missing() {
    for (path, field) in [("name", "name"), ("type", "type"), ("properties", "properties")] {
        let mut v = base();
        v.as_object_mut().unwrap().remove(path);
        assert_eq!(err(v), ConfigError::new(field, "required"));
    }
    for field in ["region", "stream"] {
        let mut v = base();
        v["properties"].as_object_mut().unwrap().remove(field);
        assert_eq!(err(v), ConfigError::new(format!("properties.{field}"), "required"));
    }
}

#[test]
fn type_must_be_amazonkinesis() {
    let mut v = base();
    v["type"] = json!("kafka");
    assert_eq!(err(v), ConfigError::new("type", "must be amazonkinesis, got \"kafka\""));
}

#[test]
fn unknown_fields_are_refused_not_ignored() {
    assert_eq!(err(with(json!({"max_event": 5}))).field, "properties.max_event");
    let mut v = base();
    v["pipeline"] = json!(["x"]);
    assert_eq!(err(v).field, "pipeline");
    assert_eq!(
        err(with(json!({"debug": {"verbose": true}}))).field,
        "properties.debug.verbose"
    );
}

#[test]
fn key_and_secret_come_together() {
    let mut v = base();
    v["properties"].as_object_mut().unwrap().remove("secret");
    assert_eq!(
        err(v),
        ConfigError::new("properties.secret", "required when key is set")
    );
    let mut v = base();
    v["properties"].as_object_mut().unwrap().remove("key");
    assert_eq!(
        err(v),
        ConfigError::new("properties.key", "required when secret is set")
    );
    let c = ok(with(json!({"session": "tok"})));
    match c.credentials.source {
        Source::Static(k) => assert_eq!(k.session_token.as_deref(), Some("tok")),
        other => panic!("static credentials expected, got {other:?}"),
    }
}

#[test]
fn without_key_and_secret_credentials_come_from_the_provider_chain() {
    let mut v = base();
    let props = v["properties"].as_object_mut().unwrap();
    props.remove("key");
    props.remove("secret");
    let env = Environment::from_vars([("AWS_ROLE_ARN".to_string(), "arn:aws:iam::1:role/r".to_string())]);
    let c = super::parse_with_env(&v.to_string(), env.clone()).unwrap();
    assert_eq!(c.credentials.source, Source::Chain(env));
    assert_eq!(c.credentials.sts_endpoint.url(), "https://sts.us-east-1.amazonaws.com/");
}

#[test]
fn role_arn_with_external_id_and_session_name() {
    let c = ok(with(
        json!({"role_arn": "arn:aws:iam::123456789012:role/logs", "external_id": "x-1"}),
    ));
    let role = c.credentials.assume_role.unwrap();
    assert_eq!(role.role_arn, "arn:aws:iam::123456789012:role/logs");
    assert_eq!(role.external_id.as_deref(), Some("x-1"));
    assert_eq!(role.session_name, "kinesis-target");
    assert_eq!(err(with(json!({"role_arn": "logs"}))).field, "properties.role_arn");
    assert_eq!(err(with(json!({"external_id": "x"}))).field, "properties.external_id");
    let bad_session = json!({"role_arn": "arn:aws:iam::1:role/r", "session_name": "a b"});
    assert_eq!(err(with(bad_session)).field, "properties.session_name");
    let c = ok(with(json!({"sts_endpoint": "http://127.0.0.1:5000"})));
    assert_eq!(c.credentials.sts_endpoint.url(), "http://127.0.0.1:5000/");
}

#[test]
fn endpoints_from_the_environment_as_the_sdks_read_them() {
    let mut v = base();
    v["properties"].as_object_mut().unwrap().remove("endpoint");
    let env =
        |pairs: &[(&str, &str)]| Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let c = super::parse_with_env(&v.to_string(), env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")])).unwrap();
    assert_eq!(c.endpoint.url(), "http://127.0.0.1:1/");
    assert_eq!(c.credentials.sts_endpoint.url(), "http://127.0.0.1:1/");
    let both = env(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:2"),
    ]);
    let c = super::parse_with_env(&v.to_string(), both).unwrap();
    assert_eq!(c.endpoint.url(), "http://127.0.0.1:2/");
    let e = super::parse_with_env(&v.to_string(), env(&[("AWS_ENDPOINT_URL_KINESIS", "ftp://x")])).unwrap_err();
    assert_eq!(e.field, "AWS_ENDPOINT_URL_KINESIS (environment)");
    // The config's own endpoint wins.
    let own = with(json!({"endpoint": "http://127.0.0.1:9"})).to_string();
    let c = super::parse_with_env(&own, env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")])).unwrap();
    assert_eq!(c.endpoint.url(), "http://127.0.0.1:9/");
}

#[test]
fn region_and_stream_rules() {
    assert_eq!(err(with(json!({"region": "US East"}))).field, "properties.region");
    assert_eq!(err(with(json!({"stream": ""}))).field, "properties.stream");
    assert_eq!(err(with(json!({"stream": "a b"}))).field, "properties.stream");
    assert_eq!(err(with(json!({"stream": "x".repeat(129)}))).field, "properties.stream");
    assert_eq!(
        ok(with(json!({"stream": "a.b-c_D9"}))).stream,
        StreamRef::Name("a.b-c_D9".into())
    );
    let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/logs";
    assert_eq!(ok(with(json!({"stream": arn}))).stream, StreamRef::Arn(arn.into()));
    assert_eq!(
        err(with(json!({"stream": "arn:aws:s3:::bucket"}))).field,
        "properties.stream"
    );
}

#[test]
fn china_regions_use_the_cn_domain() {
    let c = ok(with(json!({"region": "cn-northwest-1"})));
    assert_eq!(c.endpoint.url(), "https://kinesis.cn-northwest-1.amazonaws.com.cn/");
}

#[test]
fn endpoint_must_be_http_or_https_without_path() {
    assert_eq!(
        ok(with(json!({"endpoint": "http://localhost:4566"}))).endpoint.url(),
        "http://localhost:4566/"
    );
    assert_eq!(
        ok(with(json!({"endpoint": "https://k.example:443"})))
            .endpoint
            .authority,
        "k.example"
    );
    for bad in [
        "ftp://x",
        "localhost:4566",
        "http://x/path",
        "http://x/?q=1",
        "http://u:p@x",
    ] {
        assert_eq!(
            err(with(json!({"endpoint": bad}))).field,
            "properties.endpoint",
            "{bad}"
        );
    }
}

#[test]
fn partition_key_is_1_to_256_characters() {
    assert_eq!(
        ok(with(json!({"partition_key": "é".repeat(256)})))
            .partition_key
            .as_static()
            .unwrap()
            .chars()
            .count(),
        256
    );
    assert_eq!(
        err(with(json!({"partition_key": "x".repeat(257)}))).field,
        "properties.partition_key"
    );
    assert_eq!(
        err(with(json!({"partition_key": ""}))).field,
        "properties.partition_key"
    );
}

#[test]
fn size_limits_may_be_raised_to_10_mib() {
    let c = ok(with(json!({"max_record_size": 10485760, "max_request_size": 10485760})));
    assert_eq!((c.max_record_size, c.max_request_size), (10 << 20, 10 << 20));
    assert_eq!(
        err(with(json!({"max_request_size": 10485761}))).field,
        "properties.max_request_size"
    );
    assert_eq!(
        err(with(json!({"max_record_size": 6 << 20}))).field,
        "properties.max_record_size"
    );
}

#[test]
fn cron_is_five_fields_and_wins_over_interval() {
    let c = ok(with(json!({"cron": "*/5 * * * *"})));
    assert_eq!(c.cron.as_ref().map(|s| s.expression()), Some("*/5 * * * *"));
    assert_eq!(c.interval, None);
    let both = ok(with(json!({"cron": "0 * * * *", "interval": "5m"})));
    assert!(both.cron.is_some());
    assert_eq!(both.interval, None, "SPEC 5: cron wins");
    // The interval is still checked: a typo is never hidden behind cron.
    assert_eq!(
        err(with(json!({"cron": "0 * * * *", "interval": "often"}))).field,
        "properties.interval"
    );
    // Blank, as `${CRON:-}` gives, or null: no cron.
    for none in [json!(""), json!("  "), json!(null)] {
        assert!(ok(with(json!({"cron": none}))).cron.is_none());
    }
}

#[test]
fn cron_errors_name_the_field_and_say_what_is_wrong() {
    for (cron, says) in [
        (json!("* * * *"), "must be five fields"),
        (json!("0 0 * * * *"), "got 6"),
        (
            json!("60 * * * *"),
            "minute field \"60\": number out of bounds (minute is 0-59)",
        ),
        (json!("0 24 * * *"), "hour field"),
        (json!("0 0 32 * *"), "day-of-month field"),
        (json!("0 0 * 13 *"), "month field"),
        (json!("0 0 * * 8"), "day-of-week field \"8\""),
        (json!("0 0 * * MON"), "only digits and * , - / are allowed"),
        (json!("0 0 31 2 *"), "never matches"),
        (json!(5), "must be five fields"),
    ] {
        let e = err(with(json!({"cron": cron.clone()})));
        assert_eq!(e.field, "properties.cron", "{cron}");
        assert!(e.message.contains(says), "{cron}: {e}");
    }
    assert_eq!(
        err(with(json!({"cron": ["* * * * *"]}))).message,
        "must be a string, got a list"
    );
}

#[test]
fn cron_utc_offset_is_z_or_hours_and_minutes() {
    for (offset, minutes) in [
        ("Z", 0),
        ("z", 0),
        ("+00:00", 0),
        ("+02:00", 120),
        ("-05:30", -330),
        ("+14:00", 840),
    ] {
        let c = ok(with(json!({"cron": "0 9 * * *", "cron_utc_offset": offset})));
        assert_eq!(
            format!("{:?}", c.cron.unwrap()),
            format!("CronSchedule {{ expression: \"0 9 * * *\", offset_minutes: {minutes} }}"),
            "{offset}"
        );
    }
    for bad in ["+2", "+0200", "02:00", "+24:00", "-05:60", "UTC", "+2:00", "", "+٠٢:00"] {
        let e = err(with(json!({"cron": "0 9 * * *", "cron_utc_offset": bad})));
        assert_eq!(e.field, "properties.cron_utc_offset", "{bad}");
        assert!(e.message.contains("must be Z or +HH:MM / -HH:MM"), "{bad}: {e}");
    }
    let e = err(with(json!({"cron_utc_offset": "+02:00"})));
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("properties.cron_utc_offset", "applies to cron only; set cron as well")
    );
}

#[test]
fn status_false_disables_the_target_but_the_rest_is_still_validated() {
    assert!(ok(base()).enabled);
    let mut v = base();
    v["status"] = json!(false);
    assert!(!ok(v.clone()).enabled);
    v["properties"]["max_events"] = json!(501);
    assert_eq!(err(v).field, "properties.max_events");
    let mut v = base();
    v["status"] = json!("maybe");
    assert_eq!(err(v).field, "status");
}

#[test]
fn field_format_is_one_of_the_eight_formats_in_any_case() {
    assert_eq!(ok(base()).field_format, None);
    assert_eq!(ok(with(json!({"field_format": null}))).field_format, None);
    for (value, format) in [
        ("ecs", FieldFormat::Ecs),
        ("CIM", FieldFormat::Cim),
        ("Asim", FieldFormat::Asim),
        ("cEf", FieldFormat::Cef),
        ("LEEF", FieldFormat::Leef),
        ("csl", FieldFormat::Csl),
        ("OCSF", FieldFormat::Ocsf),
        ("Udm", FieldFormat::Udm),
    ] {
        assert_eq!(ok(with(json!({"field_format": value}))).field_format, Some(format));
    }
}

#[test]
fn field_format_refuses_other_values_naming_the_allowed_ones() {
    assert_eq!(
        err(with(json!({"field_format": "xml"}))),
        ConfigError::new(
            "properties.field_format",
            "must be one of ecs, cim, asim, cef, leef, csl, ocsf, udm (any case), got \"xml\""
        )
    );
    for bad in [json!(""), json!(" cim"), json!(5), json!(true), json!(["cim"])] {
        assert_eq!(err(with(json!({"field_format": bad}))).field, "properties.field_format");
    }
}

#[test]
fn realtime_intervals_and_inert_debug_are_accepted() {
    for interval in [json!(0), json!(1), json!("1s"), json!("0"), json!("0.5s"), json!(null)] {
        assert_eq!(ok(with(json!({"interval": interval}))).interval, None);
    }
    ok(with(json!({"debug": {"status": false, "dont_send_logs": true}})));
    assert_eq!(err(with(json!({"interval": "often"}))).field, "properties.interval");
}

#[test]
fn description_status_and_pipelines_are_kept() {
    let mut v = base();
    v["description"] = json!("prod");
    v["status"] = json!(true);
    v["pipelines"] = json!(["checkpoint"]);
    let c = ok(v);
    assert_eq!(c.description.as_deref(), Some("prod"));
    assert_eq!(c.pipelines, ["checkpoint"]);
    let mut v = base();
    v["pipelines"] = json!(["ok", 3]);
    assert_eq!(err(v).field, "pipelines[1]");
}

#[test]
fn not_json_and_not_an_object_are_config_errors() {
    assert_eq!(parse("{").unwrap_err().field, "(config)");
    assert_eq!(parse("[]").unwrap_err().field, "(config)");
    let mut v = base();
    v["properties"] = json!("x");
    assert_eq!(err(v).field, "properties");
}

#[test]
fn debug_output_of_credentials_hides_secrets() {
    let c = ok(with(json!({"session": "sessiontoken"})));
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret") && !shown.contains("sessiontoken"), "{shown}");
}

#[test]
fn numbers_in_strings_are_read_as_json_numbers() {
    for (text, value) in [
        ("2.5", Some(2.5)),
        ("30", Some(30.0)),
        ("1e3", Some(1000.0)),
        ("-1", Some(-1.0)),
    ] {
        assert_eq!(super::fields::parse_f64(text), value, "{text:?}");
    }
    for text in ["", "abc", "1 2", "0x10", "NaN", "inf", "1e400"] {
        assert_eq!(super::fields::parse_f64(text), None, "{text:?}");
    }
}

#[test]
fn delivery_extensions_have_defaults_for_an_edge_host() {
    let c = ok(base());
    assert_eq!((c.max_in_flight, c.max_buffer_size), (4, 8 * 1024 * 1024));
    assert_eq!(c.retry, RetryPolicy::default());
    let c = ok(with(json!({"max_in_flight": "16", "max_buffer_size": 2097152,
        "retry_initial_backoff": "0.05", "retry_max_backoff": 2, "retry_max_duration": "10s"})));
    assert_eq!((c.max_in_flight, c.max_buffer_size), (16, 2 * 1024 * 1024));
    assert_eq!(c.retry.initial_backoff, Duration::from_millis(50));
    assert_eq!(c.retry.max_duration, Duration::from_secs(10));
}

#[test]
fn delivery_extensions_are_bounded() {
    assert_eq!(err(with(json!({"max_in_flight": 0}))).field, "properties.max_in_flight");
    assert_eq!(
        err(with(json!({"max_in_flight": 65}))).field,
        "properties.max_in_flight"
    );
    // The buffer must hold at least one record of the largest size.
    assert_eq!(
        err(with(json!({"max_buffer_size": 1000}))).field,
        "properties.max_buffer_size"
    );
    assert!(parse(&with(json!({"max_record_size": 1000, "max_buffer_size": 1000})).to_string()).is_ok());
    assert_eq!(
        err(with(json!({"retry_initial_backoff": 3, "retry_max_backoff": 2}))),
        ConfigError::new(
            "properties.retry_initial_backoff",
            "must not exceed retry_max_backoff (2000 ms), got 3000 ms"
        )
    );
    assert_eq!(
        err(with(json!({"retry_max_duration": 0}))).field,
        "properties.retry_max_duration"
    );
}

#[test]
fn an_interval_is_seconds_or_a_number_with_a_unit() {
    for (interval, secs) in [
        (json!(300), 300),
        (json!("300"), 300),
        (json!("90s"), 90),
        (json!("5m"), 300),
        (json!("1.5h"), 5400),
        (json!("1d"), 86400),
        (json!(" 2M "), 120),
    ] {
        assert_eq!(
            ok(with(json!({"interval": interval.clone()}))).interval,
            Some(Duration::from_secs(secs)),
            "{interval}"
        );
    }
    for bad in [json!("-5m"), json!("5w"), json!(true), json!("400d")] {
        assert_eq!(err(with(json!({"interval": bad}))).field, "properties.interval");
    }
}

#[test]
fn partition_keys_may_be_templates_and_an_explicit_hash_key_is_a_128_bit_decimal() {
    let c = ok(with(
        json!({"partition_key": "web-{{host.name|unknown}}", "explicit_hash_key": "42"}),
    ));
    assert_eq!(c.partition_key.as_static(), None);
    assert_eq!(c.explicit_hash_key.as_deref(), Some("42"));
    assert_eq!(
        err(with(json!({"partition_key": "{{host"}))).field,
        "properties.partition_key"
    );
    let max = u128::MAX.to_string();
    assert!(ok(with(json!({"explicit_hash_key": max}))).explicit_hash_key.is_some());
    for bad in ["", "01", "-1", "1e3", "340282366920938463463374607431768211456"] {
        assert_eq!(
            err(with(json!({"explicit_hash_key": bad}))).field,
            "properties.explicit_hash_key",
            "{bad}"
        );
    }
}

#[test]
fn dont_send_logs_only_counts_with_debug_status() {
    let on = |status: bool, dont: bool| ok(with(json!({"debug": {"status": status, "dont_send_logs": dont}}))).debug;
    assert_eq!(
        on(true, true),
        Debug {
            log_events: true,
            dont_send: true
        }
    );
    assert_eq!(
        on(true, false),
        Debug {
            log_events: true,
            dont_send: false
        }
    );
    assert_eq!(on(false, true), Debug::default(), "SPEC 6: no effect without status");
    assert_eq!(ok(base()).debug, Debug::default());
}

#[test]
fn aggregation_is_off_by_default_and_its_size_capped_by_the_record_limit() {
    assert_eq!(ok(base()).aggregation, None);
    assert_eq!(ok(with(json!({"aggregation": false}))).aggregation, None);
    assert_eq!(ok(with(json!({"aggregation": "true"}))).aggregation, Some(51_200));
    assert_eq!(
        ok(with(json!({"aggregation": true, "max_record_size": 1000}))).aggregation,
        Some(1000),
        "the default never exceeds max_record_size"
    );
    let sized = json!({"aggregation": true, "aggregation_max_size": 1_048_576});
    assert_eq!(ok(with(sized)).aggregation, Some(1_048_576));
    let over = err(with(json!({"aggregation": true, "aggregation_max_size": 1_048_577})));
    assert_eq!(over.field, "properties.aggregation_max_size");
    assert!(over.message.contains("1..=1048576"), "{}", over.message);
    let alone = err(with(json!({"aggregation_max_size": 1000})));
    assert_eq!(alone.field, "properties.aggregation_max_size");
    assert!(alone.message.contains("aggregation: true"), "{}", alone.message);
    assert_eq!(err(with(json!({"aggregation": "yes"}))).field, "properties.aggregation");
}

#[test]
fn protocol_is_json_by_default_and_cbor_on_request() {
    use crate::encode::Protocol;
    assert_eq!(ok(base()).protocol, Protocol::Json);
    assert_eq!(ok(with(json!({"protocol": "json"}))).protocol, Protocol::Json);
    assert_eq!(ok(with(json!({"protocol": "cbor"}))).protocol, Protocol::Cbor);
    let wrong = err(with(json!({"protocol": "CBOR"})));
    assert_eq!(wrong.field, "properties.protocol");
    assert!(wrong.message.contains("json or cbor"), "{}", wrong.message);
}

#[test]
fn batch_timeout_is_off_by_default_and_read_as_seconds() {
    assert_eq!(ok(base()).batch_timeout, None);
    assert_eq!(
        ok(with(json!({"batch_timeout": 1}))).batch_timeout,
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        ok(with(json!({"batch_timeout": "0.25s"}))).batch_timeout,
        Some(Duration::from_millis(250))
    );
    assert_eq!(err(with(json!({"batch_timeout": 0}))).field, "properties.batch_timeout");
}
