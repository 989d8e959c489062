//! The guest crate compiled natively, driven the way the component is:
//! `push` in chunks, requests answered at once (every record delivered),
//! a fixed clock, no log. Shared by `benches/guest_throughput.rs` (native
//! alone, for callgrind) and `host-test/examples/bench_guest.rs` (native
//! against the component in wasmtime, same run), through `#[path]`.

use kinesis_target::send::{Clock, Exchanged, HttpRequest, HttpResponse, Log, Transport, TransportError};
use kinesis_target::target::Target;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A whole-number setting from the environment, or `default`.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The middle of the runs' figures.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Event sizes to run: `BENCH_SIZES`, default 100 B, 1 KiB, 10 KiB.
pub fn sizes() -> Vec<usize> {
    std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100,1024,10240".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// The target definition every guest benchmark uses: static keys, a static
/// partition key, 500 records per request, room for every event, no shard
/// pacing (the guest path is measured, not a shard's limit). `mode` is the
/// `protocol`, `json` or `cbor`, with `+aggregation` for `aggregation: true`.
pub fn config_json_in(endpoint: &str, mode: &str) -> String {
    let (protocol, aggregation) = match mode.split_once('+') {
        Some((protocol, "aggregation")) => (protocol, true),
        _ => (mode, false),
    };
    format!(
        r#"{{"name":"bench","type":"amazonkinesis","properties":{{"key":"AKIDBENCH","secret":"bench-secret",
        "region":"us-east-1","endpoint":"{endpoint}","stream":"bench","partition_key":"default",
        "max_events":500,"max_buffer_size":1073741824,"shard_pacing":false,"protocol":"{protocol}",
        "aggregation":{aggregation}}}}}"#
    )
}

/// `n` log-like events of `size` bytes: an 8-digit id, then filler.
pub fn events(n: u64, size: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|id| format!("{id:08} {}", "x".repeat(size.saturating_sub(9))).into_bytes())
        .collect()
}

/// Records in a PutRecords body, JSON or CBOR: one `PartitionKey` each.
pub fn count_records(body: &[u8]) -> usize {
    memchr::memmem::find_iter(body, b"PartitionKey").count()
}

/// A PutRecords answer with `n` records delivered, in the protocol of a
/// request with this `content-type`.
pub fn answer_to(content_type: &str, n: usize) -> Vec<u8> {
    if content_type == "application/x-amz-cbor-1.1" {
        answer_cbor(n)
    } else {
        answer(n)
    }
}

/// [`answer`] in CBOR, as kinesis-local writes it (a definite-length map
/// per record, the error fields null).
pub fn answer_cbor(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = minicbor::Encoder::new(&mut out);
    let mut write = || -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        e.map(2)?
            .str("FailedRecordCount")?
            .u32(0)?
            .str("Records")?
            .array(n as u64)?;
        for _ in 0..n {
            e.map(4)?.str("ErrorCode")?.null()?.str("ErrorMessage")?.null()?;
            e.str("SequenceNumber")?
                .str("49590338271490256608559692538361571095921575989136588898")?;
            e.str("ShardId")?.str("shardId-000000000000")?;
        }
        Ok(())
    };
    write().expect("writing into a Vec");
    out
}

/// A PutRecords answer with `n` records delivered.
pub fn answer(n: usize) -> Vec<u8> {
    let record = r#"{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"}"#;
    let mut body = String::with_capacity(40 + n * (record.len() + 1));
    body.push_str(r#"{"FailedRecordCount":0,"Records":["#);
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(record);
    }
    body.push_str("]}");
    body.into_bytes()
}

/// What the transport saw, shared with the benchmark.
#[derive(Default)]
pub struct Seen {
    pub keep_bodies: bool,
    pub bodies: Vec<Vec<u8>>,
    pub body_bytes: u64,
    pub requests: u64,
}

/// Answers every request at once; keeps the bodies when asked (for the SHA-256 floor).
#[derive(Default)]
pub struct AtOnce {
    /// The last answer built, by record count.
    cached: Option<(usize, Vec<u8>)>,
    pub seen: Rc<RefCell<Seen>>,
}

impl Transport for AtOnce {
    type Exchange = Option<Exchanged>;

    fn start(&mut self, request: HttpRequest<'_>) -> Result<Self::Exchange, TransportError> {
        let n = count_records(&request.body);
        if self.cached.as_ref().is_none_or(|(m, _)| *m != n) {
            let content_type = request.headers.iter().find(|(k, _)| k == "content-type");
            self.cached = Some((n, answer_to(content_type.map_or("", |(_, v)| v), n)));
        }
        let mut seen = self.seen.borrow_mut();
        seen.requests += 1;
        seen.body_bytes += request.body.len() as u64;
        if seen.keep_bodies {
            seen.bodies.push(request.body);
        }
        let body = self.cached.as_ref().map(|(_, b)| b.clone()).unwrap_or_default();
        Ok(Some(Ok(HttpResponse {
            status: 200,
            error_type: None,
            body,
        })))
    }

    fn progress(&mut self, exchange: &mut Self::Exchange) -> Option<Exchanged> {
        exchange.take()
    }

    fn wait(&mut self, _exchanges: &[&Self::Exchange], _max: Duration) {}
}

/// A clock that never moves.
pub struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_608_000)
    }
    fn monotonic(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// Drops debug lines (the benchmark config logs none).
pub struct NoLog;

impl Log for NoLog {
    fn log(&self, _target: &str, _line: &str) {}
}

/// What one native run did.
pub struct Run {
    pub elapsed: Duration,
    pub delivered: u64,
    pub bodies: Vec<Vec<u8>>,
}

/// Pushes `events` (packed into one buffer per offer, as the component's
/// `push-batch` lowers them into its memory) in chunks of `chunk`, then flushes, in
/// `mode` (see [`config_json_in`]).
pub fn run_in(mode: &str, events: &[Vec<u8>], chunk: usize, keep_bodies: bool) -> Run {
    let config = kinesis_target::config::parse(&config_json_in("http://127.0.0.1:9", mode)).expect("bench config");
    let transport = AtOnce::default();
    let seen = transport.seen.clone();
    seen.borrow_mut().keep_bodies = keep_bodies;
    let mut target = Target::new(config, transport, Fixed, NoLog);
    let mut delivered = 0u64;
    let started = Instant::now();
    for (c, part) in events.chunks(chunk).enumerate() {
        let base = (c * chunk) as u64;
        let mut from = 0;
        while from < part.len() {
            // Packed into one buffer, as the component's `push-batch` lowers them.
            let rest = &part[from..];
            let ids: Vec<u64> = (0..rest.len()).map(|i| base + (from + i) as u64).collect();
            let lengths: Vec<u32> = rest.iter().map(|d| d.len() as u32).collect();
            from += target.push_batch(&ids, &lengths, rest.concat());
            delivered += count_delivered(&mut target);
        }
    }
    target.flush();
    delivered += count_delivered(&mut target);
    let elapsed = started.elapsed();
    let mut seen = seen.borrow_mut();
    let bodies = std::mem::take(&mut seen.bodies);
    Run {
        elapsed,
        delivered,
        bodies,
    }
}

fn count_delivered(target: &mut Target<AtOnce, Fixed, NoLog>) -> u64 {
    target.take_report().delivered.len() as u64
}
