//! The send side of a target: collecting answers, starting requests from
//! the shards' lanes while `max_in_flight` and each shard's budget allow,
//! and deciding what a failed attempt becomes (a retry behind the shard's
//! budget or a backoff, a wait for the next run, or a final failure).

use super::exchange::{self, Attempted, Entry, Outbound, Waiting};
use super::{Runs, Target, grouping, held_size};
use crate::aggregate;
use crate::batch::Batch;
use crate::encode::PUT_RECORDS_TARGET;
use crate::partition_key::DEFAULT_KEY;
use crate::report::{Failure, codes, is_credentials_code, is_expired_token_code, is_throttle};
use crate::response::RecordResult;
use crate::retry::is_ambiguous;
use crate::send::{Clock, Log, Transport};
use std::time::Duration;

/// Attempts of records whose credentials could not be had (the provider's own
/// timeouts and retries come on top).
const CREDENTIAL_ATTEMPTS: u32 = 4;

impl<T: Transport, C: Clock, L: Log> Target<T, C, L> {
    /// When work falls due that needs no new events: an answer (bounded by
    /// the timeout), a lane's budget or backoff, a scheduled run, an open
    /// batch's `batch_timeout`. After `pump`, a closed batch only ever waits
    /// for one of those, so it needs no wake of its own.
    pub(super) fn next_wake(&mut self, now: Duration) -> Option<Duration> {
        // A lane that may send with every slot taken waits for an answer, not for time.
        let slot_free = self.in_flight.len() < self.max_concurrent();
        let lane = match slot_free && !self.awaiting_first_map() {
            true => self.lanes.next_ready(now).map(|at| at.max(self.gate.until)),
            false => None,
        };
        let answer = (!self.in_flight.is_empty()).then(|| now + self.config.timeout);
        let listing = self.listing.is_some().then(|| now + crate::shards::TIMEOUT);
        // A scheduled run matters only when it has something to send.
        let held = !self.batcher.is_empty() || !self.next_run.is_empty() || !self.lanes.is_empty();
        let run = self
            .runs
            .as_ref()
            .filter(|_| held && self.scheduled())
            .and_then(Runs::next);
        lane.into_iter()
            .chain(answer)
            .chain(listing)
            .chain(run)
            .chain(self.batch_due())
            .min()
    }

    /// The first shard map is a few milliseconds away: sending before it
    /// would be unpaced, so lanes wait for it. Its timeout bounds the wait.
    fn awaiting_first_map(&self) -> bool {
        self.listing.is_some() && self.lanes.generation().is_none()
    }

    /// Requests at once: `max_in_flight`, or one probe while the stream fails whole requests.
    fn max_concurrent(&self) -> usize {
        match self.gate.failures {
            0 => self.config.max_in_flight,
            _ => 1,
        }
    }

    /// Starts `batch_timeout`'s clock when an event opens a batch.
    pub(super) fn note_open_batch(&mut self) {
        match self.batcher.open_events() {
            0 => self.open_since = None,
            1 => self.open_since = Some(self.clock.monotonic()),
            _ => {}
        }
    }

    /// When a realtime target's open batch is due to go though not full.
    fn batch_due(&self) -> Option<Duration> {
        let timeout = self.config.batch_timeout.filter(|_| self.runs.is_none())?;
        let since = self.open_since.filter(|_| self.batcher.open_events() > 0)?;
        Some(since + timeout)
    }

    pub(super) fn wait(&mut self, max: Duration) {
        let mut exchanges: Vec<&T::Exchange> = self.in_flight.iter().map(|(_, e)| e).collect();
        exchanges.extend(self.listing.as_ref().map(grouping::Listing::exchange));
        self.transport.wait(&exchanges, max);
    }

    /// Collects ended exchanges, then starts what is due while slots are free.
    pub(super) fn pump(&mut self) {
        self.progress_listing();
        let mut i = 0;
        while i < self.in_flight.len() {
            match self.transport.progress(&mut self.in_flight[i].1) {
                Some(exchanged) => {
                    let (outbound, _) = self.in_flight.remove(i);
                    let attempted = exchange::read(self.config.protocol, outbound.items.len(), &exchanged);
                    self.finish(outbound, attempted);
                }
                None => i += 1,
            }
        }
        let now = self.clock.monotonic();
        self.begin_run_if_due(now);
        if self.batch_due().is_some_and(|due| now >= due) {
            self.batcher.close();
            self.open_since = None;
        }
        while self.batcher.has_ready() && self.may_send_fresh() {
            let batch = self.batcher.pop_ready().expect("has_ready");
            self.enqueue(batch);
        }
        self.expire_waiting(now);
        self.lanes.tick(now);
        let first_map = self.awaiting_first_map();
        while self.in_flight.len() < self.max_concurrent() && now >= self.gate.until && !first_map {
            let items = self
                .lanes
                .take(self.config.max_events, self.config.max_request_size, now);
            if items.is_empty() {
                break;
            }
            self.start(Outbound { items }, now);
        }
        let busy = self.in_flight.len() + self.lanes.len();
        if let Some(runs) = self.runs.as_mut().filter(|r| !self.flushing && r.done(busy)) {
            runs.end(now, self.clock.now());
        }
    }

    /// A closed batch's records join their shards' lanes.
    fn enqueue(&mut self, batch: Batch) {
        let hashed = self.shards.is_some();
        for record in batch.records {
            let size = self.batcher.record_size(&record);
            let hash = match hashed {
                true => aggregate::hash_key(record.partition_key.as_deref().unwrap_or(DEFAULT_KEY)),
                false => 0,
            };
            self.lanes.push_back(Waiting::new(Entry::Plain(record), hash, size));
        }
        for aggregate in batch.aggregates {
            let hash = aggregate.placement().hash_key;
            let size = aggregate.size();
            self.lanes.push_back(Waiting::new(Entry::new(aggregate), hash, size));
        }
    }

    /// Fails what waits past its time bound (at most once a second: the
    /// bound is in seconds, and the check walks every lane). SPEC 5: a
    /// scheduled target's retries wait for runs, which `retry_max_duration`
    /// does not bound; `max_retries` does, where set.
    fn expire_waiting(&mut self, now: Duration) {
        if now < self.next_expiry_check || self.runs.is_some() {
            return;
        }
        self.next_expiry_check = now + Duration::from_secs(1);
        let backoff = &self.backoff;
        let expired = self.lanes.remove_where(|w| {
            w.first_attempt
                .is_some_and(|first| !backoff.allows(0, now.saturating_sub(first)))
        });
        for item in expired {
            self.give_up(item);
        }
    }

    /// SPEC 5: a cron minute that passed while nothing was held was an
    /// empty run; what is pushed now waits for the next one.
    pub(super) fn skip_missed_run(&mut self) {
        if !self.scheduled() || !self.batcher.is_empty() || !self.next_run.is_empty() || !self.lanes.is_empty() {
            return;
        }
        let now = self.clock.monotonic();
        if let Some(runs) = self.runs.as_mut().filter(|r| r.missed(now)) {
            runs.end(now, self.clock.now());
        }
    }

    /// SPEC 5: a due run drains what is queued now, retries waiting for it included.
    fn begin_run_if_due(&mut self, now: Duration) {
        if !self.scheduled() || !self.runs.as_ref().is_some_and(|r| r.due(now)) {
            return;
        }
        self.batcher.close();
        let batches = self.batcher.ready_len();
        if let Some(runs) = &mut self.runs {
            runs.begin(batches);
        }
        self.release_retries_for_run();
    }

    /// Retries that waited for a scheduled run (or a flush) go back to their lanes.
    pub(super) fn release_retries_for_run(&mut self) {
        let waited = std::mem::take(&mut self.next_run);
        self.lanes.push_front(waited, None);
    }

    /// Whether a new batch may go out now: always in realtime, within the
    /// current run's allowance when scheduled.
    fn may_send_fresh(&mut self) -> bool {
        match &mut self.runs {
            Some(runs) if !self.flushing => runs.take_batch(),
            _ => true,
        }
    }

    /// Encodes, signs and hands one request to the transport.
    fn start(&mut self, mut outbound: Outbound, now: Duration) {
        for item in &mut outbound.items {
            if item.attempts > 0 {
                self.stats.retries += item.entry.events() as u64;
                if item.ambiguous {
                    self.stats.ambiguous_retries += item.entry.events() as u64;
                }
            }
            item.attempts += 1;
            item.first_attempt.get_or_insert(now);
        }
        let signer = match self.credentials.signer(&mut self.transport, &self.clock) {
            Ok(signer) => signer,
            Err(failure) => {
                let sent = outbound.items.len();
                return self.finish(outbound, Attempted::failed(sent, failure, false));
            }
        };
        let body = exchange::body(&self.encoder, &outbound.items);
        let request = match exchange::signed_request(
            &self.config,
            signer,
            (PUT_RECORDS_TARGET, self.config.protocol),
            body,
            self.clock.now(),
        ) {
            Ok(request) => request,
            Err(failure) => {
                let sent = outbound.items.len();
                return self.finish(outbound, Attempted::failed(sent, failure, false));
            }
        };
        self.report.requests += 1;
        self.report.bytes_sent += request.body.len() as u64;
        self.stats.requests += 1;
        self.stats.bytes_sent += request.body.len() as u64;
        match self.transport.start(request) {
            Ok(exchange) => self.in_flight.push((outbound, exchange)),
            Err(e) => {
                let failed = Err(e);
                let attempted = exchange::read(self.config.protocol, outbound.items.len(), &failed);
                self.finish(outbound, attempted);
            }
        }
    }

    /// Settles what an attempt delivered or failed for good, and puts the
    /// retryable rest back at the front of their lanes: behind the stream's
    /// backoff when the request failed whole, behind the shard's budget when
    /// it throttled, behind a backoff of their own otherwise. What is out of
    /// time (`retry_max_duration`, `max_retries`) fails with its last reason.
    /// An aggregate's outcome is each of its events'.
    fn finish(&mut self, outbound: Outbound, mut attempted: Attempted<'_>) {
        let now = self.clock.monotonic();
        self.refresh_if_expired(&mut attempted);
        let retryable_whole = attempted.whole
            && attempted
                .results
                .first()
                .is_some_and(|r| matches!(r, RecordResult::Failed(f) if f.retryable));
        if retryable_whole {
            self.gate.failures += 1;
            self.gate.until = now + self.backoff.delay(self.gate.failures);
        } else if !attempted.whole {
            self.gate.failures = 0;
        }
        let mut again = Vec::new();
        let mut misplaced = Vec::new();
        let mut backoff = false;
        let mut stale_map = None;
        for (mut item, result) in outbound.items.into_iter().zip(attempted.results) {
            match result {
                RecordResult::Delivered {
                    shard_id,
                    sequence_number,
                } => {
                    if !self.lanes.accepted(item.hash, &shard_id, item.size) {
                        stale_map = self.lanes.generation();
                    }
                    match item.entry {
                        Entry::Plain(record) => {
                            let held = held_size(&record);
                            self.settle_delivered(record.id, held, &shard_id, &sequence_number)
                        }
                        Entry::Packed(aggregate) => {
                            misplaced.extend(self.deliver_packed(*aggregate, &shard_id, &sequence_number));
                        }
                    }
                }
                RecordResult::Failed(f) if f.retryable => {
                    if is_throttle(&f.code) {
                        self.stats.throttled += 1;
                        self.lanes.throttled(item.hash, now);
                        backoff |= self.config.pacing.is_none();
                    } else {
                        backoff |= !attempted.whole;
                    }
                    item.ambiguous = is_ambiguous(&f, attempted.ambiguous);
                    item.maybe_delivered |= item.ambiguous;
                    item.failure = Some(Box::new(f));
                    again.push(item);
                }
                RecordResult::Failed(mut f) => {
                    f.maybe_delivered = item.maybe_delivered || is_ambiguous(&f, attempted.ambiguous);
                    self.fail(item.entry, f);
                }
            }
        }
        if let Some(generation) = stale_map {
            self.shard_map_stale(generation);
        }
        if !misplaced.is_empty() {
            // In the stream already, in a shard whose consumers may skip them.
            let failure = Failure::target(
                codes::SHARD_MISMATCH,
                "the aggregate landed on a shard that does not hold this event's hash key \
                 (the stream was resharded); it is in that shard, where the KCL skips it",
                true,
            );
            for aggregate in self.repack(misplaced) {
                let (hash, size) = (aggregate.placement().hash_key, aggregate.size());
                let mut item = Waiting::new(Entry::new(aggregate), hash, size);
                item.attempts = 1;
                item.first_attempt = Some(now);
                item.failure = Some(Box::new(Failure {
                    maybe_delivered: true,
                    ..failure.clone()
                }));
                item.ambiguous = true;
                item.maybe_delivered = true;
                again.push(item);
            }
        }
        let mut kept = Vec::with_capacity(again.len());
        let mut attempts = 0;
        for mut item in again {
            let elapsed = match self.runs {
                Some(_) => Duration::ZERO,
                None => now.saturating_sub(item.first_attempt.unwrap_or(now)),
            };
            // A credential provider that fails is asked a few times, not for
            // minutes: each ask blocks the call that makes it.
            let provider_down = item.failure.as_ref().is_some_and(|f| is_credentials_code(&f.code));
            if !self.backoff.allows(item.attempts, elapsed) || (provider_down && item.attempts > CREDENTIAL_ATTEMPTS) {
                self.give_up(item);
            } else {
                attempts = attempts.max(item.attempts);
                // It may wait a while: its batch's buffer need not wait with it.
                item.entry.own_data();
                kept.push(item);
            }
        }
        if kept.is_empty() {
            return;
        }
        // SPEC 5: a scheduled run's failures wait for the next run, not a backoff.
        if self.scheduled() {
            self.next_run.extend(kept);
            return;
        }
        let not_before = backoff.then(|| now + self.backoff.delay(attempts));
        self.lanes.push_front(kept, not_before);
    }

    /// Fails a record whose retries are over, with its last reason.
    fn give_up(&mut self, item: Waiting) {
        let mut failure = item
            .failure
            .map_or_else(|| Failure::target(codes::HTTP_ERROR, "no result", true), |f| *f);
        let secs = item
            .first_attempt
            .map_or(0, |first| self.clock.monotonic().saturating_sub(first).as_secs());
        failure.message = format!("{} (after {} attempts in {secs} s)", failure.message, item.attempts);
        failure.maybe_delivered = item.maybe_delivered;
        self.fail(item.entry, failure);
    }

    /// Settles each event of `entry` as failed.
    fn fail(&mut self, entry: Entry, failure: Failure) {
        match entry {
            Entry::Plain(record) => self.settle_failed(record.id, held_size(&record), failure),
            Entry::Packed(aggregate) => {
                for (record, _) in aggregate.into_records() {
                    self.settle_failed(record.id, held_size(&record), failure.clone());
                }
            }
        }
    }

    /// Kinesis said the session token expired: with credentials from a
    /// provider, fetch new ones and send the records again instead of failing them.
    fn refresh_if_expired(&mut self, attempted: &mut Attempted<'_>) {
        if !self.credentials.refreshes() {
            return;
        }
        let mut expired = false;
        for result in &mut attempted.results {
            if let RecordResult::Failed(f) = result
                && is_expired_token_code(&f.code)
            {
                f.retryable = true;
                expired = true;
            }
        }
        if expired {
            self.credentials.expire();
        }
    }
}
