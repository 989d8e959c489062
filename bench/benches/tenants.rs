//! What one more tenant costs: instantiation time from the `InstancePre`,
//! `configure`, and memory (the instance's linear memory, and the process's
//! resident memory), for 1, 100 and 1,000 tenants in one process, with
//! wasmtime's on-demand allocator and with its pooling allocator.
//!
//! `cargo bench -p kinesis-bench --bench tenants`
//! (BENCHMARKS.md, "Tenants"). Linux only for resident memory (/proc).

use kinesis_host::runtime::EMBEDDED_COMPONENT;
use kinesis_host::{KinesisRuntime, RuntimeOptions, TargetInstance};
use std::time::{Duration, Instant};

/// Resident set size of this process, in bytes (0 where /proc is missing).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn config(i: usize) -> String {
    serde_json::json!({"name": format!("tenant-{i}"), "type": "amazonkinesis", "properties": {
        "key": "AKID", "secret": "secret", "region": "us-east-1",
        "endpoint": "http://127.0.0.1:9", "stream": format!("logs-{i}")}})
    .to_string()
}

struct Row {
    tenants: usize,
    instantiate: Duration,
    configure: Duration,
    linear_memory: u64,
    rss_per_tenant: u64,
}

async fn measure(runtime: &KinesisRuntime, tenants: usize) -> anyhow::Result<Row> {
    let before = rss();
    let mut instances: Vec<TargetInstance> = Vec::with_capacity(tenants);
    let started = Instant::now();
    for _ in 0..tenants {
        instances.push(runtime.instantiate().await?);
    }
    let instantiate = started.elapsed() / tenants as u32;
    let started = Instant::now();
    for (i, t) in instances.iter_mut().enumerate() {
        t.configure(&config(i))
            .await?
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    }
    let configure = started.elapsed() / tenants as u32;
    let linear_memory = instances.iter().map(|t| t.host_stats().memory_bytes).sum::<u64>() / tenants as u64;
    let rss_per_tenant = rss().saturating_sub(before) / tenants as u64;
    drop(instances);
    Ok(Row {
        tenants,
        instantiate,
        configure,
        linear_memory,
        rss_per_tenant,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!(
        "| allocator | tenants | instantiate (us/tenant) | configure (us/tenant) | linear memory (KiB/tenant) | resident (KiB/tenant) |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, pooling) in [("on demand", None), ("pooling", Some(1000))] {
        let runtime = KinesisRuntime::with_options(
            EMBEDDED_COMPONENT,
            RuntimeOptions {
                pooling,
                memory_limit: 16 << 20,
                ..Default::default()
            },
        )?;
        // Warm-up: first-touch costs of the code and the allocator.
        measure(&runtime, 10).await?;
        for tenants in [1, 100, 1000] {
            let row = measure(&runtime, tenants).await?;
            println!(
                "| {name} | {} | {:.1} | {:.1} | {} | {} |",
                row.tenants,
                row.instantiate.as_secs_f64() * 1e6,
                row.configure.as_secs_f64() * 1e6,
                row.linear_memory / 1024,
                row.rss_per_tenant / 1024
            );
        }
    }
    Ok(())
}
