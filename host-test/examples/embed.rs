//! Loading the kinesis-target component in your own host, in a dozen lines:
//! compile once, one instance per target, configure, push, flush.
//!
//! `cargo run --release -p kinesis-host --example embed` ships three events
//! to the embedded local endpoint and prints each outcome.

use kinesis_host::runtime::EMBEDDED_COMPONENT;
use kinesis_host::{KinesisRuntime, OutboundPolicy, RuntimeOptions, wit};
use kinesis_local_endpoint::{LocalEndpoint, LocalEndpointConfig};
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A local endpoint stands in for AWS here; use your region and credentials instead.
    let endpoint = LocalEndpoint::start(LocalEndpointConfig::default()).await?;
    endpoint.create_stream("app-logs", 1);

    // Compile once; every tenant gets its own store, memory cap and call budget,
    // and may reach only the hosts the operator lists.
    let runtime = KinesisRuntime::with_options(
        EMBEDDED_COMPONENT,
        RuntimeOptions {
            memory_limit: 32 << 20,
            call_budget: Duration::from_secs(30),
            outbound: OutboundPolicy::Only(vec![endpoint.local_addr().to_string()]),
            ..Default::default()
        },
    )?;
    let mut target = runtime.instantiate().await?; // one store per target
    let config = serde_json::json!({
        "name": "app", "type": "amazonkinesis",
        "properties": {
            "key": kinesis_local_endpoint::DEFAULT_ACCESS_KEY,
            "secret": kinesis_local_endpoint::DEFAULT_SECRET_KEY,
            "region": "us-east-1", "endpoint": endpoint.url(), "stream": "app-logs"
        }
    });
    if let Err(e) = target.configure(&config.to_string()).await? {
        anyhow::bail!("{}: {}", e.field, e.message);
    }

    let events: Vec<wit::Event> = (1..=3)
        .map(|id| wit::Event {
            id,
            data: format!("event {id}").into_bytes(),
        })
        .collect();
    // One packed buffer instead of one list per event (`push(&events)` works too).
    // An empty target has room for three small events: report.accepted is 3.
    // A report packs its deliveries (`report.delivered`); `into_outcomes` gives one outcome per event.
    let mut outcomes = target
        .push_batch(&wit::EventBatch::pack(&events))
        .await?
        .into_outcomes();
    outcomes.extend(target.flush().await?.into_outcomes()); // every event now has an outcome
    for o in outcomes {
        match o.outcome {
            wit::Outcome::Delivered(d) => println!("event {} -> {} #{}", o.id, d.shard_id, d.sequence_number),
            wit::Outcome::Failed(f) => println!("event {} failed: {}: {}", o.id, f.code, f.message),
        }
    }
    endpoint.shutdown().await;
    Ok(())
}
