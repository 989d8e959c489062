//! Bench harness (not a test): what KPL aggregation saves. The same 10,000
//! events of 100 bytes go through the component in wasmtime to the embedded
//! local endpoint (4 shards), with `aggregation` off and on, for three
//! partition keys: one static key, a template over 8 hosts, and `{{random}}`.
//! The endpoint counts what it stored: Kinesis records, their data +
//! partition key bytes, and PUT payload units (25 KB each, rounded up per
//! record: what Kinesis bills). Every stored aggregate is decoded again and
//! checked against the events pushed (all of them, once, in order per key).
//!
//! ```sh
//! cargo bench -p kinesis-bench --bench aggregation
//! ```
//! `BENCH_EVENTS`, `BENCH_EVENT_BYTES` to vary.

use kinesis_host::{KinesisRuntime, Tenant, wit};
use kinesis_local_endpoint::{DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, LocalEndpoint, LocalEndpointConfig};
use std::collections::HashMap;

const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// Kinesis bills PUT payload units of 25 KB per record, rounded up.
const PAYLOAD_UNIT: usize = 25 * 1024;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn varint(bytes: &[u8], at: &mut usize) -> anyhow::Result<usize> {
    let mut value = 0usize;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).ok_or_else(|| anyhow::anyhow!("truncated varint"))?;
        *at += 1;
        value |= usize::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    anyhow::bail!("varint too long")
}

/// Length-delimited fields of a message (all three KPL messages' fields we
/// read are); varint fields come back as empty slices with their value.
fn fields(bytes: &[u8]) -> anyhow::Result<Vec<(usize, usize, &[u8])>> {
    let (mut at, mut out) = (0, Vec::new());
    while at < bytes.len() {
        let key = varint(bytes, &mut at)?;
        match key & 7 {
            0 => out.push((key >> 3, varint(bytes, &mut at)?, &bytes[..0])),
            2 => {
                let len = varint(bytes, &mut at)?;
                let field = bytes
                    .get(at..at + len)
                    .ok_or_else(|| anyhow::anyhow!("truncated field"))?;
                out.push((key >> 3, len, field));
                at += len;
            }
            other => anyhow::bail!("wire type {other}"),
        }
    }
    Ok(out)
}

/// The (partition key, data) of each event in a stored record: an aggregate
/// decoded (magic and MD5 checked), or the record itself.
fn events_of(key: &str, data: &[u8]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if data.len() < 20 || data[..4] != MAGIC {
        return Ok(vec![(key.to_string(), data.to_vec())]);
    }
    let (message, digest) = data[4..].split_at(data.len() - 20);
    anyhow::ensure!(md5::compute(message).0 == digest, "MD5 trailer does not match");
    let mut keys = Vec::new();
    let mut events = Vec::new();
    for (field, _, bytes) in fields(message)? {
        match field {
            1 => keys.push(String::from_utf8(bytes.to_vec())?),
            3 => {
                let (mut index, mut payload) = (0, Vec::new());
                for (f, value, bytes) in fields(bytes)? {
                    match f {
                        1 => index = value,
                        3 => payload = bytes.to_vec(),
                        _ => {}
                    }
                }
                events.push((index, payload));
            }
            _ => {}
        }
    }
    events
        .into_iter()
        .map(|(i, payload)| {
            Ok((
                keys.get(i).ok_or_else(|| anyhow::anyhow!("key index {i}"))?.clone(),
                payload,
            ))
        })
        .collect()
}

struct Measured {
    records: usize,
    bytes: usize,
    units: usize,
    requests: u64,
    body_bytes: u64,
}

async fn run(
    runtime: &KinesisRuntime,
    endpoint: &LocalEndpoint,
    stream: &str,
    key: &str,
    aggregation: bool,
    events: &[wit::Event],
) -> anyhow::Result<Measured> {
    endpoint.create_stream(stream, 4);
    let config = serde_json::json!({"name": "bench", "type": "amazonkinesis", "properties": {
        "key": DEFAULT_ACCESS_KEY, "secret": DEFAULT_SECRET_KEY, "region": "us-east-1",
        "endpoint": endpoint.url(), "stream": stream, "partition_key": key,
        "aggregation": aggregation, "max_buffer_size": 64 * 1024 * 1024,
        // One request at a time, so that the order per key can be checked.
        "max_in_flight": 1}});
    let mut tenant = Tenant::start(runtime, &config.to_string())
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    for chunk in events.chunks(500) {
        tenant.push(chunk).await;
    }
    tenant.flush().await;
    anyhow::ensure!(
        tenant.tally.delivered == events.len() as u64,
        "not all delivered: {:?}",
        tenant.tally
    );
    let stored = endpoint.records(stream);
    // Every event back, once, in order per partition key (records come shard by shard).
    let mut by_key: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for record in &stored {
        for (key, data) in events_of(&record.partition_key, &record.data)? {
            by_key.entry(key).or_default().push(data);
        }
    }
    let mut got: Vec<&Vec<u8>> = by_key.values().flatten().collect();
    anyhow::ensure!(
        got.len() == events.len(),
        "{} events stored, {} pushed",
        got.len(),
        events.len()
    );
    for list in by_key.values() {
        let seq = |d: &Vec<u8>| {
            let text = String::from_utf8_lossy(d);
            text.rsplit(r#""seq":""#).next().unwrap_or_default().to_string()
        };
        anyhow::ensure!(
            list.windows(2).all(|w| seq(&w[0]) < seq(&w[1])),
            "out of order within a key"
        );
    }
    got.sort();
    got.dedup();
    anyhow::ensure!(got.len() == events.len(), "duplicates stored");
    let sizes: Vec<usize> = stored.iter().map(|r| r.data.len() + r.partition_key.len()).collect();
    Ok(Measured {
        records: stored.len(),
        bytes: sizes.iter().sum(),
        units: sizes.iter().map(|s| s.div_ceil(PAYLOAD_UNIT)).sum(),
        requests: tenant.tally.requests,
        body_bytes: tenant.tally.bytes_sent,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count = env("BENCH_EVENTS", 10_000);
    let size = env("BENCH_EVENT_BYTES", 100) as usize;
    let runtime = KinesisRuntime::new()?;
    let endpoint = LocalEndpoint::start(LocalEndpointConfig::default()).await?;
    // `{"host":"web-3","msg":"xxx...","seq":"00001234"}`, padded to `size` bytes.
    let events: Vec<wit::Event> = (0..count)
        .map(|id| {
            let head = format!(r#"{{"host":"web-{}","msg":""#, id % 8);
            let tail = format!(r#"","seq":"{id:08}""#);
            let pad = size.saturating_sub(head.len() + tail.len() + 1);
            wit::Event {
                id,
                data: format!("{head}{}{tail}}}", "x".repeat(pad)).into_bytes(),
            }
        })
        .collect();
    println!(
        "{count} events of {} B, 4 shards, records and bytes as the endpoint stored them",
        events[0].data.len()
    );
    println!(
        "| partition_key | aggregation | Kinesis records | events per record | data + key bytes | PUT payload units | requests | request body bytes |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, key) in ["static", "{{host}}", "{{random}}"].iter().enumerate() {
        let mut off = None;
        for aggregation in [false, true] {
            let stream = format!("bench-{i}-{aggregation}");
            let m = run(&runtime, &endpoint, &stream, key, aggregation, &events).await?;
            let vs = off.as_ref().map_or(String::new(), |o: &Measured| {
                format!(
                    " ({:.0}x fewer records, {:.2}x the bytes)",
                    o.records as f64 / m.records as f64,
                    m.bytes as f64 / o.bytes as f64
                )
            });
            println!(
                "| `{key}` | {} | {}{vs} | {:.1} | {} | {} | {} | {} |",
                if aggregation { "on" } else { "off" },
                m.records,
                count as f64 / m.records as f64,
                m.bytes,
                m.units,
                m.requests,
                m.body_bytes
            );
            if !aggregation {
                off = Some(m);
            }
        }
    }
    endpoint.shutdown().await;
    Ok(())
}
