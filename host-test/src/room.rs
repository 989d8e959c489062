//! What a tenant knows of its instance's buffer: how many events it held
//! when it last refused part of an offer.
//!
//! A `push-batch` lowers every event it offers into the component's memory,
//! taken or not, and the host then keeps the refused tail to offer again.
//! A producer faster than the stream keeps the buffer full, so offering as
//! soon as anything settled lowered most events twice and moved the tail
//! once more on the host: about 5 % of the client's CPU at 1 KiB events
//! (BENCHMARKS.md "Issue 14, fifth pass"). Waiting until the offer should
//! fit lowers each event once. It is an estimate in events (the component
//! counts bytes), so an offer may still be refused in part; that only
//! teaches the estimate again. The tenant holds an offer back only while
//! requests are in flight: a refusal is also what makes the component send
//! a batch that is not full, so with nothing in flight it offers anyway.

/// The estimate: offer when the batch should fit.
///
/// ```
/// use kinesis_host::room::Room;
/// let mut room = Room::default();
/// assert!(room.admits(10_000, 500), "nothing refused yet: offer");
/// room.learn(8_000, true);
/// assert!(!room.admits(7_800, 500), "would overfill what it held");
/// assert!(room.admits(7_500, 500));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Room {
    /// Events pending in the component after its last partial acceptance.
    held_when_full: Option<usize>,
}

impl Room {
    /// Whether to offer `offered` events now, with `pending` accepted and
    /// unsettled. Also when the component holds half of what it once held
    /// full or less: a batch larger than the room then still goes in, in
    /// parts, and the pipe never runs dry waiting for a fit.
    pub fn admits(&self, pending: usize, offered: usize) -> bool {
        match self.held_when_full {
            None => true,
            Some(full) => pending + offered <= full || pending <= full / 2,
        }
    }

    /// After an offer: `pending` as the component reported it, and whether
    /// it refused part of the offer. Holding more than the estimate without
    /// refusing (smaller events since) raises it.
    pub fn learn(&mut self, pending: usize, refused_some: bool) {
        self.held_when_full = match self.held_when_full {
            _ if refused_some => Some(pending),
            Some(full) => Some(full.max(pending)),
            None => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_buffer_is_offered_to_again_once_the_batch_fits() {
        let mut room = Room::default();
        room.learn(7_800, true);
        assert!(!room.admits(7_301, 500));
        assert!(room.admits(7_300, 500));
    }

    #[test]
    fn an_empty_or_half_empty_component_is_always_offered_to() {
        let mut room = Room::default();
        room.learn(8, true);
        assert!(room.admits(0, 500), "a batch larger than the room goes in parts");
        assert!(room.admits(4, 500));
        assert!(!room.admits(5, 500));
    }

    #[test]
    fn smaller_events_raise_the_estimate_without_a_refusal() {
        let mut room = Room::default();
        room.learn(8, true);
        room.learn(504, false);
        assert!(room.admits(4, 500));
        assert!(room.admits(252, 500), "half of 504");
        room.learn(300, true);
        assert!(!room.admits(200, 500), "a refusal sets it, lower too");
    }

    #[test]
    fn full_acceptances_alone_teach_nothing() {
        let mut room = Room::default();
        room.learn(1_000_000, false);
        assert!(room.admits(1_000_000, 1_000_000));
    }
}
