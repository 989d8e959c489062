//! Bench harness (not a test): guest throughput, from `push` to signed
//! request bytes handed to the host, which answers at once (no network, every
//! record delivered), for 100 B, 1 KiB and 10 KiB events. In one run,
//! interleaved, median of `BENCH_RUNS`:
//!
//! - the component in wasmtime (the embedded build, `component` profile),
//!   answered by a [`RuntimeOptions::transport`] instead of a socket;
//! - the same crate compiled natively (this build's `release` profile),
//!   `bench/native_guest.rs`;
//! - SHA-256 over the same request bodies (the floor);
//!
//! each in both protocols, JSON 1.1 and CBOR (`protocol: cbor`), and CBOR
//! with KPL aggregation (`aggregation: true`), then each one's ratio to
//! JSON. The component is handed its events through `push-batch`, 500 per
//! batch, packed before the clock starts (the host's work, not the guest's).
//!
//! ```sh
//! cargo bench -p kinesis-bench --bench guest
//! ```
//!
//! `BENCH_MB` (event megabytes per run, 20), `BENCH_RUNS` (3), `BENCH_SIZES`
//! (`100,1024,10240`), `BENCH_MODES` (`json,cbor,cbor+aggregation`),
//! `BENCH_COMPONENT` (a `.wasm` file in place of the embedded component: an
//! older build for an A/B, or one with its name section for a profile). With `BENCH_MEMORY=1` it measures memory instead
//! (BENCHMARKS.md "Memory").

use kinesis_bench::native_guest as native;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kinesis_host::options::Answered;
use kinesis_host::{KinesisRuntime, RuntimeOptions, TargetInstance, Transport, wit};
use sha2::Digest;
use std::time::{Duration, Instant};

/// Answers every PutRecords after `delay` (zero: at once) with one
/// delivered result per record in the body.
fn answerer(delay: Duration) -> Transport {
    Transport::new(move |request| -> Answered {
        let request_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::new(async move {
            let body = request
                .into_body()
                .collect()
                .await
                .map_err(|_| wasmtime_wasi_http::Error::HttpRequestDenied)?
                .to_bytes();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let content_type = request_type.unwrap_or_default();
            let answer = native::answer_to(&content_type, native::count_records(&body));
            let response = http::Response::builder()
                .status(200)
                .header("content-type", content_type)
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

async fn runtime(delay: Duration, memory_limit: usize) -> anyhow::Result<KinesisRuntime> {
    let component = kinesis_bench::component()?;
    KinesisRuntime::with_options(
        &component,
        RuntimeOptions {
            transport: Some(answerer(delay)),
            memory_limit,
            ..Default::default()
        },
    )
}

async fn instance(runtime: &KinesisRuntime, config: &str) -> anyhow::Result<TargetInstance> {
    let mut instance = runtime.instantiate().await?;
    instance
        .configure(config)
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    Ok(instance)
}

fn delivered(report: &wit::Report) -> u64 {
    report.delivered.len() as u64
}

/// Events in chunks of `CHUNK`, each packed for `push-batch`.
const CHUNK: usize = 500;

/// Pushes `events` through the component with `push-batch`, one packed batch
/// per chunk of [`CHUNK`] (`batches`), offering again what backpressure
/// left, then flushes; returns the time and events delivered.
async fn wasm_run(
    instance: &mut TargetInstance,
    events: &[wit::Event],
    batches: &[wit::EventBatch],
) -> anyhow::Result<(Duration, u64)> {
    let mut done = 0;
    let started = Instant::now();
    for (chunk, batch) in events.chunks(CHUNK).zip(batches) {
        let report = instance.push_batch(batch).await?;
        let mut from = report.accepted as usize;
        done += delivered(&report);
        while from < chunk.len() {
            done += delivered(&instance.poll(Duration::from_millis(50)).await?);
            let report = instance.push_batch(&wit::EventBatch::pack(&chunk[from..])).await?;
            from += report.accepted as usize;
            done += delivered(&report);
        }
    }
    done += delivered(&instance.flush().await?);
    Ok((started.elapsed(), done))
}

async fn throughput() -> anyhow::Result<()> {
    let mb = native::env("BENCH_MB", 20);
    let runs = native::env("BENCH_RUNS", 3).max(1);
    let sizes = native::sizes();
    let runtime = runtime(Duration::ZERO, 1 << 30).await?;
    println!("{mb} MB of events per run, 500 per request, median of {runs}, events/s (event MB/s)");
    println!(
        "| event | mode | events | wasmtime | native | SHA-256 of the bodies | wasmtime / native | wasmtime / SHA-256 | native / SHA-256 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let modes = std::env::var("BENCH_MODES").unwrap_or_else(|_| "json,cbor,cbor+aggregation".into());
    let modes: Vec<&str> = modes.split(',').map(str::trim).collect();
    let mut vs_json = Vec::new();
    for size in sizes {
        let mut rates = Vec::new();
        for &mode in &modes {
            rates.push(mode_row(&runtime, mode, size, mb, runs).await?);
        }
        vs_json.push((size, rates));
    }
    println!();
    println!(
        "| event | mode | wasmtime, events/s vs {0} | native, events/s vs {0} |",
        modes[0]
    );
    println!("|---|---|---|---|");
    for (size, rates) in vs_json {
        for (mode, rate) in modes.iter().zip(&rates).skip(1) {
            println!(
                "| {size} B | {mode} | **{:.2}** | {:.2} |",
                rate.0 / rates[0].0,
                rate.1 / rates[0].1
            );
        }
    }
    Ok(())
}

/// One table row: `size`-byte events in `mode` (`json`, `cbor`,
/// `cbor+aggregation`), through the component, natively and SHA-256 of the
/// bodies; returns (wasmtime, native) events/s.
async fn mode_row(runtime: &KinesisRuntime, mode: &str, size: usize, mb: u64, runs: u64) -> anyhow::Result<(f64, f64)> {
    let config = native::config_json_in("http://127.0.0.1:9", mode);
    let n = (mb << 20) / size as u64;
    let data = native::events(n, size);
    let events: Vec<wit::Event> = data
        .iter()
        .enumerate()
        .map(|(id, d)| wit::Event {
            id: id as u64,
            data: d.clone(),
        })
        .collect();
    let batches: Vec<wit::EventBatch> = events.chunks(CHUNK).map(wit::EventBatch::pack).collect();
    let bodies = native::run_in(mode, &data, CHUNK, true).bodies;
    let (mut wasm, mut nat, mut sha) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        // A fresh instance per run, configured before the clock starts.
        let mut inst = instance(runtime, &config).await?;
        let (elapsed, ok) = wasm_run(&mut inst, &events, &batches).await?;
        anyhow::ensure!(ok == n, "wasmtime: {ok} of {n} delivered");
        wasm.push(n as f64 / elapsed.as_secs_f64());
        let run = native::run_in(mode, &data, CHUNK, false);
        anyhow::ensure!(run.delivered == n, "native: {} of {n} delivered", run.delivered);
        nat.push(n as f64 / run.elapsed.as_secs_f64());
        let started = Instant::now();
        for body in &bodies {
            std::hint::black_box(sha2::Sha256::digest(body));
        }
        sha.push(n as f64 / started.elapsed().as_secs_f64());
    }
    let (w, v, s) = (native::median(wasm), native::median(nat), native::median(sha));
    let mbs = |r: f64| r * size as f64 / 1e6;
    println!(
        "| {size} B | {mode} | {n} | {w:.0} ({:.1}) | {v:.0} ({:.1}) | {s:.0} ({:.1}) | **{:.2}** | {:.2} | {:.2} |",
        mbs(w),
        mbs(v),
        mbs(s),
        w / v,
        w / s,
        v / s
    );
    Ok((w, v))
}

/// Linear memory of an idle configured instance, and of one whose buffer
/// (`max_buffer_size`) is full because the endpoint is slow.
async fn memory() -> anyhow::Result<()> {
    println!("| instance | max_buffer_size | events held | linear memory (KiB) |");
    println!("|---|---|---|---|");
    let fast = runtime(Duration::ZERO, 1 << 30).await?;
    // Memory is measured with the default pacing (one shard: its first
    // second's 1,000 records in flight); throughput without it.
    let paced = native::config_json_in("http://127.0.0.1:9", "json").replace(r#""shard_pacing":false,"#, "");
    let default_buffer = paced.replace("1073741824", "8388608");
    let idle = instance(&fast, &default_buffer).await?;
    println!(
        "| idle, configured | default (8 MiB) | 0 | {} |",
        idle.host_stats().memory_bytes >> 10
    );
    let slow = runtime(Duration::from_secs(3600), 1 << 30).await?;
    for (buffer, size) in [
        (8usize << 20, 1usize),
        (8 << 20, 100),
        (8 << 20, 200),
        (8 << 20, 10240),
        (64 << 20, 1024),
    ] {
        let config = paced.replace("1073741824", &buffer.to_string());
        let mut inst = instance(&slow, &config).await?;
        let data = native::events((2 * buffer / size) as u64, size);
        let events: Vec<wit::Event> = data
            .into_iter()
            .enumerate()
            .map(|(id, data)| wit::Event { id: id as u64, data })
            .collect();
        // Push until the target refuses: its buffer is full.
        let mut held = 0;
        for chunk in events.chunks(500) {
            let report = inst.push(chunk).await?;
            held += report.accepted as usize;
            if (report.accepted as usize) < chunk.len() {
                break;
            }
        }
        let stats = inst.stats().await?;
        println!(
            "| full buffer, {size} B events, endpoint not answering | {} MiB | {held} ({} in flight, {} KiB buffered) | {} |",
            buffer >> 20,
            stats.in_flight_events,
            stats.buffered_bytes >> 10,
            inst.host_stats().memory_bytes >> 10
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if native::env("BENCH_MEMORY", 0) == 1 {
        memory().await
    } else {
        throughput().await
    }
}
