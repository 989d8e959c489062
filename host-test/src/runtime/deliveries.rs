//! `deliveries`: the events a report delivered, packed, read back one by one.

use super::wit;

impl wit::Deliveries {
    /// Each delivered id with its shard id and sequence number; both empty
    /// when the report carries none (`outcome_detail: ids`) or when the
    /// lists disagree (see [`Self::is_consistent`]): the id was still
    /// delivered, whatever its detail says.
    ///
    /// ```
    /// use kinesis_host::wit::Deliveries;
    /// let d = Deliveries {
    ///     ids: vec![7, 8],
    ///     shard_ids: vec!["shardId-000000000001".into()],
    ///     shards: vec![0, 0],
    ///     sequence_lengths: vec![3, 2],
    ///     sequence_numbers: "49549".into(),
    /// };
    /// let all: Vec<_> = d.iter().collect();
    /// assert_eq!(all, [(7, "shardId-000000000001", "495"), (8, "shardId-000000000001", "49")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (u64, &str, &str)> + '_ {
        let mut at = 0usize;
        self.ids.iter().enumerate().map(move |(i, &id)| {
            let shard_id = self
                .shards
                .get(i)
                .and_then(|&s| self.shard_ids.get(s as usize))
                .map_or("", String::as_str);
            let len = self.sequence_lengths.get(i).map_or(0, |&l| l as usize);
            let sequence_number = self.sequence_numbers.get(at..at.saturating_add(len)).unwrap_or("");
            at = at.saturating_add(len);
            (id, shard_id, sequence_number)
        })
    }

    /// Whether the lists agree: `shards` and `sequence-lengths` both empty
    /// or one per id, every shard index in range, and the lengths adding up
    /// to `sequence-numbers` in pieces that are whole characters.
    pub fn is_consistent(&self) -> bool {
        if self.shards.is_empty() && self.sequence_lengths.is_empty() {
            return self.sequence_numbers.is_empty();
        }
        let n = self.ids.len();
        if self.shards.len() != n || self.sequence_lengths.len() != n {
            return false;
        }
        if self.shards.iter().any(|&s| s as usize >= self.shard_ids.len()) {
            return false;
        }
        let mut at = 0usize;
        for &len in &self.sequence_lengths {
            at = at.saturating_add(len as usize);
            if !self.sequence_numbers.is_char_boundary(at) {
                return false;
            }
        }
        at == self.sequence_numbers.len()
    }

    /// [`Self::iter`], each as the per-event outcome hosts handle.
    pub fn outcomes(&self) -> impl Iterator<Item = wit::EventOutcome> + '_ {
        self.iter().map(|(id, shard_id, sequence_number)| wit::EventOutcome {
            id,
            outcome: wit::Outcome::Delivered(wit::Delivered {
                shard_id: shard_id.to_string(),
                sequence_number: sequence_number.to_string(),
            }),
        })
    }

    /// A pack of one delivery; ids only when `shard_id` and
    /// `sequence_number` are both empty.
    pub fn one(id: u64, shard_id: &str, sequence_number: &str) -> Self {
        let mut pack = Self::empty();
        pack.push(id, shard_id, sequence_number);
        pack
    }

    /// The deliveries whose id `keep` accepts, packed again (every detail
    /// kept, each shard id once).
    pub fn filtered(&self, mut keep: impl FnMut(u64) -> bool) -> Self {
        let mut pack = Self::empty();
        for (id, shard_id, sequence_number) in self.iter() {
            if keep(id) {
                pack.push(id, shard_id, sequence_number);
            }
        }
        pack
    }

    /// No deliveries.
    pub(crate) fn empty() -> Self {
        Self {
            ids: Vec::new(),
            shard_ids: Vec::new(),
            shards: Vec::new(),
            sequence_lengths: Vec::new(),
            sequence_numbers: String::new(),
        }
    }

    /// Appends one delivery. A pack is either ids only or detailed
    /// throughout: the first detailed delivery pads the earlier ones with
    /// empty details.
    pub(crate) fn push(&mut self, id: u64, shard_id: &str, sequence_number: &str) {
        let detailed = !self.shards.is_empty() || !shard_id.is_empty() || !sequence_number.is_empty();
        if detailed {
            if self.shards.len() < self.ids.len() {
                // Earlier ids-only deliveries: an empty shard id, no number.
                let empty = self.shard_index("");
                self.shards.resize(self.ids.len(), empty);
                self.sequence_lengths.resize(self.ids.len(), 0);
            }
            let shard = self.shard_index(shard_id);
            self.shards.push(shard);
            self.sequence_lengths.push(sequence_number.len() as u32);
            self.sequence_numbers.push_str(sequence_number);
        }
        self.ids.push(id);
    }

    fn shard_index(&mut self, shard_id: &str) -> u32 {
        match self.shard_ids.iter().rposition(|s| s == shard_id) {
            Some(i) => i as u32,
            None => {
                self.shard_ids.push(shard_id.to_string());
                (self.shard_ids.len() - 1) as u32
            }
        }
    }

    /// How many events it delivered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl wit::Report {
    /// Every event this report settled, one outcome each: its deliveries
    /// unpacked (with their shard id and sequence number, empty with
    /// `outcome_detail: ids`), then its failures. No exactly-once check:
    /// [`crate::Tenant`] makes one.
    pub fn into_outcomes(self) -> Vec<wit::EventOutcome> {
        let mut all: Vec<wit::EventOutcome> = self.delivered.outcomes().collect();
        all.extend(self.outcomes);
        all
    }

    /// How many events it settled, delivered or failed.
    pub fn settled(&self) -> usize {
        self.delivered.len() + self.outcomes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::wit::Deliveries;

    fn full() -> Deliveries {
        Deliveries {
            ids: vec![1, 2],
            shard_ids: vec!["shardId-0".into(), "shardId-1".into()],
            shards: vec![1, 0],
            sequence_lengths: vec![2, 3],
            sequence_numbers: "10200".into(),
        }
    }

    #[test]
    fn consistent_deliveries_read_back_per_event() {
        let d = full();
        assert!(d.is_consistent());
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [(1, "shardId-1", "10"), (2, "shardId-0", "200")]
        );
        let ids_only = Deliveries {
            ids: vec![5],
            shard_ids: vec![],
            shards: vec![],
            sequence_lengths: vec![],
            sequence_numbers: String::new(),
        };
        assert!(ids_only.is_consistent());
        assert_eq!(ids_only.iter().collect::<Vec<_>>(), [(5, "", "")]);
    }

    #[test]
    fn a_pack_made_again_pads_ids_only_deliveries_before_detailed_ones() {
        let mut d = Deliveries::one(1, "", "");
        d.push(2, "shardId-1", "77");
        d.push(3, "", "");
        assert!(d.is_consistent(), "{d:?}");
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [(1, "", ""), (2, "shardId-1", "77"), (3, "", "")]
        );
        let odd = d.filtered(|id| id % 2 == 1);
        assert!(odd.is_consistent());
        assert_eq!(odd.iter().collect::<Vec<_>>(), [(1, "", ""), (3, "", "")]);
        assert_eq!(
            Deliveries::one(4, "", "").shards,
            Vec::<u32>::new(),
            "ids only stays ids only"
        );
    }

    #[test]
    fn a_guest_that_packs_wrongly_is_caught_and_its_ids_still_read() {
        let broken = [
            Deliveries {
                shards: vec![1],
                ..full()
            },
            Deliveries {
                shards: vec![1, 2],
                ..full()
            },
            Deliveries {
                sequence_lengths: vec![2, 2],
                ..full()
            },
            Deliveries {
                sequence_numbers: "1é00".into(),
                sequence_lengths: vec![2, 3],
                ..full()
            },
            Deliveries {
                ids: vec![1],
                shard_ids: vec![],
                shards: vec![],
                sequence_lengths: vec![],
                sequence_numbers: "9".into(),
            },
        ];
        for d in broken {
            assert!(!d.is_consistent(), "{d:?}");
            let ids: Vec<u64> = d.iter().map(|(id, ..)| id).collect();
            assert_eq!(ids, d.ids, "every id is still read");
        }
    }
}
