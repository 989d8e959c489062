//! Kinesis records ready to send, one lane per shard, each paced by its own
//! [`Budget`]: a request takes from every lane only what that shard can
//! take now, so records for a saturated shard wait without holding back the
//! others.
//!
//! How records are laned: with one hash key for all (a static partition key
//! or `explicit_hash_key`) there is one lane, paced as one shard; with a
//! shard map (ListShards) one lane per open shard, found by each record's
//! hash key; without a map one lane for the whole stream, paced as a whole
//! (no ceiling, adapting to throttling). Without `shard_pacing` lanes are
//! unpaced queues. Retried records go back to the front of their lane, so
//! a shard's records keep their order.

use super::exchange::Waiting;
use crate::pacing::{Budget, ShardLimits};
use crate::shards::ShardMap;
use crate::stats::ShardStats;
use std::collections::VecDeque;
use std::time::Duration;

/// The id a stream-wide lane reports.
pub const WHOLE_STREAM: &str = "*";

/// One shard's queue and budget.
struct Lane {
    items: VecDeque<Waiting>,
    /// Bytes of `items`, as Kinesis counts them.
    bytes: usize,
    /// `None`: unpaced.
    budget: Option<Budget>,
    /// A retry's backoff: nothing leaves the lane before this.
    not_before: Duration,
    /// Index of this lane's figures in [`Lanes::stats`].
    stat: usize,
    /// Paced for one hash key: the first answer names its shard.
    learns_id: bool,
    /// Whether the lane was held by its budget (or throttled) at `tick`.
    limited: bool,
    tick: Duration,
}

/// How records are placed: one lane, or one per shard of a map.
enum Layout {
    /// One lane, for one shard's hash key or for the whole stream.
    Single,
    /// The map's generation and each lane's first hash key, ascending.
    Map { generation: u32, starts: Vec<u128> },
}

/// The lanes of one target.
pub(super) struct Lanes {
    lanes: Vec<Lane>,
    layout: Layout,
    pacing: Option<ShardLimits>,
    max_record: usize,
    /// Round robin: the lane the next request starts with.
    next: usize,
    /// Figures per shard, kept across re-laning (keyed by shard id).
    stats: Vec<ShardStats>,
    /// Events in all lanes (an aggregate counts its events): kept as items
    /// come and go, because every report asks for it and a full buffer
    /// holds tens of thousands of records.
    events: usize,
}

impl Lanes {
    /// One lane: for the shard of `fixed` when every record has that hash
    /// key, else for the whole stream.
    pub fn new(pacing: Option<ShardLimits>, max_record: usize, fixed: Option<u128>, now: Duration) -> Self {
        let mut lanes = Self {
            lanes: Vec::new(),
            layout: Layout::Single,
            pacing,
            max_record,
            next: 0,
            stats: Vec::new(),
            events: 0,
        };
        let id = fixed.map_or_else(|| WHOLE_STREAM.to_string(), crate::aggregate::decimal);
        let budget = lanes.budget(fixed.is_some(), now);
        lanes.push_lane(&id, budget, now);
        lanes.lanes[0].learns_id = fixed.is_some();
        lanes
    }

    fn budget(&self, shard: bool, now: Duration) -> Option<Budget> {
        self.pacing.map(|limits| match shard {
            true => Budget::shard(limits, self.max_record, now),
            false => Budget::stream(limits, self.max_record, now),
        })
    }

    fn push_lane(&mut self, id: &str, budget: Option<Budget>, now: Duration) {
        let stat = match self.stats.iter().position(|s| s.shard_id == id) {
            Some(i) => i,
            None => {
                self.stats.push(ShardStats {
                    shard_id: id.to_string(),
                    ..ShardStats::default()
                });
                self.stats.len() - 1
            }
        };
        self.lanes.push(Lane {
            items: VecDeque::new(),
            bytes: 0,
            budget,
            not_before: Duration::ZERO,
            stat,
            learns_id: false,
            limited: false,
            tick: now,
        });
    }

    /// The generation of the map the lanes follow, if any.
    pub fn generation(&self) -> Option<u32> {
        match &self.layout {
            Layout::Map { generation, .. } => Some(*generation),
            Layout::Single => None,
        }
    }

    /// Lanes anew, one per shard of `map`; what waits is placed again by hash key.
    pub fn follow(&mut self, map: &ShardMap, now: Duration) {
        let waiting = self.drain();
        self.lanes.clear();
        let mut starts = Vec::with_capacity(map.len());
        for shard in map.shards() {
            starts.push(shard.start);
            let budget = self.budget(true, now);
            self.push_lane(&shard.id, budget, now);
        }
        self.layout = Layout::Map {
            generation: map.generation,
            starts,
        };
        self.next = 0;
        for item in waiting {
            self.push_back(item);
        }
    }

    /// Back to one stream-wide lane (the map is gone and not coming back soon).
    pub fn unfollow(&mut self, now: Duration) {
        if matches!(self.layout, Layout::Single) {
            return;
        }
        let waiting = self.drain();
        self.lanes.clear();
        self.layout = Layout::Single;
        let budget = self.budget(false, now);
        self.push_lane(WHOLE_STREAM, budget, now);
        for item in waiting {
            self.push_back(item);
        }
    }

    fn drain(&mut self) -> Vec<Waiting> {
        self.events = 0;
        self.lanes
            .iter_mut()
            .flat_map(|l| std::mem::take(&mut l.items))
            .collect()
    }

    /// Which lane a record of hash key `hash` waits in.
    fn lane_of(&self, hash: u128) -> usize {
        match &self.layout {
            Layout::Single => 0,
            // A hash key in a gap of the map goes to the shard below it.
            Layout::Map { starts, .. } => starts.partition_point(|s| *s <= hash).saturating_sub(1),
        }
    }

    /// Queues a record behind those waiting in its lane.
    pub fn push_back(&mut self, item: Waiting) {
        let i = self.lane_of(item.hash);
        let lane = &mut self.lanes[i];
        lane.bytes += item.size;
        self.events += item.entry.events();
        lane.items.push_back(item);
    }

    /// Puts records that were sent back at the front of their lanes, in
    /// their order, behind `not_before` when given.
    pub fn push_front(&mut self, items: Vec<Waiting>, not_before: Option<Duration>) {
        for item in items.into_iter().rev() {
            let i = self.lane_of(item.hash);
            let lane = &mut self.lanes[i];
            if let Some(at) = not_before {
                lane.not_before = lane.not_before.max(at);
            }
            lane.bytes += item.size;
            self.events += item.entry.events();
            lane.items.push_front(item);
        }
    }

    /// Records waiting in all lanes.
    pub fn len(&self) -> usize {
        self.lanes.iter().map(|l| l.items.len()).sum()
    }

    /// Events waiting in all lanes (an aggregate counts its events).
    pub fn events(&self) -> usize {
        // Every unit test that takes a report checks the count against the items.
        #[cfg(test)]
        assert_eq!(
            self.events,
            self.lanes
                .iter()
                .flat_map(|l| &l.items)
                .map(|w| w.entry.events())
                .sum::<usize>(),
            "events counted in the lanes"
        );
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.iter().all(|l| l.items.is_empty())
    }

    /// Takes a request's records: from each lane in turn what its budget
    /// allows now, up to `max_records` records of `max_bytes`. Empty when
    /// no lane may send.
    pub fn take(&mut self, max_records: usize, max_bytes: usize, now: Duration) -> Vec<Waiting> {
        let mut taken = Vec::new();
        let mut bytes = 0;
        let n = self.lanes.len();
        for k in 0..n {
            let lane = &mut self.lanes[(self.next + k) % n];
            if lane.items.is_empty() || lane.not_before > now {
                lane.limited = false;
                continue;
            }
            if let Some(budget) = &mut lane.budget
                && !budget.worth_sending(lane.items.len(), lane.bytes, now)
            {
                lane.limited = true;
                continue;
            }
            let (mut records, mut lane_bytes) = (0, 0);
            while let Some(front) = lane.items.front() {
                if taken.len() >= max_records || bytes + front.size > max_bytes {
                    break;
                }
                if let Some(budget) = &mut lane.budget
                    && !budget.fits(records + 1, lane_bytes + front.size, now)
                {
                    lane.limited = true;
                    break;
                }
                records += 1;
                lane_bytes += front.size;
                bytes += front.size;
                lane.bytes -= front.size;
                self.events -= front.entry.events();
                taken.extend(lane.items.pop_front());
            }
            if let Some(budget) = &mut lane.budget {
                budget.take(records, lane_bytes);
            }
            if lane.items.is_empty() {
                lane.limited = false;
            }
            self.stats[lane.stat].records_sent += records as u64;
        }
        self.next = (self.next + 1) % n;
        taken
    }

    /// When a lane that holds records may next send (its budget or its
    /// backoff), if any lane holds records.
    pub fn next_ready(&mut self, now: Duration) -> Option<Duration> {
        self.lanes
            .iter_mut()
            .filter(|l| !l.items.is_empty())
            .map(|l| {
                let paced = match &mut l.budget {
                    Some(budget) => budget.ready_at(l.items.len(), l.bytes, now),
                    None => now,
                };
                paced.max(l.not_before)
            })
            .min()
    }

    /// Kinesis took a record of `hash` into `shard_id`: metered, and a lane
    /// paced for one hash key learns its shard's id. Returns whether that is
    /// the shard the map said (false: the stream was resharded).
    pub fn accepted(&mut self, hash: u128, shard_id: &str, bytes: usize) -> bool {
        let i = self.lane_of(hash);
        let lane = &mut self.lanes[i];
        if let Some(budget) = &mut lane.budget {
            budget.accepted(1, bytes);
        }
        let stat = &mut self.stats[lane.stat];
        if lane.learns_id {
            lane.learns_id = false;
            stat.shard_id = shard_id.to_string();
        }
        !matches!(self.layout, Layout::Map { .. }) || crate::bytes::same(stat.shard_id.as_bytes(), shard_id.as_bytes())
    }

    /// The shard of `hash` throttled a record at `now`.
    pub fn throttled(&mut self, hash: u128, now: Duration) {
        let i = self.lane_of(hash);
        let lane = &mut self.lanes[i];
        if let Some(budget) = &mut lane.budget {
            budget.throttled(now);
        }
        lane.limited = true;
        self.stats[lane.stat].records_throttled += 1;
    }

    /// Counts time at the limit: a lane is at its limit from when its
    /// budget holds back records it has (or it throttled) until it empties.
    pub fn tick(&mut self, now: Duration) {
        for lane in &mut self.lanes {
            let elapsed = now.saturating_sub(lane.tick).as_millis() as u64;
            if elapsed == 0 {
                continue;
            }
            lane.tick = now;
            let stat = &mut self.stats[lane.stat];
            stat.paced_ms += elapsed;
            if lane.limited {
                stat.at_limit_ms += elapsed;
            }
        }
    }

    /// Removes from every lane the records `expired` says are out of time.
    pub fn remove_where(&mut self, mut expired: impl FnMut(&Waiting) -> bool) -> Vec<Waiting> {
        let mut out = Vec::new();
        for lane in &mut self.lanes {
            let mut kept = VecDeque::with_capacity(lane.items.len());
            for item in lane.items.drain(..) {
                if expired(&item) {
                    lane.bytes -= item.size;
                    self.events -= item.entry.events();
                    out.push(item);
                } else {
                    kept.push_back(item);
                }
            }
            lane.items = kept;
        }
        out
    }

    /// Figures per shard, with what waits and the budget now: the shards
    /// paced now, and those that were sent to before a reshard.
    pub fn stats(&self) -> Vec<ShardStats> {
        let mut stats = self.stats.clone();
        let current: Vec<usize> = self.lanes.iter().map(|l| l.stat).collect();
        for lane in &self.lanes {
            let s = &mut stats[lane.stat];
            s.waiting += lane.items.len() as u64;
            if let Some(budget) = &lane.budget {
                s.records_per_second = budget.records_per_second();
                s.bytes_per_second = budget.bytes_per_second();
            }
        }
        let mut i = 0;
        stats.retain(|s| {
            i += 1;
            current.contains(&(i - 1)) || s.records_sent > 0
        });
        stats
    }
}
