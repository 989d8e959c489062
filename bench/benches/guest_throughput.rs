//! Bench harness (not a test): the guest crate compiled natively, from `push`
//! to signed request bytes handed to a transport that answers at once, for
//! 100 B, 1 KiB and 10 KiB events, against SHA-256 over the same request
//! bodies (the floor: every body byte is hashed for the signature).
//!
//! ```sh
//! cargo bench -p kinesis-bench --bench guest_throughput
//! ```
//!
//! `BENCH_MB` (event megabytes per run, 20), `BENCH_RUNS` (3, median),
//! `BENCH_SIZES` (`100,1024,10240`), `BENCH_PROTOCOL` (`json`, or `cbor`). The component in wasmtime against this
//! same code is `host-test/examples/bench_guest.rs`; the profile in
//! BENCHMARKS.md is callgrind on this binary.
//!
//! Then CBOR against JSON 1.1 (`protocol: cbor`): the same 500-record
//! batches through the guest's two encoders, body bytes and encode + SHA-256
//! time.

use kinesis_bench::native_guest as native;

use kinesis_target::batch::Record;
use kinesis_target::encode::{Protocol, PutRecordsEncoder, StreamRef};
use sha2::Digest;
use std::time::{Duration, Instant};

/// Encode + SHA-256 of every batch with the guest's encoders, JSON 1.1 and CBOR; one row per size.
fn cbor_row(size: usize, events: &[Vec<u8>], runs: u64) {
    let stream = StreamRef::Name("bench".into());
    let encoder = PutRecordsEncoder::new(&stream, "default", None);
    let cbor_encoder = PutRecordsEncoder::with_protocol(Protocol::Cbor, &stream, "default", None);
    let batches: Vec<Vec<Record>> = events
        .chunks(500)
        .map(|c| {
            c.iter()
                .enumerate()
                .map(|(i, d)| Record::new(i as u64, d.clone()))
                .collect()
        })
        .collect();
    let json_bytes: usize = batches.iter().map(|b| encoder.encode(b).len()).sum();
    let cbor_bytes: usize = batches.iter().map(|b| cbor_encoder.encode(b).len()).sum();
    let time = |f: &dyn Fn(&[Record]) -> Vec<u8>| {
        let mut times = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            for b in &batches {
                std::hint::black_box(sha2::Sha256::digest(f(b)));
            }
            times.push(started.elapsed());
        }
        times.sort();
        times[times.len() / 2]
    };
    let json: Duration = time(&|b| encoder.encode(b));
    let cbor: Duration = time(&|b| cbor_encoder.encode(b));
    println!(
        "| {size} B | {json_bytes} | {cbor_bytes} | {:.2} | {:.1} | {:.1} | {:.2} |",
        cbor_bytes as f64 / json_bytes as f64,
        json.as_secs_f64() * 1e9 / events.len() as f64,
        cbor.as_secs_f64() * 1e9 / events.len() as f64,
        cbor.as_secs_f64() / json.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let mb = native::env("BENCH_MB", 20);
    let runs = native::env("BENCH_RUNS", 3).max(1);
    let sizes = native::sizes();
    let protocol = std::env::var("BENCH_PROTOCOL").unwrap_or_else(|_| "json".into());
    println!("{protocol}:");
    println!("| event | events | native events/s | native MB/s | SHA-256 of the bodies MB/s | native vs SHA-256 |");
    println!("|---|---|---|---|---|---|");
    for &size in &sizes {
        let n = (mb << 20) / size as u64;
        let events = native::events(n, size);
        let bodies = native::run_in(&protocol, &events, 500, true).bodies;
        let (mut rates, mut floors) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let run = native::run_in(&protocol, &events, 500, false);
            assert_eq!(run.delivered, n, "every event delivered");
            rates.push(n as f64 / run.elapsed.as_secs_f64());
            let started = Instant::now();
            for body in &bodies {
                std::hint::black_box(sha2::Sha256::digest(body));
            }
            floors.push(n as f64 / started.elapsed().as_secs_f64());
        }
        let (rate, floor) = (native::median(rates), native::median(floors));
        println!(
            "| {size} B | {n} | {rate:.0} | {:.1} | {:.1} | {:.2} |",
            rate * size as f64 / 1e6,
            floor * size as f64 / 1e6,
            rate / floor
        );
    }
    if std::env::var("BENCH_CBOR").as_deref() == Ok("0") {
        return;
    }
    println!();
    println!(
        "CBOR against JSON 1.1: same batches of 500, body bytes and encode + SHA-256 per event (native, median of {runs})"
    );
    println!(
        "| event | JSON 1.1 bytes | CBOR bytes | CBOR / JSON | JSON ns/event | CBOR ns/event | CBOR / JSON time |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &size in &sizes {
        let n = (mb << 20) / size as u64;
        cbor_row(size, &native::events(n, size), runs);
    }
}
