//! Bench harness (not a test): the guest crate compiled natively, from `push`
//! to signed request bytes handed to a transport that answers at once, for
//! 100 B, 1 KiB and 10 KiB events, against SHA-256 over the same request
//! bodies (the floor: every body byte is hashed for the signature).
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/bench-native cargo bench -p kinesis-target --bench guest_throughput
//! ```
//!
//! `BENCH_MB` (event megabytes per run, 20), `BENCH_RUNS` (3, median),
//! `BENCH_SIZES` (`100,1024,10240`). The component in wasmtime against this
//! same code is `host-test/examples/bench_guest.rs`; the profile in
//! BENCHMARKS.md is callgrind on this binary.
//!
//! Then the CBOR evaluation (`application/x-amz-cbor-1.1`, not shipped): the
//! same 500-record batches as the JSON 1.1 body the guest writes (base64
//! data) and as CBOR (raw byte strings), bytes and encode + SHA-256 time.

#[path = "../bench/native_guest.rs"]
mod native;

use kinesis_target::batch::Record;
use kinesis_target::config::StreamRef;
use kinesis_target::encode::PutRecordsEncoder;
use sha2::Digest;
use std::time::{Duration, Instant};

/// CBOR head of major type `major` with argument `n` (RFC 8949 3.1).
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A PutRecords body in CBOR: `{"StreamName": .., "Records": [{"Data": bytes, "PartitionKey": ..}]}`,
/// definite lengths, the data as raw byte strings. Sized exactly first, as the JSON encoder does.
fn cbor_body(stream: &str, key: &str, records: &[Record]) -> Vec<u8> {
    let record_len = |r: &Record| 1 + 5 + 9 + r.data.len() + 13 + 3 + key.len();
    let mut out = Vec::with_capacity(64 + records.iter().map(record_len).sum::<usize>());
    cbor_head(&mut out, 5, 2);
    cbor_text(&mut out, "StreamName");
    cbor_text(&mut out, stream);
    cbor_text(&mut out, "Records");
    cbor_head(&mut out, 4, records.len() as u64);
    for r in records {
        cbor_head(&mut out, 5, 2);
        cbor_text(&mut out, "Data");
        cbor_head(&mut out, 2, r.data.len() as u64);
        out.extend_from_slice(&r.data);
        cbor_text(&mut out, "PartitionKey");
        cbor_text(&mut out, key);
    }
    out
}

/// Encode + SHA-256 of every batch, JSON (the guest's encoder) and CBOR; one row per size.
fn cbor_row(size: usize, events: &[Vec<u8>], runs: u64) {
    let encoder = PutRecordsEncoder::new(&StreamRef::Name("bench".into()), "default", None);
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
    let cbor_bytes: usize = batches.iter().map(|b| cbor_body("bench", "default", b).len()).sum();
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
    let cbor: Duration = time(&|b| cbor_body("bench", "default", b));
    println!(
        "| {size} B | {json_bytes} | {cbor_bytes} | {:.2} | {:.1} | {:.1} | {:.2} |",
        cbor_bytes as f64 / json_bytes as f64,
        json.as_secs_f64() * 1e9 / events.len() as f64,
        cbor.as_secs_f64() * 1e9 / events.len() as f64,
        cbor.as_secs_f64() / json.as_secs_f64()
    );
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let mb = env("BENCH_MB", 20);
    let runs = env("BENCH_RUNS", 3).max(1);
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100,1024,10240".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("| event | events | native events/s | native MB/s | SHA-256 of the bodies MB/s | native vs SHA-256 |");
    println!("|---|---|---|---|---|---|");
    for &size in &sizes {
        let n = (mb << 20) / size as u64;
        let events = native::events(n, size);
        let bodies = native::run(&events, 500, true).bodies;
        let (mut rates, mut floors) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let run = native::run(&events, 500, false);
            assert_eq!(run.delivered, n, "every event delivered");
            rates.push(n as f64 / run.elapsed.as_secs_f64());
            let started = Instant::now();
            for body in &bodies {
                std::hint::black_box(sha2::Sha256::digest(body));
            }
            floors.push(n as f64 / started.elapsed().as_secs_f64());
        }
        let (rate, floor) = (median(rates), median(floors));
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
        "CBOR evaluation: same batches of 500, body bytes and encode + SHA-256 per event (native, median of {runs})"
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
