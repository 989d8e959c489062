//! The embedded local Kinesis endpoint as a process of its own, for
//! benchmarks whose clients must not share its CPU time (BENCHMARKS.md
//! "Client CPU per event"). SigV4 is checked with the default local keys
//! (`AKIDLOCALKINESIS` / `local-kinesis-secret`).
//!
//! `local_endpoint [PORT] [STREAM]...`: prints the URL on stdout, then serves
//! until stdin closes.

use kinesis_host::local_endpoint::{LocalEndpoint, LocalEndpointConfig};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let endpoint = LocalEndpoint::start(LocalEndpointConfig {
        port,
        ..Default::default()
    })
    .await?;
    let mut streams: Vec<String> = args.collect();
    if streams.is_empty() {
        streams.push("bench".into());
    }
    for stream in &streams {
        endpoint.create_stream(stream, 4);
    }
    println!("{}", endpoint.url());
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    endpoint.shutdown().await;
    Ok(())
}
