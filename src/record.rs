//! The event as it travels: its id, its bytes, and its own partition key
//! when it has one. Its own module so that batching, aggregation and
//! encoding all take it without depending on one another.
//!
//! The events of one `push-batch` arrive in one buffer, and their records
//! keep pointing into it ([`Data`]) rather than each copying its bytes out:
//! a copy and an allocation per event, about 5 % of the client's CPU at
//! 1 KiB (BENCHMARKS.md "Issue 14, fifth pass"). A buffer lives until its
//! last record settles, so bytes it keeps for records already gone are
//! counted ([`Pinned`]) against `max_buffer_size` with the records that
//! wait; a record that waits for a retry copies its bytes out.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

/// One event on its way to becoming a Kinesis record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    pub data: Data,
    /// This record's own key, when the target's key depends on the event;
    /// `None`: the target's static key.
    pub partition_key: Option<String>,
}

impl Record {
    /// An event with the target's static key.
    pub fn new(id: u64, data: impl Into<Data>) -> Self {
        Self {
            id,
            data: data.into(),
            partition_key: None,
        }
    }
}

/// An event's bytes: its own, or a range of the batch buffer they came in.
///
/// ```
/// use kinesis_target::record::{Pinned, records_of_batch};
/// let pinned = Pinned::default();
/// let mut records: Vec<_> = records_of_batch(&[7, 8], &[2, 3], b"hiyou".to_vec(), pinned.clone()).collect();
/// assert_eq!((&records[1].data[..], records[1].id), (&b"you"[..], 8));
/// records.remove(0);
/// assert_eq!(pinned.bytes(), 2, "the first record's bytes stay until the buffer goes");
/// drop(records);
/// assert_eq!(pinned.bytes(), 0);
/// ```
pub struct Data(Repr);

enum Repr {
    Owned(Vec<u8>),
    Shared(Range),
}

/// A record's bytes in a batch buffer. Dropped (the record settled, or
/// copied its bytes out), they count as pinned until the buffer goes.
struct Range {
    buffer: Rc<Buffer>,
    start: usize,
    len: usize,
}

impl Drop for Range {
    fn drop(&mut self) {
        self.buffer.pinned.add(self.len);
    }
}

impl Data {
    /// Copies shared bytes out, so that this record no longer keeps its
    /// batch's buffer alive (a record about to wait for a retry).
    pub fn own(&mut self) {
        if let Repr::Shared(_) = self.0 {
            self.0 = Repr::Owned(self.to_vec());
        }
    }
}

impl Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned(bytes) => bytes,
            // The cutter's caller checked the lengths against the buffer.
            Repr::Shared(r) => r.buffer.bytes.get(r.start..r.start + r.len).unwrap_or_default(),
        }
    }
}

impl From<Vec<u8>> for Data {
    fn from(bytes: Vec<u8>) -> Self {
        Data(Repr::Owned(bytes))
    }
}

/// A copy owns its bytes: two records on one range would count it twice.
impl Clone for Data {
    fn clone(&self) -> Self {
        Data(Repr::Owned(self.to_vec()))
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Data {}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Bytes that batch buffers keep for records already settled or copied
/// out (and for events the target did not take): memory the target holds
/// beyond its records. One per target; cloning it shares the count.
#[derive(Debug, Default, Clone)]
pub struct Pinned(Rc<Cell<usize>>);

impl Pinned {
    /// Bytes pinned now.
    pub fn bytes(&self) -> usize {
        self.0.get()
    }

    fn add(&self, n: usize) {
        self.0.set(self.0.get().saturating_add(n));
    }

    fn release(&self, n: usize) {
        debug_assert!(self.0.get() >= n, "released more than was pinned");
        self.0.set(self.0.get().saturating_sub(n));
    }
}

/// A batch buffer: when the last record in it goes, every byte of it was
/// counted pinned (by its records as they went, by the cutter for the
/// rest), and all of it is released.
struct Buffer {
    bytes: Vec<u8>,
    pinned: Pinned,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.pinned.release(self.bytes.len());
    }
}

/// The records of a packed batch (event `i`: `ids[i]`, the next `lengths[i]`
/// bytes of `data`), sharing `data`. Lengths must add up to `data.len()`
/// (the caller checks). Whatever the iterator is not asked for (the target
/// took fewer) is counted in `pinned` when it is dropped.
pub fn records_of_batch<'a>(
    ids: &'a [u64],
    lengths: &'a [u32],
    data: Vec<u8>,
    pinned: Pinned,
) -> impl ExactSizeIterator<Item = Record> + 'a {
    let buffer = Rc::new(Buffer { bytes: data, pinned });
    Cutter {
        buffer,
        start: 0,
        events: ids.iter().zip(lengths),
    }
}

struct Cutter<I> {
    buffer: Rc<Buffer>,
    /// Where the next event's bytes start.
    start: usize,
    events: I,
}

impl<'a, I: Iterator<Item = (&'a u64, &'a u32)>> Iterator for Cutter<I> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let (&id, &len) = self.events.next()?;
        let (start, len) = (self.start, len as usize);
        self.start += len;
        let data = Data(Repr::Shared(Range {
            buffer: self.buffer.clone(),
            start,
            len,
        }));
        Some(Record::new(id, data))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.events.size_hint()
    }
}

impl<'a, I: ExactSizeIterator<Item = (&'a u64, &'a u32)>> ExactSizeIterator for Cutter<I> {}

impl<I> Drop for Cutter<I> {
    fn drop(&mut self) {
        // Events never cut out: their bytes stay with the buffer.
        self.buffer
            .pinned
            .add(self.buffer.bytes.len().saturating_sub(self.start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pinned: &Pinned) -> Vec<Record> {
        records_of_batch(&[1, 2, 3], &[1, 2, 3], b"abbccc".to_vec(), pinned.clone()).collect()
    }

    #[test]
    fn records_of_a_batch_share_its_buffer_and_read_their_own_bytes() {
        let pinned = Pinned::default();
        let records = batch(&pinned);
        let data: Vec<&[u8]> = records.iter().map(|r| &r.data[..]).collect();
        assert_eq!(data, [&b"a"[..], b"bb", b"ccc"]);
        assert_eq!(records.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(pinned.bytes(), 0, "every byte belongs to a live record");
    }

    #[test]
    fn bytes_of_records_gone_stay_pinned_until_the_last_one_goes() {
        let pinned = Pinned::default();
        let mut records = batch(&pinned);
        records.remove(2);
        records.remove(0);
        assert_eq!(pinned.bytes(), 4);
        drop(records);
        assert_eq!(pinned.bytes(), 0, "the buffer went with its last record");
    }

    #[test]
    fn events_not_taken_are_pinned_with_the_buffer() {
        let pinned = Pinned::default();
        let first: Vec<Record> = records_of_batch(&[1, 2, 3], &[1, 2, 3], b"abbccc".to_vec(), pinned.clone())
            .take(1)
            .collect();
        assert_eq!(pinned.bytes(), 5);
        drop(first);
        assert_eq!(pinned.bytes(), 0);
    }

    #[test]
    fn a_record_that_owns_its_bytes_lets_the_buffer_go() {
        let pinned = Pinned::default();
        let mut records = batch(&pinned);
        let mut kept = records.remove(1);
        drop(records);
        assert_eq!(pinned.bytes(), 4);
        kept.data.own();
        assert_eq!((&kept.data[..], pinned.bytes()), (&b"bb"[..], 0));
    }

    #[test]
    fn a_clone_owns_its_bytes() {
        let pinned = Pinned::default();
        let records = batch(&pinned);
        let copy = records[2].clone();
        drop(records);
        assert_eq!((&copy.data[..], pinned.bytes()), (&b"ccc"[..], 0));
    }
}
