//! The zero-setup demo: without `--config`, events go to the embedded local
//! Kinesis endpoint (signature-checked, limits enforced: the request limits
//! and Kinesis' per-shard write limits) and the run ends by showing what
//! arrived.
//!
//! The endpoint is the `kinesis-local-endpoint` crate, compiled in only with
//! the `demo` feature (on by default); without it, `run` needs `--config`.

use kinesis_host::config_file::TargetDef;
#[cfg(feature = "demo")]
use kinesis_local_endpoint::{LocalEndpoint, LocalEndpointConfig, ShardLimits};
#[cfg(not(feature = "demo"))]
pub use without::Demo;

#[cfg(feature = "demo")]
const STREAM: &str = "demo-logs";
/// Eight shards take 8,000 events a second at Kinesis' limits; the demo's
/// random partition keys spread the events over all of them.
#[cfg(feature = "demo")]
const SHARDS: u32 = 8;

#[cfg(feature = "demo")]
pub struct Demo {
    endpoint: LocalEndpoint,
    config: LocalEndpointConfig,
}

#[cfg(feature = "demo")]
impl Demo {
    pub async fn start() -> anyhow::Result<Self> {
        // Kinesis' 1000 records and 1 MiB per second per shard, so the demo
        // shows the client pacing itself as it must against the real service.
        let config = LocalEndpointConfig {
            shard_limits: Some(ShardLimits::default()),
            ..LocalEndpointConfig::default()
        };
        let endpoint = LocalEndpoint::start(config.clone()).await?;
        endpoint.create_stream(STREAM, SHARDS);
        eprintln!(
            "kinesis-host: no --config: shipping to the embedded Kinesis endpoint at {}",
            endpoint.url()
        );
        Ok(Self { endpoint, config })
    }

    /// The target definition pointing at the local endpoint.
    pub fn target(&self) -> TargetDef {
        let definition = serde_json::json!({
            "name": "demo",
            "type": "amazonkinesis",
            "description": "embedded local endpoint",
            "properties": {
                "key": self.config.access_key,
                "secret": self.config.secret_key,
                "region": self.config.region,
                "endpoint": self.endpoint.url(),
                "stream": STREAM,
                "partition_key": "{{random}}",
            }
        });
        TargetDef {
            index: 0,
            name: "demo".into(),
            kind: "amazonkinesis".into(),
            definition,
        }
    }

    /// Prints what the endpoint holds: per shard, and the first records.
    pub fn show_arrivals(&self) {
        let records = self.endpoint.records(STREAM);
        out!(
            "\nthe local endpoint holds {} records in stream {STREAM}:",
            records.len()
        );
        let mut shards: Vec<&str> = records.iter().map(|r| r.shard_id.as_str()).collect();
        shards.dedup();
        for shard in shards {
            let n = records.iter().filter(|r| r.shard_id == shard).count();
            out!("  {shard}: {n} records");
        }
        for r in records.iter().take(3) {
            let text = String::from_utf8_lossy(&r.data);
            let shown: String = text.chars().take(100).collect();
            out!("  seq {} key {:?}: {shown}", r.sequence_number, r.partition_key);
        }
    }

    pub async fn stop(self) {
        self.endpoint.shutdown().await;
    }
}

/// A CLI built with `--no-default-features`: no endpoint to start.
#[cfg(not(feature = "demo"))]
mod without {
    use kinesis_host::config_file::TargetDef;

    pub enum Demo {}

    impl Demo {
        pub async fn start() -> anyhow::Result<Self> {
            anyhow::bail!("this kinesis-host was built without the demo (cargo feature `demo`): give --config FILE")
        }

        pub fn target(&self) -> TargetDef {
            match *self {}
        }

        pub fn show_arrivals(&self) {
            match *self {}
        }

        pub async fn stop(self) {
            match self {}
        }
    }
}
