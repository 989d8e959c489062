//! Bench harness (not a test): what `max_in_flight` buys against an endpoint
//! that answers every request after a fixed latency (50 ms by default, the
//! order of a cross-region round trip).
//!
//! The baseline is `max_in_flight: 1` in the same run; each setting is run
//! `BENCH_RUNS` times, interleaved, and the median taken. Run through
//! `scripts/bench` or:
//!
//! ```sh
//! cargo bench -p kinesis-bench --bench in_flight
//! ```

use kinesis_host::{KinesisRuntime, Tenant, wit};
use kinesis_local_endpoint::{DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Faults, LocalEndpoint, LocalEndpointConfig};
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events = env("BENCH_EVENTS", 20_000);
    let size = env("BENCH_EVENT_BYTES", 200) as usize;
    let runs = env("BENCH_RUNS", 3);
    let latency = Duration::from_millis(env("BENCH_LATENCY_MS", 50));
    let max_events = env("BENCH_MAX_EVENTS", 100);
    let runtime = KinesisRuntime::new()?;
    let endpoint = LocalEndpoint::start(LocalEndpointConfig {
        faults: Faults {
            latency,
            ..Default::default()
        },
        ..Default::default()
    })
    .await?;
    endpoint.create_stream("bench", 4);
    let batch: Vec<wit::Event> = (0..events)
        .map(|id| wit::Event {
            id,
            data: format!("{id:08} {}", "x".repeat(size.saturating_sub(9))).into_bytes(),
        })
        .collect();
    let settings = [1u32, 4, 16];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
    for _ in 0..runs {
        for (i, in_flight) in settings.iter().enumerate() {
            let config = serde_json::json!({"name": "bench", "type": "amazonkinesis", "properties": {
                "key": DEFAULT_ACCESS_KEY, "secret": DEFAULT_SECRET_KEY, "region": "us-east-1",
                "endpoint": endpoint.url(), "stream": "bench", "max_events": max_events,
                "max_in_flight": in_flight, "max_buffer_size": 64 * 1024 * 1024}});
            let mut tenant = Tenant::start(&runtime, &config.to_string())
                .await?
                .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
            let started = Instant::now();
            for chunk in batch.chunks(500) {
                tenant.push(chunk).await;
            }
            tenant.flush().await;
            let elapsed = started.elapsed().as_secs_f64();
            anyhow::ensure!(
                tenant.tally.delivered == events,
                "not all delivered: {:?}",
                tenant.tally
            );
            rates[i].push(events as f64 / elapsed);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = rates.iter_mut().map(median).collect();
    println!(
        "{events} events of {size} B, {max_events} per request, {} ms latency per request, median of {runs}",
        latency.as_millis()
    );
    println!("| max_in_flight | events/s | vs max_in_flight 1 |");
    println!("|---|---|---|");
    for (in_flight, rate) in settings.iter().zip(&medians) {
        println!("| {in_flight} | {rate:.0} | {:.2}x |", rate / medians[0]);
    }
    endpoint.shutdown().await;
    Ok(())
}
