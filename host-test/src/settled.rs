//! What one [`crate::Tenant`] call settled: deliveries kept packed as the
//! component reported them (no string per event), failures one by one.

use crate::runtime::wit;

/// Events one call settled, each exactly once (the tenant checked).
///
/// ```
/// use kinesis_host::{Settled, wit};
/// let mut settled = Settled::default();
/// settled.extend([wit::EventOutcome {
///     id: 3,
///     outcome: wit::Outcome::Delivered(wit::Delivered {
///         shard_id: "shardId-000000000000".into(),
///         sequence_number: "4955".into(),
///     }),
/// }]);
/// assert_eq!(settled.len(), 1);
/// assert_eq!(settled.delivered().collect::<Vec<_>>(), [(3, "shardId-000000000000", "4955")]);
/// assert!(settled.failed.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Settled {
    /// The reports' packs, in the order they came.
    packs: Vec<wit::Deliveries>,
    /// Failed events (each a `failed` outcome), in the order they came.
    pub failed: Vec<wit::EventOutcome>,
}

impl Settled {
    /// Failures only.
    pub(crate) fn failures(failed: Vec<wit::EventOutcome>) -> Self {
        Self {
            packs: Vec::new(),
            failed,
        }
    }

    /// Adds a report's deliveries, already checked.
    pub(crate) fn add_pack(&mut self, pack: wit::Deliveries) {
        if !pack.is_empty() {
            self.packs.push(pack);
        }
    }

    /// Moves everything `other` settled in after this.
    pub fn append(&mut self, mut other: Settled) {
        self.packs.append(&mut other.packs);
        self.failed.append(&mut other.failed);
    }

    /// Each delivered event: id, shard id, sequence number (both empty under
    /// `outcome_detail: ids`).
    pub fn delivered(&self) -> impl Iterator<Item = (u64, &str, &str)> + '_ {
        self.packs.iter().flat_map(wit::Deliveries::iter)
    }

    /// How many were delivered.
    pub fn delivered_count(&self) -> usize {
        self.packs.iter().map(wit::Deliveries::len).sum()
    }

    /// How many events were settled, delivered or failed.
    pub fn len(&self) -> usize {
        self.delivered_count() + self.failed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.failed.is_empty() && self.packs.is_empty()
    }

    /// One outcome per event: the deliveries unpacked (two strings each),
    /// then the failures.
    pub fn into_outcomes(self) -> Vec<wit::EventOutcome> {
        self.into_iter().collect()
    }
}

impl IntoIterator for Settled {
    type Item = wit::EventOutcome;
    type IntoIter = std::vec::IntoIter<wit::EventOutcome>;

    /// [`Settled::into_outcomes`], one at a time.
    fn into_iter(self) -> Self::IntoIter {
        let mut all: Vec<wit::EventOutcome> = Vec::with_capacity(self.len());
        for pack in &self.packs {
            all.extend(pack.outcomes());
        }
        all.extend(self.failed);
        all.into_iter()
    }
}

impl Extend<wit::EventOutcome> for Settled {
    /// Adds outcomes one by one (a delivered one is packed on its own), for
    /// a host that merges what it settled elsewhere.
    fn extend<I: IntoIterator<Item = wit::EventOutcome>>(&mut self, outcomes: I) {
        for o in outcomes {
            match o.outcome {
                wit::Outcome::Delivered(d) => {
                    self.packs
                        .push(wit::Deliveries::one(o.id, &d.shard_id, &d.sequence_number))
                }
                wit::Outcome::Failed(_) => self.failed.push(o),
            }
        }
    }
}
