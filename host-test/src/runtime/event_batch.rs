//! `event-batch`: events packed into one buffer for `push-batch`, and the
//! part of one a single call hands over.

use super::wit;

/// Event data one `push-batch` call hands over at most (one event more when
/// that event alone is larger).
pub const MAX_LOWERED_BYTES: usize = 4 << 20;

impl wit::EventBatch {
    /// The first events holding at most `max_bytes` (at least one), when
    /// that is not all of them.
    pub(super) fn prefix(&self, max_bytes: usize) -> Option<Self> {
        if self.data.len() <= max_bytes {
            return None;
        }
        let (mut events, mut bytes) = (0, 0);
        for &len in &self.lengths {
            if events > 0 && bytes + len as usize > max_bytes {
                break;
            }
            events += 1;
            bytes += len as usize;
        }
        let events = events.min(self.ids.len());
        Some(Self {
            ids: self.ids[..events].to_vec(),
            lengths: self.lengths[..events].to_vec(),
            data: self.data[..bytes.min(self.data.len())].to_vec(),
        })
    }

    /// `events` packed into one batch, in order.
    pub fn pack(events: &[wit::Event]) -> Self {
        let mut batch = Self::with_capacity(events.len(), events.iter().map(|e| e.data.len()).sum());
        for e in events {
            batch.push(e.id, &e.data);
        }
        batch
    }

    /// An empty batch with room for `events` events of `bytes` bytes in all,
    /// for a reader that packs events as it reads them ([`push`](Self::push)):
    /// no buffer per event, and nothing to pack before `push-batch`.
    ///
    /// ```
    /// use kinesis_host::wit::EventBatch;
    /// let mut batch = EventBatch::with_capacity(2, 64);
    /// batch.push(1, b"first line");
    /// batch.push(2, b"second");
    /// assert_eq!(batch.iter().nth(1), Some((2, &b"second"[..])));
    /// ```
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        Self {
            ids: Vec::with_capacity(events),
            lengths: Vec::with_capacity(events),
            data: Vec::with_capacity(bytes),
        }
    }

    /// Appends event `id` with `data`.
    pub fn push(&mut self, id: u64, data: &[u8]) {
        let Ok(()) = self.push_with(id, |buffer| {
            buffer.extend_from_slice(data);
            Ok::<_, std::convert::Infallible>(())
        });
    }

    /// Appends event `id` whose data `write` appends to the batch's buffer
    /// (decoding straight into it, say); when `write` fails, the batch is
    /// left as it was.
    pub fn push_with<E>(&mut self, id: u64, write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        let start = self.data.len();
        if let Err(e) = write(&mut self.data) {
            self.data.truncate(start);
            return Err(e);
        }
        self.ids.push(id);
        // Past u32::MAX (no event that large fits a guest's memory) the
        // batch no longer adds up, and its events fail with InvalidBatch.
        self.lengths
            .push(u32::try_from(self.data.len() - start).unwrap_or(u32::MAX));
        Ok(())
    }

    /// Each event's id and data, in order (as far as the lengths add up).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let mut at = 0usize;
        self.ids.iter().zip(&self.lengths).map_while(move |(&id, &len)| {
            let data = self.data.get(at..at.checked_add(len as usize)?)?;
            at += len as usize;
            Some((id, data))
        })
    }

    /// Bytes of event data in the batch.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Events in the batch (ids).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Removes the first `n` events: what is left is what to offer again
    /// when `push-batch` accepted `n`.
    pub fn remove_first(&mut self, n: usize) {
        let n = n.min(self.ids.len());
        let bytes: usize = self.lengths.iter().take(n).map(|&l| l as usize).sum();
        self.ids.drain(..n);
        self.lengths.drain(..n.min(self.lengths.len()));
        self.data.drain(..bytes.min(self.data.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pushed_one_by_one_lie_back_to_back_with_their_lengths() {
        let events = [(7, &b"one"[..]), (8, b""), (9, b"three")];
        let mut batch = wit::EventBatch::with_capacity(1, 1);
        for (id, data) in events {
            batch.push(id, data);
        }
        assert_eq!(
            (&batch.ids[..], &batch.lengths[..], &batch.data[..]),
            (&[7, 8, 9][..], &[3, 0, 5][..], &b"onethree"[..])
        );
        assert_eq!(batch.iter().collect::<Vec<_>>(), events);
        assert_eq!(batch.data_len(), 8);
    }

    #[test]
    fn an_event_whose_data_fails_to_write_leaves_the_batch_as_it_was() {
        let mut batch = wit::EventBatch::with_capacity(2, 16);
        batch.push(1, b"kept");
        let failed = batch.push_with(2, |buffer| {
            buffer.extend_from_slice(b"half written");
            Err("not base64")
        });
        assert_eq!(failed, Err("not base64"));
        assert_eq!(batch.iter().collect::<Vec<_>>(), [(1, &b"kept"[..])]);
    }
}
