//! One configured target: takes events, batches them, keeps up to
//! `max_in_flight` PutRecords requests going, re-sends retryable failures
//! after a backoff, and settles one outcome per event.
//!
//! Nothing here blocks except [`Target::poll`] (up to the wait it is given)
//! and [`Target::flush`]: `push` starts requests and returns.

use crate::batch::{Batch, BatchLimits, Batcher, Record};
use crate::config::TargetConfig;
use crate::encode::PutRecordsEncoder;
use crate::normalize::{self, FieldFormat, Normalized};
use crate::partition_key::DEFAULT_KEY;
use crate::report::{EventOutcome, Failure, Outcome, Report, codes};
use crate::response::RecordResult;
use crate::retry::{Backoff, is_ambiguous};
use crate::send::{Clock, Log, Transport};
use crate::sign::Signer;
use crate::stats::Stats;
use std::collections::VecDeque;
use std::time::Duration;

mod exchange;
mod schedule;
use exchange::{Attempted, Outbound, Waiting};
use schedule::Runs;

/// `not_before` of a retry that waits for the next scheduled run.
const NEXT_RUN: Duration = Duration::MAX;

/// A configured `amazonkinesis` target and the events it holds.
pub struct Target<T: Transport, C, L> {
    config: TargetConfig,
    encoder: PutRecordsEncoder,
    signer: Signer,
    batcher: Batcher,
    backoff: Backoff,
    /// Retryable failures waiting for their backoff, oldest first.
    retries: VecDeque<Outbound>,
    in_flight: Vec<(Outbound, T::Exchange)>,
    /// Event bytes held anywhere in the target: what `max_buffer_size` caps.
    held_bytes: usize,
    /// SPEC 5: the run clock when `interval` is set; `None` is realtime.
    runs: Option<Runs>,
    /// A flush sends everything now, whatever the schedule.
    flushing: bool,
    /// Feeds `{{random}}` partition keys.
    key_seed: u64,
    transport: T,
    clock: C,
    log: L,
    /// Settled outcomes not yet handed to the host.
    report: Report,
    stats: Stats,
}

impl<T: Transport, C: Clock, L: Log> Target<T, C, L> {
    pub fn new(config: TargetConfig, transport: T, clock: C, log: L) -> Self {
        let seed = clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let runs = config.interval.map(|every| Runs::new(every, clock.monotonic()));
        Self {
            runs,
            flushing: false,
            key_seed: seed | 1,
            encoder: encoder(&config),
            signer: Signer::new(&config.credentials, &config.region),
            batcher: Batcher::new(limits(&config)),
            backoff: Backoff::new(config.retry, seed),
            config,
            retries: VecDeque::new(),
            in_flight: Vec::new(),
            held_bytes: 0,
            transport,
            clock,
            log,
            report: Report::default(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// Makes `config` current. Held events are first delivered under the
    /// configuration they were accepted with; their outcomes stay pending.
    pub fn reconfigure(&mut self, config: TargetConfig) {
        self.flush();
        self.encoder = encoder(&config);
        self.signer = Signer::new(&config.credentials, &config.region);
        self.batcher = Batcher::new(limits(&config));
        self.backoff = Backoff::new(config.retry, self.clock.monotonic().as_nanos() as u64);
        self.runs = config.interval.map(|every| Runs::new(every, self.clock.monotonic()));
        self.config = config;
    }

    /// Takes events from the front while `max_buffer_size` allows, then
    /// collects answers and starts what is due. Returns how many it took.
    pub fn push(&mut self, events: impl IntoIterator<Item = Record>) -> usize {
        let mut taken = 0;
        let mut events = events.into_iter();
        for mut record in events.by_ref() {
            if !self.config.enabled {
                self.log_event(&record);
                self.hand_back(record);
                taken += 1;
                continue;
            }
            // SPEC 6: the event as it came, before any processing.
            let line = self.config.debug.log_events.then(|| event_line(&record));
            // Before the size checks: the limits apply to what is sent.
            if let Some(format) = self.config.field_format {
                self.normalize(&mut record, format);
            }
            // An empty target always takes one event, so progress never stalls.
            if self.held_bytes > 0 && self.held_bytes + record.data.len() > self.config.max_buffer_size {
                self.stats.events_refused += 1;
                // The open batch may never fill now: let it go as it is.
                self.batcher.close();
                break;
            }
            taken += 1;
            self.stats.events_accepted += 1;
            if let Some(line) = line {
                self.log.log(&self.config.name, &line);
            }
            if self.config.debug.dont_send {
                let failure = Failure::target(
                    codes::DONT_SEND_LOGS,
                    "debug.dont_send_logs: logged, deliberately not sent",
                    false,
                );
                self.settle(record.id, 0, Outcome::Failed(failure));
                continue;
            }
            if self.config.partition_key.as_static().is_none() {
                record.partition_key = Some(self.config.partition_key.render(&record.data, &mut self.key_seed));
            }
            let size = self.batcher.record_size(&record);
            if size > self.config.max_record_size {
                let message = format!(
                    "record is {size} bytes (data {} + partition key {}), over max_record_size {}",
                    record.data.len(),
                    size - record.data.len(),
                    self.config.max_record_size
                );
                let failure = Failure::target(codes::RECORD_TOO_LARGE, message, false);
                self.settle(record.id, 0, Outcome::Failed(failure));
                continue;
            }
            self.held_bytes += record.data.len();
            self.batcher.add(record);
            if self.batcher.has_ready() && self.in_flight.len() < self.config.max_in_flight {
                self.pump();
            }
        }
        self.stats.events_refused += events.count() as u64;
        self.report.accepted += taken as u32;
        self.pump();
        taken
    }

    /// Makes progress without new events: waits up to `wait` for an answer
    /// or a due retry, and returns once something settled or the wait is over.
    pub fn poll(&mut self, wait: Duration) {
        let deadline = self.clock.monotonic() + wait;
        let settled = self.report.outcomes.len();
        self.pump();
        while self.report.outcomes.len() == settled {
            let now = self.clock.monotonic();
            let Some(next) = self.next_wake(now) else { break };
            if now >= deadline {
                break;
            }
            self.wait(next.min(deadline) - now);
            self.pump();
        }
    }

    /// Sends everything held, whatever the schedule, and waits until every
    /// event has an outcome. For a scheduled target this counts as a run.
    pub fn flush(&mut self) {
        self.flushing = true;
        self.batcher.close();
        let now = self.clock.monotonic();
        self.retries
            .iter_mut()
            .filter(|o| o.not_before == NEXT_RUN)
            .for_each(|o| o.not_before = now);
        self.pump();
        while let Some(next) = self.next_wake(self.clock.monotonic()) {
            let now = self.clock.monotonic();
            self.wait(next.saturating_sub(now));
            self.pump();
        }
        self.flushing = false;
        let now = self.clock.monotonic();
        if let Some(runs) = &mut self.runs {
            runs.end(now);
        }
    }

    /// Whether sending waits for scheduled runs right now.
    fn scheduled(&self) -> bool {
        self.runs.is_some() && !self.flushing
    }

    /// Counters since the target was created, and what it holds now.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.in_flight_requests = self.in_flight.len() as u64;
        stats.in_flight_events = self.in_flight.iter().map(|(o, _)| o.items.len() as u64).sum();
        stats.buffered_events = (self.batcher.len() + self.waiting_retries()) as u64;
        stats.buffered_bytes = self.held_bytes as u64;
        stats
    }

    /// Events accepted and not settled yet.
    pub fn pending(&self) -> usize {
        let in_flight: usize = self.in_flight.iter().map(|(o, _)| o.items.len()).sum();
        self.batcher.len() + self.waiting_retries() + in_flight
    }

    /// Events buffered and not yet sent (retries waiting included).
    pub fn buffered(&self) -> usize {
        self.batcher.len() + self.waiting_retries()
    }

    /// Hands over what was settled since the last report.
    pub fn take_report(&mut self) -> Report {
        let now = self.clock.monotonic();
        self.report.pending = self.pending() as u32;
        self.report.poll_after = self.next_wake(now).map(|at| at.saturating_sub(now));
        std::mem::take(&mut self.report)
    }

    fn waiting_retries(&self) -> usize {
        self.retries.iter().map(|o| o.items.len()).sum()
    }

    /// When work falls due that needs no new events: an answer (bounded by
    /// the timeout) or a retry's backoff. After `pump`, a closed batch only
    /// ever waits for one of those, so it needs no wake of its own.
    fn next_wake(&self, now: Duration) -> Option<Duration> {
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
        retry.into_iter().chain(answer).chain(run).min()
    }

    fn wait(&mut self, max: Duration) {
        let exchanges: Vec<&T::Exchange> = self.in_flight.iter().map(|(_, e)| e).collect();
        self.transport.wait(&exchanges, max);
    }

    fn log_event(&self, record: &Record) {
        if self.config.debug.log_events {
            self.log.log(&self.config.name, &event_line(record));
        }
    }

    /// A disabled target never eats events: each one comes straight back.
    fn hand_back(&mut self, record: Record) {
        self.stats.events_accepted += 1;
        let message = format!(
            "target {} is disabled (status: false); nothing is sent",
            self.config.name
        );
        let failure = Failure::target(codes::TARGET_DISABLED, message, false);
        self.settle(record.id, 0, Outcome::Failed(failure));
    }

    /// SPEC 4: renames the event's fields to `format`.
    fn normalize(&mut self, record: &mut Record, format: FieldFormat) {
        match normalize::normalize(&record.data, format) {
            Normalized::Renamed(data) => record.data = data,
            Normalized::Unchanged => {}
            Normalized::NotAnObject => self.stats.normalize_passthrough += 1,
        }
    }

    /// Records one event's outcome; `held` bytes are released.
    fn settle(&mut self, id: u64, held: usize, outcome: Outcome) {
        self.held_bytes -= held;
        match &outcome {
            Outcome::Delivered { .. } => self.stats.delivered += 1,
            Outcome::Failed(f) => self.stats.count_failure(&f.code),
        }
        self.report.outcomes.push(EventOutcome { id, outcome });
    }

    /// Collects ended exchanges, then starts what is due while slots are free.
    fn pump(&mut self) {
        let mut i = 0;
        while i < self.in_flight.len() {
            match self.transport.progress(&mut self.in_flight[i].1) {
                Some(exchanged) => {
                    let (outbound, _) = self.in_flight.remove(i);
                    let attempted = exchange::read(outbound.items.len(), exchanged);
                    self.finish(outbound, attempted);
                }
                None => i += 1,
            }
        }
        let now = self.clock.monotonic();
        self.begin_run_if_due(now);
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
        if let Some(runs) = self.runs.as_mut().filter(|_| !self.flushing) {
            runs.end_if_done(now, in_flight);
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
            self.stats.retries += outbound.items.len() as u64;
            self.stats.ambiguous_retries += outbound.items.iter().filter(|w| w.ambiguous).count() as u64;
        }
        outbound.attempts += 1;
        outbound.first_attempt.get_or_insert(now);
        let records: Vec<&Record> = outbound.items.iter().map(|w| &w.record).collect();
        let body = self.encoder.encode(&records);
        let request = match exchange::signed_request(&self.config, &self.signer, body, self.clock.now()) {
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
                let attempted = exchange::read(outbound.items.len(), Err(e));
                self.finish(outbound, attempted);
            }
        }
    }

    /// Settles what an attempt delivered or failed for good; queues the
    /// retryable rest behind a backoff while the retry budget allows.
    fn finish(&mut self, outbound: Outbound, attempted: Attempted) {
        let now = self.clock.monotonic();
        let mut again = Vec::new();
        for (item, result) in outbound.items.into_iter().zip(attempted.results) {
            let held = item.record.data.len();
            match result {
                RecordResult::Delivered {
                    shard_id,
                    sequence_number,
                } => self.settle(
                    item.record.id,
                    held,
                    Outcome::Delivered {
                        shard_id,
                        sequence_number,
                    },
                ),
                RecordResult::Failed(f) if f.retryable => {
                    let ambiguous = is_ambiguous(&f, attempted.ambiguous);
                    again.push(Waiting {
                        ambiguous,
                        maybe_delivered: item.maybe_delivered || ambiguous,
                        record: item.record,
                        failure: Some(f),
                    })
                }
                RecordResult::Failed(mut f) => {
                    f.maybe_delivered = item.maybe_delivered || is_ambiguous(&f, attempted.ambiguous);
                    self.settle(item.record.id, held, Outcome::Failed(f));
                }
            }
        }
        if again.is_empty() {
            return;
        }
        let first = outbound.first_attempt.unwrap_or(now);
        // SPEC 5: a scheduled run's failures wait for the next run, not a backoff;
        // `max_retries` still bounds them, `retry_max_duration` does not.
        let (not_before, elapsed) = if self.scheduled() {
            (NEXT_RUN, Duration::ZERO)
        } else {
            let delay = self.backoff.delay(outbound.attempts);
            (now + delay, (now + delay).saturating_sub(first))
        };
        if self.backoff.allows(outbound.attempts, elapsed) {
            self.retries.push_back(Outbound {
                items: again,
                attempts: outbound.attempts,
                first_attempt: Some(first),
                not_before,
            });
            return;
        }
        let attempts = outbound.attempts;
        for item in again {
            let mut failure = item
                .failure
                .unwrap_or_else(|| Failure::target(codes::HTTP_ERROR, "no result", true));
            failure.message = format!("{} (after {attempts} attempts)", failure.message);
            failure.maybe_delivered = item.maybe_delivered;
            self.settle(item.record.id, item.record.data.len(), Outcome::Failed(failure));
        }
    }
}

/// Longest event content a debug line shows.
const MAX_LOGGED_BYTES: usize = 4096;

/// `event 7: {"msg":"hi"}`: one line, control characters escaped, long content cut.
fn event_line(record: &Record) -> String {
    let shown = &record.data[..record.data.len().min(MAX_LOGGED_BYTES)];
    let mut line = format!("event {}: ", record.id);
    for c in String::from_utf8_lossy(shown).chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => line.push('?'),
            c => line.push(c),
        }
    }
    if record.data.len() > shown.len() {
        line.push_str(&format!(" ... ({} bytes in all)", record.data.len()));
    }
    line
}

fn limits(config: &TargetConfig) -> BatchLimits {
    BatchLimits {
        max_events: config.max_events,
        max_request_size: config.max_request_size,
        partition_key_len: config.partition_key.as_static().map_or(0, str::len),
    }
}

fn encoder(config: &TargetConfig) -> PutRecordsEncoder {
    // With a dynamic key every record carries its own; the static one is unused.
    let key = config.partition_key.as_static().unwrap_or(DEFAULT_KEY);
    PutRecordsEncoder::new(&config.stream, key, config.explicit_hash_key.as_deref())
}

impl Outbound {
    fn fresh(batch: Batch) -> Self {
        Self {
            items: batch
                .records
                .into_iter()
                .map(|record| Waiting {
                    record,
                    failure: None,
                    ambiguous: false,
                    maybe_delivered: false,
                })
                .collect(),
            attempts: 0,
            first_attempt: None,
            not_before: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests;
