//! `response::parse_in` on arbitrary answers, read both as JSON 1.1 and as
//! CBOR: whatever an endpoint sends back, the answer must be read without a
//! panic, and a per-record answer must have exactly one result per record
//! sent (the caller zips them).
//!
//! Input layout, plain bytes so that seeds can be written by hand:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0..2 | HTTP status, u16 big-endian |
//! | 2..4 | records sent, u16 big-endian, modulo 501 |
//! | 4 | `n`: 0 = no `x-amzn-ErrorType` header, else the next `n - 1` bytes are it (lossy UTF-8) |
//! | rest | the body |
#![no_main]

use kinesis_target::encode::Protocol;
use kinesis_target::response::{PutRecordsResponse, parse_in};
use libfuzzer_sys::fuzz_target;

/// A PutRecords request holds at most 500 records.
const MAX_SENT: usize = 500;

fuzz_target!(|data: &[u8]| {
    let Some((&[s0, s1, n0, n1, header_len], rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let status = u16::from_be_bytes([s0, s1]);
    let sent = usize::from(u16::from_be_bytes([n0, n1])) % (MAX_SENT + 1);
    let (error_type, body) = match usize::from(header_len).checked_sub(1) {
        None => (None, rest),
        Some(n) => {
            let (header, body) = rest.split_at(n.min(rest.len()));
            (Some(String::from_utf8_lossy(header)), body)
        }
    };
    for protocol in [Protocol::Json, Protocol::Cbor] {
        if let PutRecordsResponse::Records(v) = parse_in(protocol, status, error_type.as_deref(), body, sent) {
            assert_eq!(v.len(), sent, "one result per record sent");
        }
    }
});
