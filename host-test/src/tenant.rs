//! A configured target instance plus the host's side of the contract: every
//! event id pushed comes back exactly once. The host checks it rather than
//! trusting it, so a component bug shows up as a counted protocol error and
//! an explicit failure, never as a silently lost event.

use crate::grants::Grants;
use crate::pending::Pending;
use crate::room::Room;
use crate::runtime::{HostStats, KinesisRuntime, TargetInstance, wit};
use crate::settled::Settled;
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Duration;

pub use crate::runtime::{CALL_BUDGET_EXCEEDED, MEMORY_LIMIT_EXCEEDED, TARGET_TRAPPED};
/// Code the host gives events the component never settled (a contract breach).
pub const UNSETTLED: &str = "Unsettled";

/// One failed event, as the summary and `--report json` list it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedEvent {
    pub id: u64,
    pub code: String,
    pub message: String,
    pub retryable: bool,
    /// An earlier attempt may have delivered it after all (see the WIT `failed`).
    pub maybe_delivered: bool,
}

/// Running totals for one target.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Tally {
    pub delivered: u64,
    pub failed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailedEvent>,
    pub requests: u64,
    pub bytes_sent: u64,
    /// Outcomes for unknown or already settled ids, and unsettled ids.
    pub protocol_errors: u64,
    /// Times the component's buffer was full (backpressure): `push` took
    /// only part of what it was offered, or the tenant held an offer back
    /// until answers made room ([`Room`]); the rest was offered again after
    /// a `poll`.
    pub backpressure_waits: u64,
}

/// How long to wait for room when the component names no time.
const BACKPRESSURE_WAIT: Duration = Duration::from_millis(50);
/// Never wait longer than this in one `poll`, so a trapped or wedged
/// instance is noticed.
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);

/// The component's own counters (WIT `target-stats`), as the JSON report shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ComponentStats {
    pub events_accepted: u64,
    pub events_refused: u64,
    pub delivered: u64,
    pub failed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
    pub requests: u64,
    pub retries: u64,
    /// Re-sends after an ambiguous failure: an upper bound on duplicates.
    pub ambiguous_retries: u64,
    pub bytes_sent: u64,
    pub in_flight_requests: u32,
    pub in_flight_events: u32,
    pub buffered_events: u32,
    pub buffered_bytes: u64,
    pub normalize_passthrough: u64,
    /// Kinesis records answered `ProvisionedThroughputExceededException`, each attempt counted.
    pub throttled: u64,
    /// One entry per shard the target paces (WIT `shard-stats`).
    pub shards: Vec<ShardStats>,
}

/// How one shard took a target's writes (WIT `shard-stats`), as the JSON report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShardStats {
    /// `shardId-...`; the hash key it is paced for before an answer names it;
    /// `*` when the shards could not be listed and the stream is paced as one.
    pub shard_id: String,
    pub records_sent: u64,
    pub records_throttled: u64,
    /// The write budget it is paced at now.
    pub records_per_second: u64,
    pub bytes_per_second: u64,
    /// Records waiting for its budget (or a retry) now.
    pub waiting: u64,
    /// How long it was at its write limit, of `paced_ms`.
    pub at_limit_ms: u64,
    pub paced_ms: u64,
}

impl ShardStats {
    /// The share of its paced time it spent at its write limit, in percent
    /// (0 before it was paced at all).
    pub fn at_limit_percent(&self) -> u64 {
        if self.paced_ms == 0 {
            return 0;
        }
        (self.at_limit_ms.saturating_mul(100) / self.paced_ms).min(100)
    }
}

impl From<wit::ShardStats> for ShardStats {
    fn from(s: wit::ShardStats) -> Self {
        Self {
            shard_id: s.shard_id,
            records_sent: s.records_sent,
            records_throttled: s.records_throttled,
            records_per_second: s.records_per_second,
            bytes_per_second: s.bytes_per_second,
            waiting: s.waiting,
            at_limit_ms: s.at_limit_ms,
            paced_ms: s.paced_ms,
        }
    }
}

impl From<wit::TargetStats> for ComponentStats {
    fn from(s: wit::TargetStats) -> Self {
        Self {
            events_accepted: s.events_accepted,
            events_refused: s.events_refused,
            delivered: s.delivered,
            failed: s.failed,
            failed_by_code: s.failed_by_code.into_iter().collect(),
            requests: s.requests,
            retries: s.retries,
            ambiguous_retries: s.ambiguous_retries,
            bytes_sent: s.bytes_sent,
            in_flight_requests: s.in_flight_requests,
            in_flight_events: s.in_flight_events,
            buffered_events: s.buffered_events,
            buffered_bytes: s.buffered_bytes,
            normalize_passthrough: s.normalize_passthrough,
            throttled: s.throttled,
            shards: s.shards.into_iter().map(ShardStats::from).collect(),
        }
    }
}

/// Checks a report's deliveries off `pending`, keeping them packed: only
/// their ids are read. Ids that were not pending (unknown, settled before,
/// or twice in the pack) are dropped from the pack and counted.
fn check_off(pending: &mut Pending, delivered: wit::Deliveries) -> (wit::Deliveries, u64) {
    let Some(at) = delivered.ids.iter().position(|&id| !pending.remove(id)) else {
        return (delivered, 0);
    };
    // Ids before `at` were pending and are settled now; the rest are
    // checked as the pack is made again without the unknown ones.
    let (mut i, mut unknown) = (0, 0);
    let kept = delivered.filtered(|id| {
        let keep = i < at || (i > at && pending.remove(id));
        i += 1;
        unknown += u64::from(!keep);
        keep
    });
    (kept, unknown)
}

/// A target instance and its bookkeeping.
pub struct Tenant {
    pub info: wit::TargetInfo,
    pub tally: Tally,
    instance: TargetInstance,
    /// Ids accepted and not settled.
    pending: Pending,
    /// Why the instance stopped: failure code and message.
    broken: Option<(&'static str, String)>,
    /// From the last report: when the component wants `poll` called.
    poll_after: Option<Duration>,
    /// How full the component's buffer gets, as far as offers showed.
    room: Room,
}

impl Tenant {
    /// Instantiates the component and configures it; the inner `Err` is the
    /// component's verdict on the config.
    pub async fn start(runtime: &KinesisRuntime, config_json: &str) -> Result<Result<Tenant, wit::ConfigError>> {
        Self::start_with(runtime, config_json, &Grants::default()).await
    }

    /// [`Tenant::start`] with an instance that sees what `grants` gives
    /// (the credential chain's environment and token files).
    pub async fn start_with(
        runtime: &KinesisRuntime,
        config_json: &str,
        grants: &Grants,
    ) -> Result<Result<Tenant, wit::ConfigError>> {
        let mut instance = runtime.instantiate_with(grants).await?;
        Ok(instance.configure(config_json).await?.map(|info| Tenant {
            info,
            tally: Tally::default(),
            instance,
            pending: Pending::default(),
            broken: None,
            poll_after: None,
            room: Room::default(),
        }))
    }

    /// Offers all `events`, packed into one `push-batch`; when the
    /// component's buffer is full it takes a prefix, and the rest is offered
    /// again after a `poll` lets answers in. Returns what was settled
    /// meanwhile (these or earlier events), deliveries packed.
    ///
    /// With `outcome_detail: ids` the component names delivered events by id
    /// only: their shard id and sequence number read as empty.
    pub async fn push(&mut self, events: &[wit::Event]) -> Settled {
        self.push_batch(wit::EventBatch::pack(events)).await
    }

    /// [`Tenant::push`] for events already packed. An inconsistent batch
    /// (ids and lengths differ in number, lengths that do not add up to the
    /// data) is taken whole and its ids fail with `InvalidBatch`.
    pub async fn push_batch(&mut self, mut batch: wit::EventBatch) -> Settled {
        let mut settled = Settled::default();
        loop {
            settled.append(self.offer(&mut batch).await);
            // Once the instance stopped, `offer` failed what was left.
            if batch.is_empty() {
                return settled;
            }
            let wait = self.poll_after.unwrap_or(BACKPRESSURE_WAIT);
            settled.append(self.poll(wait).await);
        }
    }

    /// One `push-batch` call: the component takes what fits from the front
    /// of `batch`, which keeps the rest, to be offered again after a `poll`
    /// (the wait [`Tenant::poll_after`] names). While the component's
    /// buffer is still too full for the batch, as far as the tenant can
    /// tell ([`Room`]), and answers are due that will make room, nothing is
    /// offered: lowering events it would refuse costs a copy each.
    /// [`Tenant::push_batch`] without its loop, for a host that must stay
    /// responsive while a target's buffer is full (to a stop signal, say).
    /// Once the instance stopped, the whole batch fails.
    pub async fn offer(&mut self, batch: &mut wit::EventBatch) -> Settled {
        let mut settled = Settled::default();
        if batch.is_empty() {
            return settled;
        }
        if self.broken.is_none() && !self.room.admits(self.pending.len(), batch.len()) && self.answers_due().await {
            self.tally.backpressure_waits += 1;
            return settled;
        }
        if self.broken.is_none() {
            match self.instance.push_batch(batch).await {
                Ok(report) => {
                    let taken = (report.accepted as usize).min(batch.len());
                    self.pending.extend(batch.ids[..taken].iter().copied());
                    batch.remove_first(taken);
                    self.room.learn(report.pending as usize, !batch.is_empty());
                    settled.append(self.absorb(report));
                    if !batch.is_empty() {
                        self.tally.backpressure_waits += 1;
                    }
                }
                Err(e) => self.broken = Some(self.instance.classify(&e)),
            }
        }
        if self.broken.is_some() {
            // Never accepted: certainly not delivered.
            let rest: Vec<u64> = batch.ids.clone();
            batch.remove_first(rest.len());
            settled
                .failed
                .extend(rest.into_iter().map(|id| self.fail_broken(id, false)));
            settled.append(self.fail_pending());
        }
        settled
    }

    /// Whether the component has requests in flight, whose answers will
    /// make room. Without any, only a refusal makes it send a batch that is
    /// not full: an offer is never held back then.
    async fn answers_due(&mut self) -> bool {
        self.instance.stats().await.is_ok_and(|s| s.in_flight_requests > 0)
    }

    /// Gives the instance up (the host stops at once, say, in the middle of
    /// a `flush` it no longer waits for): every event not settled fails with
    /// `code` and `maybe_delivered` (it may have been on the wire), and the
    /// instance is never called again.
    pub fn abandon(&mut self, code: &'static str, why: String) -> Settled {
        if self.broken.is_none() {
            self.broken = Some((code, why));
        }
        self.fail_pending()
    }

    /// Lets the component collect answers and start due retries, waiting up
    /// to `wait` (capped at a second) for something to settle.
    pub async fn poll(&mut self, wait: Duration) -> Settled {
        if self.broken.is_some() {
            return self.fail_pending();
        }
        match self.instance.poll(wait.min(MAX_POLL_WAIT)).await {
            Ok(report) => self.absorb(report),
            Err(e) => {
                self.broken = Some(self.instance.classify(&e));
                self.fail_pending()
            }
        }
    }

    /// The component's counters, or `None` once it trapped.
    pub async fn stats(&mut self) -> Option<ComponentStats> {
        if self.broken.is_some() {
            return None;
        }
        self.instance.stats().await.ok().map(ComponentStats::from)
    }

    /// What the host measured of the instance: memory, refused requests.
    pub fn host_stats(&self) -> HostStats {
        self.instance.host_stats()
    }

    /// Flushes; afterwards no event pushed to this tenant is without outcome.
    pub async fn flush(&mut self) -> Settled {
        let mut settled = Settled::default();
        if self.broken.is_none() {
            match self.instance.flush().await {
                Ok(report) => settled = self.absorb(report),
                Err(e) => self.broken = Some(self.instance.classify(&e)),
            }
        }
        if self.broken.is_none() {
            self.tally.protocol_errors += self.pending.len() as u64;
        }
        settled.append(self.fail_pending());
        settled
    }

    /// Why the instance stopped (over its memory limit, over a call's time
    /// budget, another trap), if it did.
    pub fn trapped(&self) -> Option<&str> {
        self.broken.as_ref().map(|(_, message)| message.as_str())
    }

    /// The failure code its events got when the instance stopped.
    pub fn broken_code(&self) -> Option<&'static str> {
        self.broken.as_ref().map(|(code, _)| *code)
    }

    /// Events pushed and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// When the component last asked to be polled (`report.poll-after-ns`);
    /// `None` when it has nothing to do without new events or a flush.
    pub fn poll_after(&self) -> Option<Duration> {
        self.poll_after.filter(|_| self.broken.is_none())
    }

    fn absorb(&mut self, report: wit::Report) -> Settled {
        self.poll_after = report.poll_after_ns.map(Duration::from_nanos);
        self.tally.requests += u64::from(report.requests);
        self.tally.bytes_sent += report.bytes_sent;
        let mut settled = Settled::default();
        let delivered = report.delivered;
        if !delivered.is_consistent() {
            self.tally.protocol_errors += 1;
        }
        let (delivered, unknown) = check_off(&mut self.pending, delivered);
        self.tally.protocol_errors += unknown;
        self.tally.delivered += delivered.len() as u64;
        settled.add_pack(delivered);
        for outcome in report.outcomes {
            if !self.pending.remove(outcome.id) {
                self.tally.protocol_errors += 1;
                continue;
            }
            self.count(&outcome);
            // A delivery here (the WIT puts them in `delivered`) is packed alone.
            settled.extend([outcome]);
        }
        settled
    }

    /// Fails every pending event: the instance stopped, or (after a flush)
    /// the component never settled them.
    fn fail_pending(&mut self) -> Settled {
        let ids = self.pending.drain_sorted();
        // Accepted before the instance stopped: may have been in flight.
        let failed = ids.into_iter().map(|id| self.fail_broken(id, true)).collect();
        Settled::failures(failed)
    }

    fn fail_broken(&mut self, id: u64, maybe_delivered: bool) -> wit::EventOutcome {
        let (code, message) = match &self.broken {
            Some((code, why)) => (*code, format!("the target instance stopped: {why}")),
            None => (
                UNSETTLED,
                "the component returned no outcome for this event".to_string(),
            ),
        };
        let outcome = wit::EventOutcome {
            id,
            outcome: wit::Outcome::Failed(wit::Failed {
                code: code.to_string(),
                message,
                origin: wit::FailureOrigin::Target,
                retryable: false,
                maybe_delivered: maybe_delivered && self.broken.is_some(),
            }),
        };
        self.count(&outcome);
        outcome
    }

    fn count(&mut self, outcome: &wit::EventOutcome) {
        match &outcome.outcome {
            wit::Outcome::Delivered(_) => self.tally.delivered += 1,
            wit::Outcome::Failed(f) => {
                self.tally.failed += 1;
                *self.tally.failed_by_code.entry(f.code.clone()).or_default() += 1;
                self.tally.failures.push(FailedEvent {
                    id: outcome.id,
                    code: f.code.clone(),
                    message: f.message.clone(),
                    retryable: f.retryable,
                    maybe_delivered: f.maybe_delivered,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(ids: &[u64]) -> wit::Deliveries {
        let mut pack = wit::Deliveries::empty();
        for &id in ids {
            pack.push(id, &format!("shardId-{}", id % 2), &format!("49{id}"));
        }
        pack
    }

    #[test]
    fn deliveries_of_pending_ids_are_checked_off_and_kept_packed() {
        let mut pending: Pending = [1, 2, 3].into_iter().collect();
        let (kept, unknown) = check_off(&mut pending, pack(&[1, 2]));
        assert_eq!((kept.ids.clone(), unknown), (vec![1, 2], 0));
        assert_eq!(kept.iter().nth(1), Some((2, "shardId-0", "492")));
        assert_eq!(pending.drain_sorted(), [3]);
    }

    #[test]
    fn unknown_and_repeated_ids_are_dropped_from_the_pack_and_counted() {
        let mut pending: Pending = [1, 2, 3, 4].into_iter().collect();
        let (kept, unknown) = check_off(&mut pending, pack(&[1, 9, 2, 2, 3]));
        assert_eq!(unknown, 2, "9 was never pushed; 2 came twice");
        assert!(kept.is_consistent());
        assert_eq!(
            kept.iter().collect::<Vec<_>>(),
            [
                (1, "shardId-1", "491"),
                (2, "shardId-0", "492"),
                (3, "shardId-1", "493")
            ]
        );
        assert_eq!(pending.drain_sorted(), [4]);
    }
}
