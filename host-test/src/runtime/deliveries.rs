//! `deliveries`: the events a report delivered, packed, read back one by one.

use super::wit;

impl wit::Deliveries {
    /// Each delivered id with the shard id and sequence number of the
    /// Kinesis record that carried it; both empty when the report carries
    /// none (`outcome_detail: ids`) or when the lists disagree (see
    /// [`Self::is_consistent`]): the id was still delivered, whatever its
    /// detail says.
    ///
    /// ```
    /// use kinesis_host::wit::Deliveries;
    /// let d = Deliveries {
    ///     ids: vec![7, 8, 9],
    ///     records: vec![0, 1, 1], // 8 and 9 were aggregated into one record
    ///     shard_ids: vec!["shardId-000000000001".into()],
    ///     shards: vec![0, 0],
    ///     sequence_lengths: vec![3, 2],
    ///     sequence_numbers: "49549".into(),
    /// };
    /// let all: Vec<_> = d.iter().collect();
    /// assert_eq!(
    ///     all,
    ///     [(7, "shardId-000000000001", "495"), (8, "shardId-000000000001", "49"), (9, "shardId-000000000001", "49")]
    /// );
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (u64, &str, &str)> + '_ {
        // Where each record's sequence number starts (`None` past the end).
        let mut at = 0usize;
        let starts: Vec<Option<usize>> = self
            .sequence_lengths
            .iter()
            .map(|&len| {
                let start = at;
                at = at.saturating_add(len as usize);
                self.sequence_numbers.get(start..at).map(|_| start)
            })
            .collect();
        self.ids.iter().enumerate().map(move |(i, &id)| {
            let Some(r) = self.records.get(i).map(|&r| r as usize) else {
                return (id, "", "");
            };
            let shard_id = self
                .shards
                .get(r)
                .and_then(|&s| self.shard_ids.get(s as usize))
                .map_or("", String::as_str);
            let sequence_number = match (starts.get(r).copied().flatten(), self.sequence_lengths.get(r)) {
                (Some(start), Some(&len)) => &self.sequence_numbers[start..start + len as usize],
                _ => "",
            };
            (id, shard_id, sequence_number)
        })
    }

    /// Whether the lists agree: `records` empty (with `shards`,
    /// `sequence-lengths` and `sequence-numbers`) or one per id, every
    /// record and shard index in range, one length per record, and the
    /// lengths adding up to `sequence-numbers` in pieces that are whole
    /// characters.
    pub fn is_consistent(&self) -> bool {
        if self.records.is_empty() {
            return self.shards.is_empty() && self.sequence_lengths.is_empty() && self.sequence_numbers.is_empty();
        }
        let records = self.shards.len();
        if self.records.len() != self.ids.len() || self.sequence_lengths.len() != records {
            return false;
        }
        if self.records.iter().any(|&r| r as usize >= records)
            || self.shards.iter().any(|&s| s as usize >= self.shard_ids.len())
        {
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

    /// A pack of one delivery; ids only when `shard_id` and
    /// `sequence_number` are both empty.
    pub fn one(id: u64, shard_id: &str, sequence_number: &str) -> Self {
        let mut pack = Self::empty();
        pack.push(id, shard_id, sequence_number);
        pack
    }

    /// The deliveries whose id `keep` accepts, packed again (every detail
    /// kept; events that shared a record still share one).
    pub fn filtered(&self, mut keep: impl FnMut(u64) -> bool) -> Self {
        let mut pack = Self::empty();
        let mut last = None;
        for (i, (id, shard_id, sequence_number)) in self.iter().enumerate() {
            if !keep(id) {
                continue;
            }
            let record = self.records.get(i);
            if record.is_some() && record == last {
                pack.push_same_record(id);
            } else {
                pack.push(id, shard_id, sequence_number);
            }
            last = record;
        }
        pack
    }

    /// No deliveries.
    pub(crate) fn empty() -> Self {
        Self {
            ids: Vec::new(),
            records: Vec::new(),
            shard_ids: Vec::new(),
            shards: Vec::new(),
            sequence_lengths: Vec::new(),
            sequence_numbers: String::new(),
        }
    }

    /// Appends one delivery in a record of its own. A pack is either ids
    /// only or detailed throughout: the first detailed delivery puts the
    /// earlier ones in a record with empty details.
    pub(crate) fn push(&mut self, id: u64, shard_id: &str, sequence_number: &str) {
        let detailed = !self.records.is_empty() || !shard_id.is_empty() || !sequence_number.is_empty();
        if detailed {
            if self.records.len() < self.ids.len() {
                let empty = self.push_record("", "");
                self.records.resize(self.ids.len(), empty);
            }
            let record = self.push_record(shard_id, sequence_number);
            self.records.push(record);
        }
        self.ids.push(id);
    }

    /// Appends one delivery in the record of the delivery pushed last.
    fn push_same_record(&mut self, id: u64) {
        if let Some(&last) = self.records.last() {
            self.records.push(last);
        }
        self.ids.push(id);
    }

    fn push_record(&mut self, shard_id: &str, sequence_number: &str) -> u32 {
        let shard = match self.shard_ids.iter().rposition(|s| s == shard_id) {
            Some(i) => i as u32,
            None => {
                self.shard_ids.push(shard_id.to_string());
                (self.shard_ids.len() - 1) as u32
            }
        };
        self.shards.push(shard);
        self.sequence_lengths.push(sequence_number.len() as u32);
        self.sequence_numbers.push_str(sequence_number);
        (self.shards.len() - 1) as u32
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

    /// Three events: 1 alone on shard 1, 2 and 3 aggregated on shard 0.
    fn full() -> Deliveries {
        Deliveries {
            ids: vec![1, 2, 3],
            records: vec![0, 1, 1],
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
            [(1, "shardId-1", "10"), (2, "shardId-0", "200"), (3, "shardId-0", "200")]
        );
        let ids_only = Deliveries::one(5, "", "");
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
        assert!(Deliveries::one(4, "", "").records.is_empty(), "ids only stays ids only");
    }

    #[test]
    fn events_that_shared_a_record_still_share_one_when_packed_again() {
        let d = full().filtered(|id| id != 1);
        assert!(d.is_consistent(), "{d:?}");
        assert_eq!(
            (d.records.as_slice(), d.sequence_numbers.as_str()),
            ([0, 0].as_slice(), "200")
        );
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [(2, "shardId-0", "200"), (3, "shardId-0", "200")]
        );
    }

    #[test]
    fn a_guest_that_packs_wrongly_is_caught_and_its_ids_still_read() {
        let broken = [
            Deliveries {
                records: vec![0, 1],
                ..full()
            },
            Deliveries {
                records: vec![0, 1, 2],
                ..full()
            },
            Deliveries {
                shards: vec![1, 2],
                ..full()
            },
            Deliveries {
                shards: vec![1],
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
                sequence_numbers: "9".into(),
                ..Deliveries::one(1, "", "")
            },
        ];
        for d in broken {
            assert!(!d.is_consistent(), "{d:?}");
            let ids: Vec<u64> = d.iter().map(|(id, ..)| id).collect();
            assert_eq!(ids, d.ids, "every id is still read");
        }
    }
}
