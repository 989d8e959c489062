//! The sandbox holds with several tenants in one process: the outbound
//! policy refuses what a tenant may not reach, a tenant over its memory cap
//! or its call budget stops alone, TLS trusts an extra CA when told to, and
//! debug output never shows a secret.

use kinesis_host::runtime::EMBEDDED_COMPONENT;
use kinesis_host::{KinesisRuntime, OutboundPolicy, RuntimeOptions, Settled, Tenant, wit};
use kinesis_local_endpoint::{DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Faults, LocalEndpoint, LocalEndpointConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn config(name: &str, endpoint: &str, extra: serde_json::Value) -> String {
    let mut c = serde_json::json!({"name": name, "type": "amazonkinesis", "properties": {
        "key": DEFAULT_ACCESS_KEY, "secret": DEFAULT_SECRET_KEY, "region": "us-east-1",
        "endpoint": endpoint, "stream": "logs", "partition_key": name, "timeout": 10}});
    for (k, v) in extra.as_object().unwrap() {
        c["properties"][k] = v.clone();
    }
    c.to_string()
}

async fn endpoint() -> LocalEndpoint {
    let e = LocalEndpoint::start(LocalEndpointConfig::default()).await.unwrap();
    e.create_stream("logs", 2);
    e
}

fn events(ids: std::ops::Range<u64>, len: usize) -> Vec<wit::Event> {
    ids.map(|id| wit::Event {
        id,
        data: vec![b'x'; len],
    })
    .collect()
}

fn codes(settled: &Settled) -> std::collections::BTreeMap<String, usize> {
    let mut by = std::collections::BTreeMap::new();
    if settled.delivered_count() > 0 {
        by.insert("delivered".to_string(), settled.delivered_count());
    }
    for o in &settled.failed {
        let wit::Outcome::Failed(f) = &o.outcome else {
            unreachable!("deliveries come packed")
        };
        *by.entry(f.code.clone()).or_default() += 1;
    }
    by
}

fn runtime(options: RuntimeOptions) -> KinesisRuntime {
    KinesisRuntime::with_options(EMBEDDED_COMPONENT, options).expect("component compiles")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_the_operator_list_does_not_allow_fails_with_the_denial_and_the_other_delivers() {
    let allowed = endpoint().await;
    let elsewhere = endpoint().await;
    let rt = runtime(RuntimeOptions {
        outbound: OutboundPolicy::Only(vec![allowed.local_addr().to_string()]),
        ..Default::default()
    });
    let mut good = Tenant::start(&rt, &config("good", &allowed.url(), serde_json::json!({})))
        .await
        .unwrap()
        .unwrap();
    let mut bad = Tenant::start(&rt, &config("bad", &elsewhere.url(), serde_json::json!({})))
        .await
        .unwrap()
        .unwrap();
    let mut good_out = good.push(&events(0..300, 50)).await;
    let mut bad_out = bad.push(&events(0..300, 50)).await;
    good_out.append(good.flush().await);
    bad_out.append(bad.flush().await);
    assert_eq!(codes(&good_out), [("delivered".to_string(), 300)].into());
    assert_eq!(codes(&bad_out), [("HttpRequestDenied".to_string(), 300)].into());
    assert_eq!(allowed.records("logs").len(), 300);
    assert!(
        elsewhere.records("logs").is_empty(),
        "nothing reached the host the policy refused"
    );
    assert_eq!(elsewhere.stats().requests, 0);
    assert!(bad.host_stats().denied_requests >= 1);
    assert_eq!(good.host_stats().denied_requests, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_over_its_memory_cap_stops_alone_and_its_events_come_back() {
    let ep = LocalEndpoint::start(LocalEndpointConfig {
        faults: Faults {
            latency: Duration::from_secs(2),
            ..Faults::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    ep.create_stream("logs", 2);
    let rt = runtime(RuntimeOptions {
        memory_limit: 24 << 20,
        ..Default::default()
    });
    // A buffer far larger than the cap, and many requests in flight: the
    // events pile up in the instance's memory while the endpoint is slow.
    let greedy = config(
        "greedy",
        &ep.url(),
        serde_json::json!({"max_buffer_size": 512 << 20, "max_in_flight": 64, "max_events": 2}),
    );
    let mut greedy = Tenant::start(&rt, &greedy).await.unwrap().unwrap();
    let mut calm = Tenant::start(&rt, &config("calm", &ep.url(), serde_json::json!({})))
        .await
        .unwrap()
        .unwrap();
    let mut greedy_out = Settled::default();
    let mut calm_out = Settled::default();
    for chunk in 0..40u64 {
        greedy_out.append(greedy.push(&events(chunk * 2..chunk * 2 + 2, 1_000_000)).await);
        calm_out.append(calm.push(&events(chunk * 10..chunk * 10 + 10, 100)).await);
    }
    greedy_out.append(greedy.flush().await);
    calm_out.append(calm.flush().await);
    assert_eq!(
        greedy.broken_code(),
        Some("MemoryLimitExceeded"),
        "{:?}",
        greedy.trapped()
    );
    assert_eq!(greedy_out.len(), 80, "every event pushed comes back");
    assert_eq!(
        codes(&greedy_out).get("MemoryLimitExceeded").copied().unwrap_or(0)
            + codes(&greedy_out).get("delivered").copied().unwrap_or(0),
        80
    );
    assert!(greedy.host_stats().memory_bytes <= 24 << 20);
    assert_eq!(codes(&calm_out), [("delivered".to_string(), 400)].into());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_its_time_budget_is_interrupted_and_the_other_tenant_carries_on() {
    let ep = endpoint().await;
    let rt = runtime(RuntimeOptions {
        call_budget: Duration::from_millis(20),
        memory_limit: 1 << 30,
        ..Default::default()
    });
    // Unpaced, and requests of 10 MiB: the push whose events close a batch
    // encodes, hashes and signs 10 MB at once (a push hands over at most
    // 4 MiB, so it is the batch, not the push, that is large).
    let heavy = serde_json::json!({"max_buffer_size": 256 << 20, "shard_pacing": false,
        "max_request_size": 10 << 20});
    let mut slow = Tenant::start(&rt, &config("slow", &ep.url(), heavy))
        .await
        .unwrap()
        .unwrap();
    let mut quick = Tenant::start(&rt, &config("quick", &ep.url(), serde_json::json!({})))
        .await
        .unwrap()
        .unwrap();
    // Encoding, hashing and signing 10 MB takes far longer than 20 ms.
    let mut slow_out = slow.push(&events(0..60, 1_000_000)).await;
    slow_out.append(slow.flush().await);
    assert_eq!(slow.broken_code(), Some("CallBudgetExceeded"), "{:?}", slow.trapped());
    assert_eq!(slow_out.len(), 60);
    let mut quick_out = quick.push(&events(0..50, 100)).await;
    quick_out.append(quick.flush().await);
    assert_eq!(codes(&quick_out), [("delivered".to_string(), 50)].into());
}

/// A TLS front for the local endpoint, with the test CA's server certificate.
async fn tls_front(backend: std::net::SocketAddr) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await
                    && let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn https_to_an_endpoint_signed_by_an_extra_ca_works_only_with_that_ca() {
    let ep = endpoint().await;
    let port = tls_front(ep.local_addr()).await;
    let url = format!("https://localhost:{port}");
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.pem");
    let with_ca = runtime(RuntimeOptions {
        extra_ca: Some(ca),
        ..Default::default()
    });
    let mut t = Tenant::start(&with_ca, &config("tls", &url, serde_json::json!({})))
        .await
        .unwrap()
        .unwrap();
    let mut out = t.push(&events(0..20, 10)).await;
    out.append(t.flush().await);
    assert_eq!(codes(&out), [("delivered".to_string(), 20)].into());

    let without = runtime(RuntimeOptions::default());
    let cfg = config("tls", &url, serde_json::json!({"max_retries": 0}));
    let mut t = Tenant::start(&without, &cfg).await.unwrap().unwrap();
    let mut out = t.push(&events(0..5, 10)).await;
    out.append(t.flush().await);
    assert_eq!(out.len(), 5);
    // The refusal must be the certificate's: a dead front or a refused
    // connection would fail these events too, with another cause.
    for o in out {
        let wit::Outcome::Failed(f) = &o.outcome else {
            panic!("an unknown CA must not be trusted: event {} was delivered", o.id);
        };
        assert_eq!(f.code, "ConnectionError", "{f:?}");
        assert!(f.message.contains("Tls"), "not a TLS failure: {f:?}");
    }
    assert_eq!(ep.records("logs").len(), 20);
}

#[test]
fn debug_output_of_two_tenants_shows_no_secret() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ep = rt.block_on(endpoint());
    let dir = std::env::temp_dir().join(format!("kt-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Tenant b uses a wrong secret of its own: its failures must not show it either.
    let a = config(
        "tenant-a",
        &ep.url(),
        serde_json::json!({"debug": {"status": true}, "session": "SESSION-OF-A"}),
    );
    let b = config(
        "tenant-b",
        &ep.url(),
        serde_json::json!({"debug": {"status": true}, "secret": "SECRET-OF-B"}),
    );
    let targets = format!("{{\"targets\": [{a}, {b}]}}");
    std::fs::write(dir.join("config.json"), targets).unwrap();
    std::fs::write(dir.join("events.txt"), "first line\nsecond line\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kinesis-host"))
        .args(["run", "--config"])
        .arg(dir.join("config.json"))
        .arg("--input")
        .arg(dir.join("events.txt"))
        .args(["--report", "json", "--no-aws-env"])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(all.contains("[debug] target tenant-a: event 1: first line"), "{all}");
    assert!(all.contains("[debug] target tenant-b: event 2: second line"), "{all}");
    for secret in [DEFAULT_SECRET_KEY, "SESSION-OF-A", "SECRET-OF-B", "Signature="] {
        assert!(!all.contains(secret), "{secret:?} appears in the CLI's output:\n{all}");
    }
}
