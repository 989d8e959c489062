//! The outbound policy and the component agree: for a table of configs x
//! environments, the authorities the component actually contacts, run in
//! wasmtime with every request answered, are exactly what the host's
//! default policy allows that tenant.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kinesis_host::options::Answered;
use kinesis_host::outbound::{Allowed, OutboundPolicy};
use kinesis_host::{Grants, KinesisRuntime, RuntimeOptions, Tenant, Transport, wit};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Every authority requested (`host:port`), and the fake AWS that answers.
fn recording_transport(seen: Arc<Mutex<BTreeSet<String>>>) -> Transport {
    Transport::new(move |request| -> Answered {
        let uri = request.uri().clone();
        let https = uri.scheme_str() == Some("https");
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        let authority = if authority.rsplit_once(':').is_some_and(|(h, p)| {
            !h.ends_with(':') && p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']'))
        }) {
            authority
        } else {
            format!("{authority}:{}", if https { 443 } else { 80 })
        };
        seen.lock().unwrap().insert(authority.clone());
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let path = uri.path().to_string();
        Box::new(async move {
            let body = request
                .into_body()
                .collect()
                .await
                .map_err(|_| wasmtime_wasi_http::Error::HttpRequestDenied)?
                .to_bytes();
            let answer = answer(&authority, &path, &target, &body);
            let response = http::Response::builder()
                .status(200)
                .body(
                    Full::new(Bytes::from(answer))
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .expect("a valid response");
            let done: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    })
}

const EXPIRES: &str = "2099-01-01T00:00:00Z";

/// What each service answers: PutRecords, IMDSv2, container, STS.
fn answer(authority: &str, path: &str, target: &str, body: &[u8]) -> String {
    if target.ends_with("PutRecords") {
        let records = String::from_utf8_lossy(body).matches("\"PartitionKey\"").count();
        let one = r#"{"SequenceNumber":"1","ShardId":"shardId-000000000000"}"#;
        return format!(
            r#"{{"FailedRecordCount":0,"Records":[{}]}}"#,
            vec![one; records].join(",")
        );
    }
    let creds = format!(
        r#"{{"Code":"Success","AccessKeyId":"ASIA1","SecretAccessKey":"S","Token":"T","Expiration":"{EXPIRES}"}}"#
    );
    if path == "/latest/api/token" {
        return "imds-token".into();
    }
    if path == "/latest/meta-data/iam/security-credentials/" {
        return "role\n".into();
    }
    if path.starts_with("/latest/meta-data/iam/security-credentials/")
        || authority.starts_with("169.254.170.2")
        || path == "/creds"
    {
        return creds;
    }
    let action = if String::from_utf8_lossy(body).contains("AssumeRoleWithWebIdentity") {
        "AssumeRoleWithWebIdentity"
    } else {
        "AssumeRole"
    };
    format!(
        "<{action}Response><{action}Result><Credentials><AccessKeyId>ASIA2</AccessKeyId>\
         <SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken><Expiration>{EXPIRES}</Expiration>\
         </Credentials></{action}Result></{action}Response>"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_component_contacts_exactly_what_the_host_allows() {
    let dir = std::env::temp_dir().join(format!("kt-outbound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "web-identity-token").unwrap();
    let token = token.to_str().unwrap().to_string();

    let keys = serde_json::json!({"key": "AKID", "secret": "S"});
    let configs: Vec<(&str, serde_json::Value)> = vec![
        ("static keys", keys.clone()),
        (
            "static keys, endpoint",
            serde_json::json!({"key": "AKID", "secret": "S", "endpoint": "http://127.0.0.1:4567"}),
        ),
        (
            "China region",
            serde_json::json!({"key": "AKID", "secret": "S", "region": "cn-north-1"}),
        ),
        ("chain", serde_json::json!({})),
        ("chain, role", serde_json::json!({"role_arn": "arn:aws:iam::1:role/r"})),
        (
            "static keys, role, sts_endpoint",
            serde_json::json!({"key": "AKID", "secret": "S",
            "role_arn": "arn:aws:iam::1:role/r", "sts_endpoint": "http://127.0.0.1:5000"}),
        ),
    ];
    let envs: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no environment", vec![]),
        (
            "environment keys",
            vec![("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "S")],
        ),
        (
            "web identity",
            vec![
                ("AWS_WEB_IDENTITY_TOKEN_FILE", token.as_str()),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/w"),
            ],
        ),
        (
            "container, relative",
            vec![("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")],
        ),
        (
            "container, full",
            vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")],
        ),
        (
            "IMDS over IPv6",
            vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")],
        ),
        (
            "IMDS endpoint",
            vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338")],
        ),
        (
            "endpoint URLs",
            vec![
                ("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:7000"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:7001"),
            ],
        ),
        (
            "global endpoint URL",
            vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:7001")],
        ),
        (
            "STS endpoint URL",
            vec![("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:7002")],
        ),
    ];
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let runtime = KinesisRuntime::with_options(
        kinesis_host::runtime::EMBEDDED_COMPONENT,
        RuntimeOptions {
            outbound: OutboundPolicy::Any,
            transport: Some(recording_transport(seen.clone())),
            ..RuntimeOptions::default()
        },
    )
    .unwrap();
    let mut disagreements = Vec::new();
    for (config_name, props) in &configs {
        for (env_name, vars) in &envs {
            let mut properties = serde_json::json!({"region": "eu-west-1", "stream": "logs", "partition_key": "k"});
            for (k, v) in props.as_object().unwrap() {
                properties[k] = v.clone();
            }
            let config = serde_json::json!({"name": "t", "type": "amazonkinesis", "properties": properties});
            let grants = Grants::from_vars(vars.iter().copied());
            let allowed = Allowed::for_target(&OutboundPolicy::ConfiguredEndpoints, &config, &grants);
            seen.lock().unwrap().clear();
            let mut tenant = Tenant::start_with(&runtime, &config.to_string(), &grants)
                .await
                .unwrap()
                .unwrap();
            let mut out = tenant
                .push(&[wit::Event {
                    id: 1,
                    data: b"x".to_vec(),
                }])
                .await;
            out.append(tenant.flush().await);
            assert_eq!(out.len(), 1);
            assert_eq!(out.delivered_count(), 1, "{config_name} x {env_name}: {:?}", out.failed);
            let contacted: Vec<String> = seen.lock().unwrap().iter().cloned().collect();
            if contacted != allowed.authorities() {
                disagreements.push(format!(
                    "{config_name} x {env_name}: contacted {contacted:?}, allowed {:?}",
                    allowed.authorities()
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
