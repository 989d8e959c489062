//! The target definition a user writes (SPEC section 1), parsed and validated.
//!
//! Every error names the field by its dotted path and states the rule, so a
//! user can fix a config without reading our source. Values may arrive as
//! strings where numbers or booleans are expected (`${VAR}` substitution in
//! config files yields strings), so both spellings are accepted.

use crate::cron::CronSchedule;
use crate::debug::Debug;
use crate::encode::{Protocol, StreamRef};
use crate::endpoint::Endpoint;
use crate::normalize::FieldFormat;
use crate::pacing::ShardLimits;
use crate::partition_key::{PartitionKey, json};
use crate::report::OutcomeDetail;
use crate::retry::RetryPolicy;
use serde_json::Value;
use std::time::Duration;

mod fields;
use fields::Obj;

/// Kinesis' own limit on records per PutRecords request.
pub const MAX_EVENTS_LIMIT: u64 = 500;
/// Default record limit (data + partition key), AWS's default per stream.
pub const DEFAULT_MAX_RECORD_SIZE: u64 = 1024 * 1024;
/// Default request limit (sum of data + partition key), AWS's historical limit.
pub const DEFAULT_MAX_REQUEST_SIZE: u64 = 5 * 1024 * 1024;
/// Both size limits may be raised to this, which AWS allows since late 2025.
pub const SIZE_LIMIT_CEILING: u64 = 10 * 1024 * 1024;
/// Default cap on event bytes held (buffered, waiting and in flight): small
/// enough for an edge proxy, large enough for a full request in flight
/// while the next one fills.
pub const DEFAULT_MAX_BUFFER_SIZE: u64 = 8 * 1024 * 1024;
/// Default PutRecords requests in flight at once.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 4;

/// A configuration error: `field` is the dotted path, `message` the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub use crate::credentials::Credentials;
use crate::credentials::{AssumeRole, CredentialConfig, Environment, Source};

/// A validated `amazonkinesis` target.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub name: String,
    /// `status`: a disabled target sends nothing and hands every event back.
    pub enabled: bool,
    pub description: Option<String>,
    pub pipelines: Vec<String>,
    /// `key`/`secret`/`session`, or the provider chain; extension `role_arn`.
    pub credentials: CredentialConfig,
    pub region: String,
    pub endpoint: Endpoint,
    pub stream: StreamRef,
    /// Static, or rendered per event from `{{field}}` placeholders.
    pub partition_key: PartitionKey,
    /// Extension: `ExplicitHashKey` sent with every record (overrides the key's hash).
    pub explicit_hash_key: Option<String>,
    pub max_events: usize,
    pub timeout: Duration,
    /// SPEC 4: the log schema events are renamed to; `None` sends them as they come.
    pub field_format: Option<FieldFormat>,
    /// SPEC 5: `interval`; `None` is realtime (send as soon as a batch is
    /// full), and also whenever `cron` is set: cron wins.
    pub interval: Option<Duration>,
    /// SPEC 5: `cron`, read at `cron_utc_offset` (an extension, UTC by default).
    pub cron: Option<CronSchedule>,
    /// SPEC 6: `debug`.
    pub debug: Debug,
    /// Extension: per-record limit, data + partition key bytes.
    pub max_record_size: usize,
    /// Extension: per-request limit, sum of data + partition key bytes.
    pub max_request_size: usize,
    /// Extension: how retryable failures are sent again.
    pub retry: RetryPolicy,
    /// Extension: PutRecords requests in flight at once.
    pub max_in_flight: usize,
    /// Extension: cap on event bytes held, buffered or in flight.
    pub max_buffer_size: usize,
    /// Extension `aggregation`: KPL aggregation, with the most bytes (data +
    /// partition key) of one aggregated record (`aggregation_max_size`); `None`: off.
    pub aggregation: Option<usize>,
    /// Extension `protocol`: `json` (JSON 1.1, the default) or `cbor`.
    pub protocol: Protocol,
    /// Extension `batch_timeout`: a realtime target sends a batch that is not
    /// full once its first event is this old (Vector's `batch.timeout_secs`,
    /// the KPL's `RecordMaxBufferedTime`); `None`: only full batches go.
    pub batch_timeout: Option<Duration>,
    /// Extension `shard_pacing` (on by default): each shard's write budget,
    /// `shard_max_records_per_second` and `shard_max_bytes_per_second`;
    /// `None`: requests go as fast as `max_in_flight` allows.
    pub pacing: Option<ShardLimits>,
    /// Extension `outcome_detail`: what a delivered outcome carries.
    pub outcome_detail: OutcomeDetail,
}

const TARGET_FIELDS: &[&str] = &["name", "description", "type", "pipelines", "status", "properties"];
const PROPERTY_FIELDS: &[&str] = &[
    "key",
    "secret",
    "session",
    "region",
    "endpoint",
    "stream",
    "partition_key",
    "max_events",
    "timeout",
    "field_format",
    "interval",
    "cron",
    "cron_utc_offset",
    "debug",
    "max_record_size",
    "max_request_size",
    "max_retries",
    "retry_initial_backoff",
    "retry_max_backoff",
    "retry_max_duration",
    "max_in_flight",
    "max_buffer_size",
    "explicit_hash_key",
    "role_arn",
    "external_id",
    "session_name",
    "sts_endpoint",
    "aggregation",
    "aggregation_max_size",
    "protocol",
    "batch_timeout",
    "shard_pacing",
    "shard_max_records_per_second",
    "shard_max_bytes_per_second",
    "outcome_detail",
];
const DEBUG_FIELDS: &[&str] = &["status", "dont_send_logs"];

/// Parses and validates one target definition given as JSON text.
///
/// ```
/// let cfg = kinesis_target::config::parse(r#"{"name":"t","type":"amazonkinesis",
///   "properties":{"key":"AKID","secret":"s","region":"us-east-1","stream":"logs"}}"#).unwrap();
/// assert_eq!(cfg.max_events, 500);
/// assert_eq!(cfg.endpoint.url(), "https://kinesis.us-east-1.amazonaws.com/");
/// ```
pub fn parse(json: &str) -> Result<TargetConfig, ConfigError> {
    parse_with_env(json, Environment::default())
}

/// [`parse`] within an environment: where the config does not set them, `AWS_ENDPOINT_URL_KINESIS` / `AWS_ENDPOINT_URL` give the
/// endpoint, `AWS_ENDPOINT_URL_STS` the STS endpoint, and without `key` and
/// `secret` the provider chain reads its variables from `env`.
///
/// ```
/// use kinesis_target::credentials::Environment;
/// let env = Environment::from_vars([("AWS_ENDPOINT_URL_KINESIS".into(), "http://127.0.0.1:4567".into())]);
/// let cfg = kinesis_target::config::parse_with_env(r#"{"name":"t","type":"amazonkinesis",
///   "properties":{"region":"us-east-1","stream":"logs"}}"#, env).unwrap();
/// assert_eq!(cfg.endpoint.url(), "http://127.0.0.1:4567/");
/// ```
pub fn parse_with_env(json: &str, env: Environment) -> Result<TargetConfig, ConfigError> {
    let value: Value =
        // `from_slice`, not `from_str`: the answer parser already links the
        // slice reader, and a second reader is ~8 KB more component.
        serde_json::from_slice(json.as_bytes())
            .map_err(|e| ConfigError::new("(config)", format!("not valid JSON: {e}")))?;
    let root = Obj::new("", &value)?;
    root.deny_unknown(TARGET_FIELDS)?;

    let name = root.string("name")?.ok_or_else(|| root.missing("name"))?;
    if name.trim().is_empty() {
        return Err(ConfigError::new("name", "must not be empty"));
    }
    let description = root.string("description")?;
    let kind = root.string("type")?.ok_or_else(|| root.missing("type"))?;
    if kind != "amazonkinesis" {
        return Err(ConfigError::new("type", format!("must be amazonkinesis, got {kind:?}")));
    }
    let pipelines = root.string_list("pipelines")?;
    let enabled = root.bool("status")?.unwrap_or(true);

    let props_value = root.get("properties").ok_or_else(|| root.missing("properties"))?;
    let props = Obj::new("properties", props_value)?;
    props.deny_unknown(PROPERTY_FIELDS)?;

    let source = credentials(&props, env.clone())?;
    let region = props.string("region")?.ok_or_else(|| props.missing("region"))?;
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ConfigError::new(
            "properties.region",
            format!("must be an AWS region such as us-east-1 (lowercase letters, digits, '-'), got {region:?}"),
        ));
    }
    let endpoint = endpoint_url(&props, "endpoint", &env, "KINESIS")?.unwrap_or_else(|| Endpoint::for_region(&region));
    let credentials = CredentialConfig {
        source,
        assume_role: assume_role(&props)?,
        sts_endpoint: endpoint_url(&props, "sts_endpoint", &env, "STS")?
            .unwrap_or_else(|| Endpoint::sts_for_region(&region)),
    };
    let stream = stream(&props)?;
    let partition_key = partition_key(&props)?;
    let explicit_hash_key = explicit_hash_key(&props)?;

    let max_events = props
        .uint("max_events", 1, MAX_EVENTS_LIMIT)?
        .unwrap_or(MAX_EVENTS_LIMIT);
    let timeout = props.seconds("timeout")?.unwrap_or(Duration::from_secs(30));
    let field_format = field_format(&props)?;
    let cron = cron(&props)?;
    // SPEC 5: when both are set, cron wins (interval is still checked).
    let interval = interval(&props)?.filter(|_| cron.is_none());
    let debug = debug(&props)?;
    let max_record_size = props
        .uint("max_record_size", 1, SIZE_LIMIT_CEILING)?
        .unwrap_or(DEFAULT_MAX_RECORD_SIZE);
    let max_request_size = props
        .uint("max_request_size", 1, SIZE_LIMIT_CEILING)?
        .unwrap_or(DEFAULT_MAX_REQUEST_SIZE);
    if max_record_size > max_request_size {
        return Err(ConfigError::new(
            "properties.max_record_size",
            format!("must not exceed max_request_size ({max_request_size}), got {max_record_size}"),
        ));
    }
    let retry = retry_policy(&props)?;
    let max_in_flight = props.uint("max_in_flight", 1, 64)?.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    let max_buffer_size = props
        .uint("max_buffer_size", max_record_size, 1 << 30)?
        .unwrap_or(DEFAULT_MAX_BUFFER_SIZE.max(max_record_size));
    let aggregation = aggregation(&props, max_record_size)?;
    let protocol = protocol(&props)?;
    let batch_timeout = props.seconds("batch_timeout")?;
    let pacing = pacing(&props, max_record_size)?;
    let outcome_detail = match props.string("outcome_detail")?.as_deref() {
        None | Some("full") => OutcomeDetail::Full,
        Some("ids") => OutcomeDetail::Ids,
        Some(other) => {
            return Err(ConfigError::new(
                "properties.outcome_detail",
                format!("must be full or ids, got {other:?}"),
            ));
        }
    };

    Ok(TargetConfig {
        name,
        enabled,
        description,
        pipelines,
        credentials,
        region,
        endpoint,
        stream,
        partition_key,
        explicit_hash_key,
        max_events: max_events as usize,
        timeout,
        field_format,
        interval,
        cron,
        debug,
        max_record_size: max_record_size as usize,
        max_request_size: max_request_size as usize,
        retry,
        max_in_flight: max_in_flight as usize,
        max_buffer_size: max_buffer_size as usize,
        aggregation,
        protocol,
        batch_timeout,
        pacing,
        outcome_detail,
    })
}

/// Extensions `shard_pacing` (on by default), `shard_max_records_per_second`
/// (Kinesis' 1,000) and `shard_max_bytes_per_second` (Kinesis' 1 MiB, at
/// least `max_record_size` so that every record can go).
fn pacing(props: &Obj, max_record_size: u64) -> Result<Option<ShardLimits>, ConfigError> {
    let on = props.bool("shard_pacing")?.unwrap_or(true);
    let default = ShardLimits::default();
    let records = props.uint("shard_max_records_per_second", 1, 1_000_000)?;
    let bytes = props.uint("shard_max_bytes_per_second", max_record_size, 1 << 40)?;
    if !on && (records.is_some() || bytes.is_some()) {
        return Err(ConfigError::new(
            "properties.shard_pacing",
            "is false, so shard_max_records_per_second and shard_max_bytes_per_second do nothing: remove them or the false",
        ));
    }
    let limits = ShardLimits {
        records_per_second: records.map_or(default.records_per_second, |r| r as u32),
        bytes_per_second: bytes.unwrap_or(default.bytes_per_second.max(max_record_size)),
    };
    Ok(on.then_some(limits))
}

/// Extension `protocol`: how PutRecords requests and answers are encoded.
fn protocol(props: &Obj) -> Result<Protocol, ConfigError> {
    match props.string("protocol")?.as_deref() {
        None | Some("json") => Ok(Protocol::Json),
        Some("cbor") => Ok(Protocol::Cbor),
        Some(other) => Err(ConfigError::new(
            "properties.protocol",
            format!("must be json or cbor, got {other:?}"),
        )),
    }
}

/// Extension `aggregation` (off by default) and `aggregation_max_size`: the
/// KPL's 51,200 bytes by default, at most `max_record_size`.
fn aggregation(props: &Obj, max_record_size: u64) -> Result<Option<usize>, ConfigError> {
    let on = props.bool("aggregation")?.unwrap_or(false);
    let max_size = props.uint("aggregation_max_size", 1, max_record_size)?;
    if max_size.is_some() && !on {
        return Err(ConfigError::new(
            "properties.aggregation_max_size",
            "applies to aggregation only; set aggregation: true as well",
        ));
    }
    let default = (crate::aggregate::DEFAULT_MAX_SIZE as u64).min(max_record_size);
    Ok(on.then(|| max_size.unwrap_or(default) as usize))
}

fn retry_policy(props: &Obj) -> Result<RetryPolicy, ConfigError> {
    let default = RetryPolicy::default();
    let policy = RetryPolicy {
        max_retries: props
            .uint("max_retries", 0, 1_000_000)?
            .map_or(default.max_retries, |n| Some(n as u32)),
        initial_backoff: props
            .seconds("retry_initial_backoff")?
            .unwrap_or(default.initial_backoff),
        max_backoff: props.seconds("retry_max_backoff")?.unwrap_or(default.max_backoff),
        max_duration: props.seconds("retry_max_duration")?.unwrap_or(default.max_duration),
    };
    if policy.initial_backoff > policy.max_backoff {
        return Err(ConfigError::new(
            "properties.retry_initial_backoff",
            // Milliseconds as integers: float formatting would grow the component.
            format!(
                "must not exceed retry_max_backoff ({} ms), got {} ms",
                policy.max_backoff.as_millis() as u64,
                policy.initial_backoff.as_millis() as u64
            ),
        ));
    }
    Ok(policy)
}

/// SPEC 6: `debug.status` logs each event; with it, `dont_send_logs` sends nothing.
fn debug(props: &Obj) -> Result<Debug, ConfigError> {
    let Some(v) = props.get("debug").filter(|v| !v.is_null()) else {
        return Ok(Debug::default());
    };
    let debug = Obj::new("properties.debug", v)?;
    debug.deny_unknown(DEBUG_FIELDS)?;
    let log_events = debug.bool("status")?.unwrap_or(false);
    let dont_send = debug.bool("dont_send_logs")?.unwrap_or(false);
    Ok(Debug {
        log_events,
        // Without `status` it has no effect (SPEC 6).
        dont_send: log_events && dont_send,
    })
}

/// SPEC 5: absent, 0, 1 or under a second means realtime (`None`).
fn interval(props: &Obj) -> Result<Option<Duration>, ConfigError> {
    let Some(v) = props.get("interval") else {
        return Ok(None);
    };
    let secs = interval_seconds(v).map_err(|m| ConfigError::new("properties.interval", m))?;
    // Up to 366 days: a longer schedule is a typo, and Duration math stays far from overflow.
    if secs > 366.0 * 86400.0 {
        return Err(ConfigError::new("properties.interval", "must be at most 366 days"));
    }
    Ok((secs > 1.0).then(|| Duration::from_secs_f64(secs)))
}

/// SPEC 5 `cron`, read at the extension `cron_utc_offset`. A blank
/// expression (what `${CRON:-}` gives) is no cron.
fn cron(props: &Obj) -> Result<Option<CronSchedule>, ConfigError> {
    let expression = props.string("cron")?.filter(|s| !s.trim().is_empty());
    let offset = props.string("cron_utc_offset")?;
    let Some(expression) = expression else {
        return match offset {
            Some(_) => Err(ConfigError::new(
                "properties.cron_utc_offset",
                "applies to cron only; set cron as well",
            )),
            None => Ok(None),
        };
    };
    let offset_minutes = match offset {
        Some(offset) => utc_offset_minutes(&offset).ok_or_else(|| {
            ConfigError::new(
                "properties.cron_utc_offset",
                format!("must be Z or +HH:MM / -HH:MM (hours 00-23, minutes 00-59), got {offset:?}"),
            )
        })?,
        None => 0,
    };
    CronSchedule::parse(&expression, offset_minutes)
        .map(Some)
        .map_err(|e| ConfigError::new("properties.cron", e))
}

/// RFC 3339's offset: `Z`, or `+HH:MM` / `-HH:MM`; minutes east of UTC.
fn utc_offset_minutes(offset: &str) -> Option<i32> {
    let offset = offset.trim();
    if offset.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match offset.as_bytes().first()? {
        b'+' => (1, &offset[1..]),
        b'-' => (-1, &offset[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    let two_digits =
        |s: &str| -> Option<i32> { (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())? };
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
}

fn interval_seconds(v: &Value) -> Result<f64, String> {
    let text = match v {
        Value::Null => return Ok(0.0),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        other => return Err(format!("must be seconds or a number with s/m/h/d, got {}", json(other))),
    };
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if "smhd".contains(c) => (&text[..i], c),
        _ => (text.as_str(), 's'),
    };
    let amount: f64 = fields::parse_f64(digits.trim())
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("must be seconds or a number with s/m/h/d, got {text:?}"))?;
    Ok(amount
        * match unit {
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => 1.0,
        })
}

/// `key` and `secret` together, or neither: then the provider chain.
fn credentials(props: &Obj, env: Environment) -> Result<Source, ConfigError> {
    let key = props.string("key")?.filter(|s| !s.is_empty());
    let secret = props.string("secret")?.filter(|s| !s.is_empty());
    let session = props.string("session")?.filter(|s| !s.is_empty());
    match (key, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Source::Static(Credentials {
            access_key_id,
            secret_access_key,
            session_token: session,
            expires: None,
        })),
        (Some(_), None) => Err(ConfigError::new("properties.secret", "required when key is set")),
        (None, Some(_)) => Err(ConfigError::new("properties.key", "required when secret is set")),
        (None, None) if session.is_some() => {
            Err(ConfigError::new("properties.session", "needs key and secret as well"))
        }
        (None, None) => Ok(Source::Chain(env)),
    }
}

/// Extension `role_arn` (+ `external_id`, `session_name`), as in Vector and Fluent Bit.
fn assume_role(props: &Obj) -> Result<Option<AssumeRole>, ConfigError> {
    let external_id = props.string("external_id")?;
    let session_name = props.string("session_name")?;
    let Some(role_arn) = props.string("role_arn")?.filter(|s| !s.is_empty()) else {
        if external_id.is_some() || session_name.is_some() {
            let field = if external_id.is_some() {
                "external_id"
            } else {
                "session_name"
            };
            return Err(ConfigError::new(
                format!("properties.{field}"),
                "needs role_arn as well",
            ));
        }
        return Ok(None);
    };
    if !role_arn.starts_with("arn:") {
        return Err(ConfigError::new(
            "properties.role_arn",
            format!("must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got {role_arn:?}"),
        ));
    }
    let session_name = session_name.unwrap_or_else(|| "kinesis-target".to_string());
    // STS: 2-64 characters of [\w+=,.@-].
    let valid = (2..=64).contains(&session_name.len())
        && session_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if !valid {
        return Err(ConfigError::new(
            "properties.session_name",
            format!("must be 2-64 characters of letters, digits and _+=,.@-, got {session_name:?}"),
        ));
    }
    Ok(Some(AssumeRole {
        role_arn,
        external_id,
        session_name,
    }))
}

/// An endpoint URL from `field`, else `AWS_ENDPOINT_URL_<SERVICE>`, else
/// `AWS_ENDPOINT_URL`, as the SDKs look them up.
fn endpoint_url(props: &Obj, field: &str, env: &Environment, service: &str) -> Result<Option<Endpoint>, ConfigError> {
    if let Some(url) = props.string(field)? {
        return Endpoint::parse(&url)
            .map(Some)
            .map_err(|e| ConfigError::new(format!("properties.{field}"), e));
    }
    let specific = format!("AWS_ENDPOINT_URL_{service}");
    for name in [specific.as_str(), "AWS_ENDPOINT_URL"] {
        if let Some(url) = env.var(name) {
            return Endpoint::parse(url)
                .map(Some)
                .map_err(|e| ConfigError::new(format!("{name} (environment)"), e));
        }
    }
    Ok(None)
}

/// SPEC 4: one of the eight formats, in any case.
fn field_format(props: &Obj) -> Result<Option<FieldFormat>, ConfigError> {
    let Some(value) = props.string("field_format")? else {
        return Ok(None);
    };
    match FieldFormat::parse(&value) {
        Some(format) => Ok(Some(format)),
        None => {
            let allowed: Vec<&str> = FieldFormat::ALL.iter().map(|f| f.name()).collect();
            Err(ConfigError::new(
                "properties.field_format",
                format!("must be one of {} (any case), got {value:?}", allowed.join(", ")),
            ))
        }
    }
}

fn stream(props: &Obj) -> Result<StreamRef, ConfigError> {
    let stream = props.string("stream")?.ok_or_else(|| props.missing("stream"))?;
    if stream.starts_with("arn:") {
        // arn:<partition>:kinesis:<region>:<account>:stream/<name>
        let ok = stream.split(':').nth(2) == Some("kinesis") && stream.contains(":stream/");
        return if ok && stream.len() <= 2048 {
            Ok(StreamRef::Arn(stream))
        } else {
            Err(ConfigError::new(
                "properties.stream",
                format!("not a Kinesis stream ARN: {stream:?}"),
            ))
        };
    }
    let valid_chars = stream.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if stream.is_empty() || stream.len() > 128 || !valid_chars {
        return Err(ConfigError::new(
            "properties.stream",
            format!("must be 1-128 characters of [a-zA-Z0-9_.-] or a stream ARN, got {stream:?}"),
        ));
    }
    Ok(StreamRef::Name(stream))
}

fn partition_key(props: &Obj) -> Result<PartitionKey, ConfigError> {
    let template = props.string("partition_key")?.unwrap_or_else(|| "default".to_string());
    PartitionKey::parse(&template).map_err(|e| ConfigError::new("properties.partition_key", e))
}

/// SPEC 2: a decimal 128-bit integer, `0|[1-9][0-9]{0,38}`, at most 2^128-1.
fn explicit_hash_key(props: &Obj) -> Result<Option<String>, ConfigError> {
    let Some(key) = props.string("explicit_hash_key")? else {
        return Ok(None);
    };
    let digits = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0'));
    if digits && key.parse::<u128>().is_ok() {
        Ok(Some(key))
    } else {
        Err(ConfigError::new(
            "properties.explicit_hash_key",
            format!("must be a decimal integer 0..=2^128-1 without leading zeros, got {key:?}"),
        ))
    }
}

#[cfg(test)]
mod tests;
