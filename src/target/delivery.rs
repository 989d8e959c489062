//! The send side of a target: collecting answers, starting requests while
//! `max_in_flight` allows, and deciding what a failed attempt becomes (a
//! retry behind a backoff, a wait for the next run, or a final failure).

use super::exchange::{self, Attempted, Entry, Outbound, Waiting};
use super::{NEXT_RUN, Runs, Target};
use crate::encode::PUT_RECORDS_TARGET;
use crate::report::{Failure, Outcome, codes, is_expired_token_code};
use crate::response::RecordResult;
use crate::retry::is_ambiguous;
use crate::send::{Clock, Log, Transport};
use std::time::Duration;

impl<T: Transport, C: Clock, L: Log> Target<T, C, L> {
    /// When work falls due that needs no new events: an answer (bounded by
    /// the timeout) or a retry's backoff. After `pump`, a closed batch only
    /// ever waits for one of those, so it needs no wake of its own.
    pub(super) fn next_wake(&self, now: Duration) -> Option<Duration> {
        // A due retry with every slot taken waits for an answer, not for time.
        let slot_free = self.in_flight.len() < self.config.max_in_flight;
        let retry = self
            .retries
            .iter()
            .map(|o| o.not_before)
            .filter(|at| slot_free && *at != NEXT_RUN)
            .min();
        let answer = (!self.in_flight.is_empty()).then(|| now + self.config.timeout);
        // A scheduled run matters only when it has something to send.
        let held = !self.batcher.is_empty() || !self.retries.is_empty();
        let run = self
            .runs
            .as_ref()
            .filter(|_| held && self.scheduled())
            .and_then(Runs::next);
        retry.into_iter().chain(answer).chain(run).chain(self.batch_due()).min()
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
        let exchanges: Vec<&T::Exchange> = self.in_flight.iter().map(|(_, e)| e).collect();
        self.transport.wait(&exchanges, max);
    }

    /// Collects ended exchanges, then starts what is due while slots are free.
    pub(super) fn pump(&mut self) {
        let mut i = 0;
        while i < self.in_flight.len() {
            match self.transport.progress(&mut self.in_flight[i].1) {
                Some(exchanged) => {
                    let (outbound, _) = self.in_flight.remove(i);
                    let attempted = exchange::read(self.config.protocol, outbound.items.len(), exchanged);
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
        while self.in_flight.len() < self.config.max_in_flight {
            let next = if let Some(due) = self.retries.iter().position(|o| o.not_before <= now) {
                self.retries.remove(due).expect("position is in range")
            } else if self.config.max_in_flight == 1 && !self.retries.is_empty() {
                // One request at a time keeps order: nothing newer overtakes a waiting retry.
                break;
            } else if self.batcher.has_ready() && self.may_send_fresh() {
                Outbound::fresh(self.batcher.pop_ready().expect("has_ready"))
            } else {
                break;
            };
            self.start(next, now);
        }
        let in_flight = self.in_flight.len();
        if let Some(runs) = self.runs.as_mut().filter(|r| !self.flushing && r.done(in_flight)) {
            runs.end(now, self.clock.now());
        }
    }

    /// SPEC 5: a cron minute that passed while nothing was held was an
    /// empty run; what is pushed now waits for the next one.
    pub(super) fn skip_missed_run(&mut self) {
        if !self.scheduled() || !self.batcher.is_empty() || !self.retries.is_empty() {
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
        self.release_retries_for_run(now);
    }

    /// Retries that waited for a scheduled run (or a flush) are due `now`.
    pub(super) fn release_retries_for_run(&mut self, now: Duration) {
        self.retries
            .iter_mut()
            .filter(|o| o.not_before == NEXT_RUN)
            .for_each(|o| o.not_before = now);
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
        if outbound.attempts > 0 {
            self.stats.retries += outbound.events() as u64;
            let ambiguous = outbound.items.iter().filter(|w| w.ambiguous);
            self.stats.ambiguous_retries += ambiguous.map(|w| w.entry.events() as u64).sum::<u64>();
        }
        outbound.attempts += 1;
        outbound.first_attempt.get_or_insert(now);
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
                let attempted = exchange::read(self.config.protocol, outbound.items.len(), Err(e));
                self.finish(outbound, attempted);
            }
        }
    }

    /// Settles what an attempt delivered or failed for good; queues the
    /// retryable rest behind a backoff while the retry budget allows. An
    /// aggregate's outcome is each of its events'.
    fn finish(&mut self, outbound: Outbound, mut attempted: Attempted) {
        let now = self.clock.monotonic();
        self.refresh_if_expired(&mut attempted);
        let mut again = Vec::new();
        let mut misplaced = Vec::new();
        for (item, result) in outbound.items.into_iter().zip(attempted.results) {
            match result {
                RecordResult::Delivered {
                    shard_id,
                    sequence_number,
                } => match item.entry {
                    Entry::Plain(record) => self.settle(
                        record.id,
                        record.data.len(),
                        Outcome::Delivered {
                            shard_id,
                            sequence_number,
                        },
                    ),
                    Entry::Packed(aggregate) => {
                        misplaced.extend(self.deliver_packed(aggregate, shard_id, sequence_number));
                    }
                },
                RecordResult::Failed(f) if f.retryable => {
                    let ambiguous = is_ambiguous(&f, attempted.ambiguous);
                    again.push(Waiting {
                        ambiguous,
                        maybe_delivered: item.maybe_delivered || ambiguous,
                        entry: item.entry,
                        failure: Some(f),
                    })
                }
                RecordResult::Failed(mut f) => {
                    f.maybe_delivered = item.maybe_delivered || is_ambiguous(&f, attempted.ambiguous);
                    self.fail(item.entry, f);
                }
            }
        }
        if !misplaced.is_empty() {
            // In the stream already, in a shard whose consumers may skip them.
            let failure = Failure::target(
                codes::SHARD_MISMATCH,
                "the aggregate landed on a shard that does not hold this event's hash key \
                 (the stream was resharded); it is in that shard, where the KCL skips it",
                true,
            );
            again.extend(self.repack(misplaced).into_iter().map(|aggregate| Waiting {
                entry: Entry::new(aggregate),
                failure: Some(Failure {
                    maybe_delivered: true,
                    ..failure.clone()
                }),
                ambiguous: true,
                maybe_delivered: true,
            }));
        }
        if again.is_empty() {
            return;
        }
        let first = outbound.first_attempt.unwrap_or(now);
        let attempts = outbound.attempts;
        // SPEC 5: a scheduled run's failures wait for the next run, not a backoff;
        // `max_retries` still bounds them, `retry_max_duration` does not.
        let (not_before, elapsed) = if self.scheduled() {
            (NEXT_RUN, Duration::ZERO)
        } else {
            let delay = self.backoff.delay(outbound.attempts);
            (now + delay, (now + delay).saturating_sub(first))
        };
        if self.backoff.allows(outbound.attempts, elapsed) {
            // What failed of one request fits one, unless events of a
            // misplaced aggregate were packed anew: cut by the limits.
            let mut items = Vec::new();
            let mut bytes = 0;
            for item in again {
                let size = match &item.entry {
                    Entry::Plain(record) => self.batcher.record_size(record),
                    Entry::Packed(aggregate) => aggregate.size(),
                };
                if items.len() >= self.config.max_events || bytes + size > self.config.max_request_size {
                    self.retries
                        .push_back(Outbound::again(std::mem::take(&mut items), attempts, first, not_before));
                    bytes = 0;
                }
                bytes += size;
                items.push(item);
            }
            self.retries
                .push_back(Outbound::again(items, attempts, first, not_before));
            return;
        }
        for item in again {
            let mut failure = item
                .failure
                .unwrap_or_else(|| Failure::target(codes::HTTP_ERROR, "no result", true));
            failure.message = format!("{} (after {attempts} attempts)", failure.message);
            failure.maybe_delivered = item.maybe_delivered;
            self.fail(item.entry, failure);
        }
    }

    /// Settles each event of `entry` as failed.
    fn fail(&mut self, entry: Entry, failure: Failure) {
        match entry {
            Entry::Plain(record) => self.settle(record.id, record.data.len(), Outcome::Failed(failure)),
            Entry::Packed(aggregate) => {
                for (record, _) in aggregate.into_records() {
                    self.settle(record.id, record.data.len(), Outcome::Failed(failure.clone()));
                }
            }
        }
    }

    /// Kinesis said the session token expired: with credentials from a
    /// provider, fetch new ones and send the records again instead of failing them.
    fn refresh_if_expired(&mut self, attempted: &mut Attempted) {
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
