//! The embedded local Kinesis endpoint as a process of its own, for
//! benchmarks whose clients must not share its CPU time (BENCHMARKS.md
//! "Client CPU per event"). SigV4 is checked with the default local keys
//! (`AKIDLOCALKINESIS` / `local-kinesis-secret`).
//!
//! `local_endpoint [PORT] [STREAM]... [FLAGS]`: prints the URL as the first
//! line on stdout, then serves until stdin closes (or SIGTERM / SIGINT).
//! Streams default to one named `bench`. Flags:
//!
//! - `--shards N`: shards per stream (default 4)
//! - `--shard-limits`: enforce Kinesis' per-shard write limits (1000
//!   records/s, 1 MiB/s); implied by the next three, which change them
//! - `--records-per-second N`, `--bytes-per-second N`
//! - `--other-producer F`: share 0.0..1.0 of each shard taken by another producer
//! - `--outage-after SECONDS --outage-for SECONDS --outage-kind 503|refuse`:
//!   an outage window, timed from the first PutRecords (default after 0 s,
//!   kind 503)
//! - `--stats-on-exit FILE`: when it stops, write there as JSON the
//!   endpoint's counters (`EndpointStats`' fields at the top level) and, under
//!   `"streams"`, every stream's per-shard counts (`ShardStats`)

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use kinesis_local_endpoint::{LocalEndpoint, LocalEndpointConfig, Outage, OutageKind, ShardLimits};

/// What the command line asks for.
struct Args {
    port: u16,
    streams: Vec<String>,
    shards: u32,
    shard_limits: Option<ShardLimits>,
    outage: Option<Outage>,
    stats_on_exit: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut positional = Vec::new();
    let mut shards = 4;
    let mut limits: Option<ShardLimits> = None;
    let (mut outage_after, mut outage_for, mut outage_kind) = (None, None, OutageKind::Http503);
    let mut stats_on_exit = None;
    while let Some(arg) = args.next() {
        if !arg.starts_with("--") {
            positional.push(arg);
            continue;
        }
        let flag = arg.as_str();
        let kinesis = ShardLimits::default;
        match flag {
            "--shards" => shards = value(&mut args, flag)?,
            "--shard-limits" => {
                limits.get_or_insert_with(kinesis);
            }
            "--records-per-second" => limits.get_or_insert_with(kinesis).records_per_second = value(&mut args, flag)?,
            "--bytes-per-second" => limits.get_or_insert_with(kinesis).bytes_per_second = value(&mut args, flag)?,
            "--other-producer" => limits.get_or_insert_with(kinesis).other_producer = value(&mut args, flag)?,
            "--outage-after" => outage_after = Some(seconds(value(&mut args, flag)?).context(arg)?),
            "--outage-for" => outage_for = Some(seconds(value(&mut args, flag)?).context(arg)?),
            "--outage-kind" => {
                outage_kind = match value::<String>(&mut args, flag)?.as_str() {
                    "503" => OutageKind::Http503,
                    "refuse" => OutageKind::RefuseConnections,
                    other => bail!("--outage-kind is 503 or refuse, not {other}"),
                }
            }
            "--stats-on-exit" => stats_on_exit = Some(value(&mut args, flag)?),
            other => bail!("unknown flag {other}"),
        }
    }
    let outage = match (outage_after, outage_for) {
        (None, None) => None,
        (_, None) => bail!("--outage-after needs --outage-for"),
        (after, Some(duration)) => Some(Outage {
            start_after: after.unwrap_or_default(),
            duration,
            kind: outage_kind,
        }),
    };
    if shards == 0 {
        bail!("--shards must be at least 1");
    }
    let mut positional = positional.into_iter();
    // As before the flags: the first word is the port, 0 (any) if not a number.
    let port = positional.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut streams: Vec<String> = positional.collect();
    if streams.is_empty() {
        streams.push("bench".into());
    }
    Ok(Args {
        port,
        streams,
        shards,
        shard_limits: limits,
        outage,
        stats_on_exit,
    })
}

/// The value after `flag`, parsed.
fn value<T: FromStr>(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text = args.next().with_context(|| format!("{flag} needs a value"))?;
    text.parse().with_context(|| format!("{flag} {text}"))
}

/// A duration in (fractional) seconds.
fn seconds(seconds: f64) -> anyhow::Result<Duration> {
    Ok(Duration::try_from_secs_f64(seconds)?)
}

/// Set by the SIGTERM / SIGINT handler; polled by [`terminated`].
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: anything more is not async-signal-safe.
    TERMINATED.store(true, Ordering::Relaxed);
}

/// Resolves once SIGTERM or SIGINT arrived. (tokio's `signal` feature is
/// not enabled in this crate, hence libc and polling.)
async fn terminated() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
    while !TERMINATED.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resolves once stdin is closed. A plain thread reads it: tokio's stdin
/// read can't be cancelled and would hold up the runtime's shutdown after a
/// signal.
async fn stdin_closed() {
    let (closed, wait) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = wait.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let endpoint = LocalEndpoint::start(LocalEndpointConfig {
        port: args.port,
        shard_limits: args.shard_limits,
        outage: args.outage,
        ..Default::default()
    })
    .await?;
    for stream in &args.streams {
        endpoint.create_stream(stream, args.shards);
    }
    println!("{}", endpoint.url());
    tokio::select! {
        _ = stdin_closed() => {}
        _ = terminated() => {}
    }
    if let Some(path) = &args.stats_on_exit {
        let streams: serde_json::Map<_, _> = args
            .streams
            .iter()
            .map(|s| (s.clone(), serde_json::json!(endpoint.shard_stats(s))))
            .collect();
        // The counters at the top level, so a reader finds e.g.
        // `records_stored` directly; "streams" is not one of their names.
        let mut stats = serde_json::json!(endpoint.stats());
        stats["streams"] = serde_json::Value::Object(streams);
        std::fs::write(path, format!("{stats:#}\n")).with_context(|| format!("writing {path}"))?;
    }
    endpoint.shutdown().await;
    Ok(())
}
