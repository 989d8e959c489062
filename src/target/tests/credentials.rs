//! Credentials from the provider chain and `role_arn`, against scripted
//! providers on the virtual clock: the chain's order, IMDSv2, container
//! credentials, STS, refresh ahead of expiry and on `ExpiredTokenException`.

use super::*;
use crate::credentials::Environment;
use crate::send::Method;

const IMDS: &str = "http://169.254.169.254";

fn chain_target(env: &[(&str, &str)], extra: serde_json::Value) -> (Target<Script, Script, Script>, Script) {
    let mut cfg = serde_json::json!({"name": "t", "type": "amazonkinesis",
        "properties": {"region": "us-east-1", "stream": "logs", "partition_key": "pk"}});
    for (k, v) in extra.as_object().unwrap() {
        cfg["properties"][k] = v.clone();
    }
    let env = Environment::from_vars(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = crate::config::parse_with_env(&cfg.to_string(), env).unwrap();
    let script = Script::default();
    (
        Target::new(config, script.clone(), script.clone(), script.clone()),
        script,
    )
}

/// `t` as RFC 3339, for failure messages only: what providers send is
/// written out literally in each test, never produced by our own formatter.
fn shown(t: SystemTime) -> String {
    crate::credentials::iso8601(t)
}

/// 2026-11-25T12:00:00Z, where the virtual clock starts (`Script::now`),
/// plus `minutes`: provider expiry times as the tests expect to read them.
fn at_minute(minutes: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_608_000 + minutes * 60)
}

fn answer(status: u16, body: impl Into<String>) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status,
        error_type: None,
        body: body.into().into_bytes(),
    })
}

/// The access key id a PutRecords request was signed with.
fn key_of(authorization: &str) -> &str {
    let rest = &authorization[authorization.find("Credential=").unwrap() + "Credential=".len()..];
    &rest[..rest.find('/').unwrap()]
}

/// Keys that signed each PutRecords request, in order.
fn signing_keys(script: &Script) -> Vec<String> {
    script
        .signed
        .borrow()
        .iter()
        .map(|(a, _)| key_of(a).to_string())
        .collect()
}

/// An IMDSv2 that refuses calls without a session token (as IMDSv1 is off)
/// and hands out `ASIAIMDS<n>` on its n-th credentials fetch, expiring at
/// `expirations[n - 1]` (the last one again past the end), in the shape and
/// the time format IMDS answers with.
fn imds(script: &Script, expirations: &'static [&'static str]) -> Rc<Cell<u32>> {
    let fetches = Rc::new(Cell::new(0));
    let count = fetches.clone();
    *script.provider.borrow_mut() = Some(Box::new(move |seen: &Seen| {
        let role_path = "/latest/meta-data/iam/security-credentials/";
        if seen.url == format!("{IMDS}/latest/api/token") {
            assert_eq!(seen.method, Method::Put);
            assert_eq!(seen.header("x-aws-ec2-metadata-token-ttl-seconds"), Some("21600"));
            return answer(200, "TOKEN-1");
        }
        if seen.header("x-aws-ec2-metadata-token") != Some("TOKEN-1") {
            return answer(401, "");
        }
        assert_eq!(seen.method, Method::Get);
        if seen.url == format!("{IMDS}{role_path}") {
            return answer(200, "logs-role\n");
        }
        assert_eq!(seen.url, format!("{IMDS}{role_path}logs-role"));
        count.set(count.get() + 1);
        let n = count.get();
        let expires = expirations[(n as usize - 1).min(expirations.len() - 1)];
        answer(
            200,
            format!(
                r#"{{
  "Code" : "Success",
  "LastUpdated" : "2026-11-25T11:58:12Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAIMDS{n}",
  "SecretAccessKey" : "IMDSSECRET{n}",
  "Token" : "IMDSTOKEN{n}",
  "Expiration" : "{expires}"
}}"#
            ),
        )
    }));
    fetches
}

fn delivered_all(t: &mut Target<Script, Script, Script>, ids: std::ops::Range<u64>) {
    t.push(events(ids.clone(), 10));
    t.flush();
    let report = t.take_report();
    let by_id = outcomes(&report, ids);
    assert!(by_id.values().all(|o| code(o) == "delivered"), "{by_id:?}");
}

#[test]
fn environment_credentials_sign_when_the_config_has_none() {
    let env = [("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "ENVSECRET")];
    let (mut t, script) = chain_target(&env, serde_json::json!({}));
    delivered_all(&mut t, 0..3);
    assert_eq!(signing_keys(&script), ["AKIAENV"]);
    assert!(script.provider_calls.borrow().is_empty());
}

#[test]
fn the_chain_takes_the_first_source_that_is_set_up() {
    let dir = std::env::temp_dir().join(format!("kt-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "WEBTOKEN\n").unwrap();
    let token_file = token_file.to_str().unwrap();
    let all = [
        ("AWS_ACCESS_KEY_ID", "AKIAENV"),
        ("AWS_SECRET_ACCESS_KEY", "ENVSECRET"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds"),
    ];
    // (variables skipped from the front, where the first provider call goes)
    for (skip, first_call) in [
        (0, None),
        (2, Some("https://sts.us-east-1.amazonaws.com/")),
        (4, Some("http://127.0.0.1:9/creds")),
        (5, Some("http://169.254.169.254/latest/api/token")),
    ] {
        let (mut t, script) = chain_target(&all[skip..], serde_json::json!({}));
        t.push(events(0..1, 1));
        t.flush();
        let calls = script.provider_calls.borrow();
        assert_eq!(calls.first().map(|c| c.url.as_str()), first_call, "skipping {skip}");
    }
}

#[test]
fn imds_v2_fetches_a_token_then_the_roles_credentials() {
    let (mut t, script) = chain_target(&[], serde_json::json!({}));
    let fetches = imds(&script, &["2026-12-02T12:34:56Z"]);
    delivered_all(&mut t, 0..3);
    assert_eq!(fetches.get(), 1);
    assert_eq!(signing_keys(&script), ["ASIAIMDS1"]);
    let calls = script.provider_calls.borrow();
    let methods: Vec<Method> = calls.iter().map(|c| c.method).collect();
    assert_eq!(methods, [Method::Put, Method::Get, Method::Get]);
}

#[test]
fn credentials_already_expired_fail_the_events_clearly() {
    let (mut t, script) = chain_target(&[], serde_json::json!({"max_retries": 0}));
    // Expiring the very second the clock starts at.
    imds(&script, &["2026-11-25T12:00:00Z"]);
    t.push(events(0..2, 1));
    t.flush();
    let report = t.take_report();
    for o in outcomes(&report, 0..2).values() {
        let Outcome::Failed(f) = o else { panic!("{o:?}") };
        assert_eq!(f.code, codes::INSTANCE_METADATA_CREDENTIALS_ERROR);
        assert!(f.message.contains("expired at 2026-11-25T12:00:00Z"), "{}", f.message);
        assert!(f.retryable);
    }
    assert!(
        script.sent.borrow().is_empty(),
        "nothing signed with expired credentials"
    );
}

#[test]
fn credentials_expiring_soon_are_refreshed_before_use() {
    let (mut t, script) = chain_target(&[], serde_json::json!({}));
    let fetches = imds(&script, &["2026-11-25T12:15:00Z", "2026-11-25T12:25:00Z"]);
    delivered_all(&mut t, 0..1);
    // 15 minutes of life: refreshed 5-6 minutes before expiry, so at 8 minutes still the first.
    script.clock.set(script.clock.get() + Duration::from_secs(8 * 60));
    delivered_all(&mut t, 1..2);
    assert_eq!(fetches.get(), 1);
    script.clock.set(script.clock.get() + Duration::from_secs(2 * 60));
    delivered_all(&mut t, 2..3);
    assert_eq!(fetches.get(), 2);
    assert_eq!(signing_keys(&script), ["ASIAIMDS1", "ASIAIMDS1", "ASIAIMDS2"]);
}

#[test]
fn a_provider_that_is_down_fails_the_events_with_its_code_without_hanging() {
    let (mut t, script) = chain_target(&[], serde_json::json!({}));
    // No provider answers: every connection is refused.
    t.push(events(0..3, 1));
    let started = script.clock.get();
    t.flush();
    let report = t.take_report();
    for o in outcomes(&report, 0..3).values() {
        let Outcome::Failed(f) = o else { panic!("{o:?}") };
        assert_eq!(f.code, codes::INSTANCE_METADATA_CREDENTIALS_ERROR);
        assert!(f.message.contains("169.254.169.254"), "{}", f.message);
        assert!(f.message.contains("ConnectionError"), "{}", f.message);
    }
    // Retries are bounded by the policy (4 attempts, backoff under 5 s each).
    assert!(script.clock.get() - started < Duration::from_secs(20));
    assert!(script.sent.borrow().is_empty());
    assert!(
        script.provider_calls.borrow().len() <= 8,
        "{}",
        script.provider_calls.borrow().len()
    );
}

#[test]
fn with_instance_metadata_disabled_and_nothing_else_there_are_no_credentials() {
    let (mut t, script) = chain_target(&[("AWS_EC2_METADATA_DISABLED", "true")], serde_json::json!({}));
    t.push(events(0..2, 1));
    t.flush();
    let report = t.take_report();
    for o in outcomes(&report, 0..2).values() {
        let Outcome::Failed(f) = o else { panic!("{o:?}") };
        assert_eq!(f.code, codes::CREDENTIALS_NOT_FOUND);
        assert!(!f.retryable);
    }
    assert!(script.provider_calls.borrow().is_empty());
}

#[test]
fn expired_token_exception_fetches_new_credentials_and_sends_again() {
    let (mut t, script) = chain_target(&[], serde_json::json!({}));
    let fetches = imds(&script, &["2026-11-25T13:00:00Z"]);
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(HttpResponse {
            status: 400,
            error_type: None,
            body: br#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#
                .to_vec(),
        })
    }));
    delivered_all(&mut t, 0..4);
    assert_eq!(fetches.get(), 2);
    assert_eq!(signing_keys(&script), ["ASIAIMDS1", "ASIAIMDS2"]);
}

#[test]
fn static_credentials_that_expire_fail_as_kinesis_said() {
    let (mut t, script) = target(serde_json::json!({}));
    script.answers.borrow_mut().push_back(Box::new(|_| {
        Ok(HttpResponse {
            status: 400,
            error_type: None,
            body: br#"{"__type":"ExpiredTokenException","message":"expired"}"#.to_vec(),
        })
    }));
    t.push(events(0..2, 1));
    t.flush();
    let report = t.take_report();
    assert!(
        outcomes(&report, 0..2)
            .values()
            .all(|o| code(o) == "ExpiredTokenException")
    );
}

#[test]
fn a_long_run_across_two_expiries_loses_nothing_and_never_signs_with_expired_keys() {
    // A request every 20 s, so a key used past its expiry is seen within it.
    let (mut t, script) = chain_target(&[], serde_json::json!({"max_events": 2}));
    // Key n expires at minute 15 n, whenever it was fetched.
    let fetches = imds(
        &script,
        &[
            "2026-11-25T12:15:00Z",
            "2026-11-25T12:30:00Z",
            "2026-11-25T12:45:00Z",
            "2026-11-25T13:00:00Z",
            "2026-11-25T13:15:00Z",
        ],
    );
    let mut report = Report::default();
    // One event every 10 s for 40 minutes, polled as a host would.
    for id in 0..240u64 {
        t.push(events(id..id + 1, 20));
        t.poll(Duration::ZERO);
        script.clock.set(script.clock.get() + Duration::from_secs(10));
        report.append_settled(t.take_report());
    }
    t.flush();
    report.append_settled(t.take_report());
    let by_id = outcomes(&report, 0..240);
    assert!(by_id.values().all(|o| code(o) == "delivered"), "{by_id:?}");
    assert!(
        fetches.get() >= 3,
        "refreshed across two expiries: {} fetches",
        fetches.get()
    );
    // Every signature is before the Expiration IMDS gave with its key.
    for (auth, at) in script.signed.borrow().iter() {
        let key = key_of(auth);
        let n: u64 = key.strip_prefix("ASIAIMDS").unwrap().parse().unwrap();
        let expires = at_minute(15 * n);
        assert!(
            *at < expires,
            "{key} signed at {} but expired at {}",
            shown(*at),
            shown(expires)
        );
    }
}

#[test]
fn web_identity_reads_the_token_file_and_calls_sts_without_a_signature() {
    let dir = std::env::temp_dir().join(format!("kt-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJ.WEB+TOKEN\n").unwrap();
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web"),
        ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000"),
    ];
    let (mut t, script) = chain_target(&env, serde_json::json!({}));
    *script.provider.borrow_mut() = Some(Box::new(move |seen: &Seen| {
        assert_eq!(seen.url, "http://127.0.0.1:5000/");
        assert_eq!(
            seen.header("authorization"),
            None,
            "AssumeRoleWithWebIdentity is not signed"
        );
        answer(
            200,
            "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
            <AccessKeyId>ASIAWEB</AccessKeyId><SecretAccessKey>WEBSECRET</SecretAccessKey>\
            <SessionToken>WEBSESSION</SessionToken><Expiration>2026-12-02T12:34:56Z</Expiration></Credentials>\
            </AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
        )
    }));
    delivered_all(&mut t, 0..2);
    let calls = script.provider_calls.borrow();
    assert_eq!(
        calls[0].body,
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb\
         &RoleSessionName=pod-1&WebIdentityToken=eyJ.WEB%2BTOKEN"
    );
    assert_eq!(signing_keys(&script), ["ASIAWEB"]);
}

#[test]
fn role_arn_assumes_the_role_signed_for_sts_with_the_static_key() {
    let extra = serde_json::json!({"key": "AKIABASE", "secret": "BASESECRET",
        "role_arn": "arn:aws:iam::123456789012:role/logs", "external_id": "ext-1"});
    let (mut t, script) = chain_target(&[], extra);
    *script.provider.borrow_mut() = Some(Box::new(move |seen: &Seen| {
        let auth = seen.header("authorization").unwrap();
        assert!(
            auth.contains("Credential=AKIABASE/") && auth.contains("/us-east-1/sts/aws4_request"),
            "{auth}"
        );
        // With fractional seconds, as some endpoints write it.
        answer(
            200,
            "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
            <AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>ROLESECRET</SecretAccessKey>\
            <SessionToken>ROLESESSION</SessionToken><Expiration>2026-11-25T12:20:00.123Z</Expiration></Credentials>\
            </AssumeRoleResult></AssumeRoleResponse>",
        )
    }));
    delivered_all(&mut t, 0..2);
    {
        let calls = script.provider_calls.borrow();
        assert_eq!(calls[0].url, "https://sts.us-east-1.amazonaws.com/");
        assert!(calls[0].body.contains("&ExternalId=ext-1"), "{}", calls[0].body);
        assert!(
            calls[0].body.contains("&RoleSessionName=kinesis-target"),
            "{}",
            calls[0].body
        );
    }
    assert_eq!(signing_keys(&script), ["ASIAROLE"]);
    // The expiry read is 12:20: the role is assumed again 5-6 minutes
    // before it, not at 12:13, and by 12:15:01.
    script.clock.set(Duration::from_secs(13 * 60));
    delivered_all(&mut t, 2..3);
    assert_eq!(script.provider_calls.borrow().len(), 1, "12:13: still the first");
    script.clock.set(Duration::from_secs(15 * 60 + 1));
    delivered_all(&mut t, 3..4);
    assert_eq!(script.provider_calls.borrow().len(), 2, "12:15:01: assumed again");
}

#[test]
fn an_sts_refusal_names_the_provider_and_its_error_but_no_secret() {
    let dir = std::env::temp_dir().join(format!("kt-sts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "SECRET-WEB-TOKEN").unwrap();
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web"),
    ];
    let (mut t, script) = chain_target(&env, serde_json::json!({}));
    *script.provider.borrow_mut() = Some(Box::new(|_: &Seen| {
        answer(
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>\
            <Message>Couldn&apos;t retrieve verification key</Message></Error></ErrorResponse>",
        )
    }));
    t.push(events(0..2, 1));
    t.flush();
    let report = t.take_report();
    for o in outcomes(&report, 0..2).values() {
        let Outcome::Failed(f) = o else { panic!("{o:?}") };
        assert_eq!(f.code, codes::WEB_IDENTITY_CREDENTIALS_ERROR);
        assert!(
            f.message.contains("HTTP 400 InvalidIdentityToken: Couldn't retrieve"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("SECRET-WEB-TOKEN"), "{}", f.message);
        assert!(!f.retryable);
    }
}

#[test]
fn container_credentials_carry_the_authorization_token_from_its_file() {
    let dir = std::env::temp_dir().join(format!("kt-ecs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "POD-IDENTITY-TOKEN\n").unwrap();
    let env = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:9/v1/credentials?id=2",
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "IGNORED"),
    ];
    let (mut t, script) = chain_target(&env, serde_json::json!({}));
    *script.provider.borrow_mut() = Some(Box::new(move |seen: &Seen| {
        assert_eq!(seen.url, "http://127.0.0.1:9/v1/credentials?id=2");
        if seen.header("authorization") != Some("POD-IDENTITY-TOKEN") {
            return answer(401, "");
        }
        // The container endpoint's answer as its documentation shows it.
        answer(
            200,
            r#"{
    "AccessKeyId": "ASIAECS",
    "Expiration": "2026-12-02T12:34:56Z",
    "RoleArn": "arn:aws:iam::123456789012:role/pod",
    "SecretAccessKey": "S",
    "Token": "T"
}"#,
        )
    }));
    delivered_all(&mut t, 0..2);
    assert_eq!(signing_keys(&script), ["ASIAECS"]);
}

#[test]
fn container_credentials_over_plain_http_go_only_to_the_agent_or_loopback() {
    let env = [("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds")];
    let (mut t, script) = chain_target(&env, serde_json::json!({}));
    t.push(events(0..1, 1));
    t.flush();
    let report = t.take_report();
    let by_id = outcomes(&report, 0..1);
    let Outcome::Failed(f) = &by_id[&0] else { panic!() };
    assert_eq!(f.code, codes::CONTAINER_CREDENTIALS_ERROR);
    assert!(f.message.contains("must use https"), "{}", f.message);
    assert!(script.provider_calls.borrow().is_empty());
}
