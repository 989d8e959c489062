//! Baseline of BENCHMARKS.md "Client CPU per event": `aws-sdk-kinesis`
//! `put_records`, the same events as `kinesis-host`'s `bench_cpu` example, to
//! the same endpoint. The client is built first (not counted); then CPU time
//! (`getrusage(RUSAGE_SELF)`: every thread of this process, user + system) is
//! measured around sending all events, `BENCH_BATCH` records per call,
//! `BENCH_IN_FLIGHT` calls at once (4, the component's default).
//!
//! `sdk-compare URL STREAM` (BENCH_EVENTS, BENCH_EVENT_BYTES, BENCH_BATCH,
//! BENCH_IN_FLIGHT; BENCH_WARMUP events sent first, not counted, so that
//! the figure is the client's once warm, as `bench_cpu`'s); prints one JSON
//! line.

use kinesis_bench::cpu_time;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The same log-like events as `bench_cpu`: an 8-digit id, then filler.
fn event(id: u64, size: usize) -> Vec<u8> {
    format!("{id:08} {}", "x".repeat(size.saturating_sub(9))).into_bytes()
}

/// Sends `data`, `batch` records per call, `in_flight` calls at once, each
/// wave awaited whole; returns the records delivered.
async fn send_all(client: &Client, stream: &str, data: &[Vec<u8>], batch: usize, in_flight: usize) -> u64 {
    let mut delivered = 0u64;
    for wave in data.chunks(batch * in_flight) {
        let mut calls = Vec::new();
        for chunk in wave.chunks(batch) {
            let records: Vec<PutRecordsRequestEntry> = chunk
                .iter()
                .map(|d| {
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(d.clone()))
                        .partition_key("default")
                        .build()
                        .unwrap()
                })
                .collect();
            let call = client.put_records().stream_name(stream).set_records(Some(records));
            calls.push(tokio::spawn(call.send()));
        }
        for call in calls {
            let out = call.await.unwrap().expect("put_records");
            assert_eq!(out.failed_record_count().unwrap_or(0), 0, "no record may fail");
            delivered += out.records().len() as u64;
        }
    }
    delivered
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: sdk-compare URL STREAM");
    let stream = args.next().expect("usage: sdk-compare URL STREAM");
    let events = env("BENCH_EVENTS", 20_000);
    let size = env("BENCH_EVENT_BYTES", 200) as usize;
    let batch = env("BENCH_BATCH", 500) as usize;
    let in_flight = env("BENCH_IN_FLIGHT", 4) as usize;
    let key = std::env::var("BENCH_KEY").unwrap_or_else(|_| "AKIDLOCALKINESIS".into());
    let secret = std::env::var("BENCH_SECRET").unwrap_or_else(|_| "local-kinesis-secret".into());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::from_keys(key, secret, None))
        .endpoint_url(url)
        .http_client(http)
        .build();
    let client = Client::from_conf(config);
    let warmup = env("BENCH_WARMUP", 0);
    if warmup > 0 {
        let data: Vec<Vec<u8>> = (events..events + warmup).map(|id| event(id, size)).collect();
        send_all(&client, &stream, &data, batch, in_flight).await;
    }
    let data: Vec<Vec<u8>> = (0..events).map(|id| event(id, size)).collect();

    let faults_before = cpu_time::page_faults();
    let cpu_before = cpu_time::cpu();
    let started = Instant::now();
    let delivered = send_all(&client, &stream, &data, batch, in_flight).await;
    let wall = started.elapsed();
    let used = cpu_time::cpu() - cpu_before;
    let faults = cpu_time::page_faults() - faults_before;
    assert_eq!(delivered, events, "every event delivered");
    println!(
        "{{\"client\":\"aws-sdk-kinesis\",\"events\":{events},\"event_bytes\":{size},\"cpu_s\":{:.4},\"wall_s\":{:.4},\"cpu_us_per_event\":{:.3},\"page_faults\":{faults}}}",
        used.as_secs_f64(),
        wall.as_secs_f64(),
        used.as_secs_f64() * 1e6 / events as f64
    );
}
