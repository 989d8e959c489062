//! The JSON 1.1 PutRecords answer as Kinesis (and kinesis-local, and our
//! local endpoint) writes it, read in one pass without serde: compact JSON,
//! an object whose `Records` is a list of objects with only `SequenceNumber`,
//! `ShardId`, `ErrorCode` and `ErrorMessage`, each a string without escapes
//! or `null`; other top-level fields a string without escapes or a natural
//! number. Anything else (whitespace, escapes, other fields or types,
//! repeated keys) is `None`, and the general reader (`json.rs`) reads it:
//! what this accepts, it reads exactly as that reader would (pinned by
//! `compact_reads_what_it_accepts_as_the_general_reader_does`).
//!
//! Why: serde's reader was 12-15 % of the client's CPU per 100 B event, and
//! in wasm a plain byte loop costs as much; this one checks the whole body
//! in one vectorized pass and finds quotes with memchr (both simd128): 8-11 %
//! less client CPU (BENCHMARKS.md "Issue 14, third pass").

use super::{Entry, EntryField, MAX_RECORDS};
use std::borrow::Cow;

/// The entries of `body`'s `Records`, if `body` is in the compact form;
/// room for `expected` of them is made up front (at most [`MAX_RECORDS`]).
pub(super) fn entries(body: &[u8], expected: usize) -> Option<Vec<Entry<'_>>> {
    // The compact form has no whitespace and its strings no escapes: one
    // pass that compiles to simd128 rules out both, so the reader below only
    // looks for quotes (with memchr, also simd128).
    let plain = body
        .chunks(64)
        .all(|chunk| !chunk.iter().fold(false, |odd, &b| odd | (b < 0x20) | (b == b'\\')));
    if !plain {
        return None;
    }
    let mut r = Reader {
        text: std::str::from_utf8(body).ok()?,
        at: 0,
    };
    r.eat(b'{')?;
    let mut records = None;
    loop {
        let key = r.string()?;
        r.eat(b':')?;
        if key == "Records" && records.is_none() {
            records = Some(r.records(expected)?);
        } else if r.peek()? == b'"' {
            r.string()?;
        } else {
            r.natural()?;
        }
        match r.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    if r.at != r.text.len() {
        return None;
    }
    records
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// A string, borrowed (the body has no escapes or control characters).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let len = memchr::memchr(b'"', &self.text.as_bytes()[self.at..])?;
        let s = &self.text[self.at..self.at + len];
        self.at += len + 1;
        Some(s)
    }

    /// A string, or `null` (`None` inside).
    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.text.as_bytes()[self.at..].starts_with(b"null") {
            self.at += 4;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// Digits without a sign, fraction, exponent or leading zero
    /// (`FailedRecordCount`).
    fn natural(&mut self) -> Option<()> {
        let rest = &self.text.as_bytes()[self.at..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        self.at += digits;
        Some(())
    }

    fn records(&mut self, expected: usize) -> Option<Vec<Entry<'a>>> {
        self.eat(b'[')?;
        let mut records = Vec::with_capacity(expected.min(MAX_RECORDS));
        if self.peek()? == b']' {
            self.at += 1;
            return Some(records);
        }
        loop {
            records.push(self.entry()?);
            match self.next()? {
                b',' => {}
                b']' => return Some(records),
                _ => return None,
            }
        }
    }

    fn entry(&mut self) -> Option<Entry<'a>> {
        self.eat(b'{')?;
        let mut entry = Entry::default();
        let mut seen = [false; 4];
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(entry);
        }
        loop {
            let field = EntryField::named(self.string()?)?;
            // A repeated key: the general reader decides which one counts.
            if std::mem::replace(&mut seen[field as usize], true) {
                return None;
            }
            self.eat(b':')?;
            *entry.slot(field) = self.string_or_null()?.map(Cow::Borrowed);
            match self.next()? {
                b',' => {}
                b'}' => return Some(entry),
                _ => return None,
            }
        }
    }
}
