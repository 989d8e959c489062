//! The ids a tenant has handed to its instance and not seen settled.
//!
//! Hosts number events in order far more often than not (a counter, a line
//! number), so ids that continue the run so far live in a bitmap window, a
//! bit each; any other id goes to a hash set. A set alone cost a hash insert
//! and remove per event, about 4 % of the client's CPU at 100 B (perf). An
//! id that stays pending keeps the window open behind it: a bit for every
//! later id (125 KB a million) until it settles.

use std::collections::{HashSet, VecDeque};

/// A set of u64 ids, cheapest for ids added in increasing runs.
///
/// ```
/// use kinesis_host::pending::Pending;
/// let mut p = Pending::default();
/// p.extend([1, 2, 3, 100]);
/// assert!(p.remove(2) && !p.remove(2));
/// assert_eq!((p.len(), p.drain_sorted()), (3, vec![1, 3, 100]));
/// ```
#[derive(Debug, Default)]
pub struct Pending {
    /// Id of the first bit of `words`.
    base: u64,
    /// Bit `i` of the window: id `base + i` is pending.
    words: VecDeque<u64>,
    /// The id after the window's last; the next id the window can take.
    end: u64,
    /// Pending ids in the window.
    in_window: usize,
    /// Pending ids outside it.
    others: HashSet<u64, foldhash::fast::RandomState>,
}

impl Pending {
    /// Adds `id`; an id already pending stays pending once.
    pub fn insert(&mut self, id: u64) {
        if self.in_window == 0 && self.others.is_empty() {
            // Empty: start the window here.
            self.words.clear();
            (self.base, self.end) = (id, id);
        }
        if id == self.end && id != u64::MAX && (self.others.is_empty() || !self.others.contains(&id)) {
            let bit = id - self.base;
            if bit.is_multiple_of(64) {
                self.words.push_back(0);
            }
            self.words[(bit / 64) as usize] |= 1 << (bit % 64);
            self.end += 1;
            self.in_window += 1;
        } else if !self.window_has(id) {
            self.others.insert(id);
        }
    }

    /// Removes `id`; whether it was pending.
    pub fn remove(&mut self, id: u64) -> bool {
        if !(self.base..self.end).contains(&id) {
            return self.others.remove(&id);
        }
        let bit = id - self.base;
        let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
        if self.words[word] & mask == 0 {
            return self.others.remove(&id);
        }
        self.words[word] &= !mask;
        self.in_window -= 1;
        // Drop settled words from the front, so the window follows the ids.
        while self.words.len() > 1 && self.words[0] == 0 {
            self.words.pop_front();
            self.base += 64;
        }
        true
    }

    /// How many ids are pending.
    pub fn len(&self) -> usize {
        self.in_window + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pending id, in increasing order; none is pending afterwards.
    pub fn drain_sorted(&mut self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.others.drain().collect();
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                ids.push(self.base + w as u64 * 64 + u64::from(bits.trailing_zeros()));
                bits &= bits - 1;
            }
        }
        ids.sort_unstable();
        self.words.clear();
        self.end = self.base;
        self.in_window = 0;
        ids
    }

    fn window_has(&self, id: u64) -> bool {
        (self.base..self.end).contains(&id) && {
            let bit = id - self.base;
            self.words[(bit / 64) as usize] & (1 << (bit % 64)) != 0
        }
    }
}

impl Extend<u64> for Pending {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

impl FromIterator<u64> for Pending {
    fn from_iter<I: IntoIterator<Item = u64>>(ids: I) -> Self {
        let mut pending = Self::default();
        pending.extend(ids);
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::Pending;
    use std::collections::BTreeSet;

    /// The same operations on a `Pending` and on a plain set agree.
    #[test]
    fn pending_ids_behave_as_a_set_whatever_their_order() {
        let mut state = 7u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for round in 0..200 {
            let (mut pending, mut model) = (Pending::default(), BTreeSet::new());
            let mut counter = round * 1000;
            for _ in 0..2000 {
                match next(10) {
                    0..=4 => {
                        // Mostly the next id, sometimes an old, a repeated or a far one.
                        let id = match next(20) {
                            0 => next(counter + 1),
                            1 => u64::MAX - next(3),
                            _ => {
                                counter += 1;
                                counter
                            }
                        };
                        pending.insert(id);
                        model.insert(id);
                    }
                    _ => {
                        let id = if model.is_empty() || next(4) == 0 {
                            next(counter + 2)
                        } else {
                            *model.iter().nth(next(model.len() as u64) as usize).unwrap()
                        };
                        assert_eq!(pending.remove(id), model.remove(&id), "remove {id}");
                    }
                }
                assert_eq!(pending.len(), model.len());
            }
            assert_eq!(pending.drain_sorted(), model.into_iter().collect::<Vec<_>>());
            assert!(pending.is_empty());
        }
    }
}
