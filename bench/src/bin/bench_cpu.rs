//! Bench harness (not a test): client CPU per event of the component in
//! wasmtime, sending to an endpoint in another process (BENCHMARKS.md
//! "Client CPU per event"; the baseline is `bench/sdk-compare`, the AWS SDK
//! for Rust, against the same endpoint).
//!
//! `bench_cpu URL STREAM` (BENCH_EVENTS 20,000, BENCH_EVENT_BYTES 200,
//! BENCH_KEY, BENCH_SECRET, BENCH_PROTOCOL `json` or `cbor`, BENCH_OUTCOMES
//! `full` or `ids`, BENCH_AGGREGATION `1` for `aggregation: true`,
//! BENCH_COMPONENT a `.wasm` file in place of the embedded component,
//! BENCH_WARMUP events pushed and flushed first, not counted, so that the
//! figure is the client's once warm (its buffer filled once, its memory
//! touched); BENCH_BUFFER `max_buffer_size` (default 8 MiB, the target's default: a
//! user's config; 0.3.0's figures up to 2026-12-02 ran with 256 MiB, which
//! holds every event in the guest at once); `shard_pacing: false`, as the SDK does not pace). The component is compiled and the instance
//! configured first (not counted, as the SDK's client is built first); then
//! CPU time (`getrusage(RUSAGE_SELF)`: all threads of this process, user +
//! system, wasmtime's epoch thread included) is measured around pushing
//! every event (chunks of 500, 500 records per request, the default 4
//! requests in flight) and `flush`, in a task on the runtime's workers (as
//! the SDK's calls run; BENCH_MAIN_THREAD=1 for the main thread). Prints
//! one JSON line, with the page faults of the same span and the tenant's
//! backpressure waits (its buffer full).

use kinesis_bench::cpu_time;

use kinesis_host::{KinesisRuntime, Tenant, wit};
use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Log-like events: an 8-digit id, then filler to `size` bytes.
fn log_events(ids: std::ops::Range<u64>, size: usize) -> Vec<wit::Event> {
    ids.map(|id| wit::Event {
        id,
        data: format!("{id:08} {}", "x".repeat(size.saturating_sub(9))).into_bytes(),
    })
    .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: bench_cpu URL STREAM");
    let stream = args.next().expect("usage: bench_cpu URL STREAM");
    let events = env("BENCH_EVENTS", 20_000);
    let size = env("BENCH_EVENT_BYTES", 200) as usize;
    let key = std::env::var("BENCH_KEY").unwrap_or_else(|_| "AKIDLOCALKINESIS".into());
    let secret = std::env::var("BENCH_SECRET").unwrap_or_else(|_| "local-kinesis-secret".into());
    let protocol = std::env::var("BENCH_PROTOCOL").unwrap_or_else(|_| "json".into());
    let detail = std::env::var("BENCH_OUTCOMES").unwrap_or_else(|_| "full".into());
    let aggregation = env("BENCH_AGGREGATION", 0) == 1;
    // From the compile cache, as `kinesis-host run` starts: not measured
    // either way, but a profile of this process then shows the sends only.
    let component = kinesis_bench::component()?;
    let cache = kinesis_host::compile_cache::default_dir();
    let runtime = KinesisRuntime::with_options_cached(&component, Default::default(), cache.as_deref())?;
    let config = serde_json::json!({"name": "bench", "type": "amazonkinesis", "properties": {
        "key": key, "secret": secret, "region": "us-east-1", "endpoint": url, "stream": stream,
        "partition_key": "default", "max_events": 500, "max_buffer_size": env("BENCH_BUFFER", 8 << 20), "protocol": protocol,
        // The work per event is compared, not the shards: the SDK does not
        // pace either, and this endpoint enforces no write limits.
        "shard_pacing": false, "outcome_detail": detail, "aggregation": aggregation}});
    let mut tenant = Tenant::start(&runtime, &config.to_string())
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    let warmup_events = env("BENCH_WARMUP", 0);
    let warmup = log_events(events..events + warmup_events, size);
    let batch = log_events(0..events, size);
    // Measured from inside the task, after the warm-up, which runs where
    // the measured pushes run.
    let run = async move {
        for chunk in warmup.chunks(500) {
            tenant.push(chunk).await;
        }
        tenant.flush().await;
        let warmed = std::mem::take(&mut tenant.tally);
        let before = (cpu_time::page_faults(), cpu_time::cpu(), Instant::now());
        for chunk in batch.chunks(500) {
            tenant.push(chunk).await;
        }
        tenant.flush().await;
        let (faults, cpu, started) = before;
        let used = (
            cpu_time::cpu() - cpu,
            started.elapsed(),
            cpu_time::page_faults() - faults,
        );
        (tenant, warmed, used)
    };
    // On a worker thread, as the SDK's calls run (`tokio::spawn`): from
    // the main thread (BENCH_MAIN_THREAD=1, the placement up to
    // 2026-12-06), every answer wakes a worker and then this thread, about
    // 10 % more CPU at 100 B (BENCHMARKS.md "Issue 14, fourth pass").
    let (tenant, warmed, (used, wall, faults)) = if env("BENCH_MAIN_THREAD", 0) == 1 {
        run.await
    } else {
        tokio::spawn(run).await?
    };
    anyhow::ensure!(
        warmed.delivered == warmup_events,
        "warm-up not all delivered: {warmed:?}"
    );
    anyhow::ensure!(
        tenant.tally.delivered == events,
        "not all delivered: {:?}",
        tenant.tally
    );
    println!(
        "{{\"client\":\"kinesis-target (wasmtime, {protocol}, outcomes {detail}, aggregation {aggregation})\",\"events\":{events},\"event_bytes\":{size},\"cpu_s\":{:.4},\"wall_s\":{:.4},\"cpu_us_per_event\":{:.3},\"page_faults\":{faults},\"backpressure_waits\":{}}}",
        used.as_secs_f64(),
        wall.as_secs_f64(),
        used.as_secs_f64() * 1e6 / events as f64,
        tenant.tally.backpressure_waits
    );
    Ok(())
}
