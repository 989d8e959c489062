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
        let mut data = Vec::with_capacity(events.iter().map(|e| e.data.len()).sum());
        for e in events {
            data.extend_from_slice(&e.data);
        }
        Self {
            ids: events.iter().map(|e| e.id).collect(),
            // Past u32::MAX (no event that large fits a guest's memory) the
            // batch no longer adds up, and its events fail with InvalidBatch.
            lengths: events
                .iter()
                .map(|e| u32::try_from(e.data.len()).unwrap_or(u32::MAX))
                .collect(),
            data,
        }
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
