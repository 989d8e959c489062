//! One configured target: takes events, batches them, keeps up to
//! `max_in_flight` PutRecords requests going, re-sends retryable failures
//! after a backoff, and settles one outcome per event.
//!
//! Nothing here blocks except [`Target::poll`] (up to the wait it is given)
//! and [`Target::flush`]: `push` starts requests and returns.
//!
//! Here: intake (`push`) and the calls a host makes. The send side is in
//! `delivery`, one attempt in `exchange`, scheduled runs in `schedule`; the
//! debug line is [`crate::debug`]'s.

use crate::aggregate::Packer;
use crate::batch::{BatchLimits, Batcher};
use crate::config::TargetConfig;
use crate::credentials::Provider;
use crate::debug::event_line;
use crate::encode::PutRecordsEncoder;
use crate::normalize::{self, FieldFormat, Normalized};
use crate::partition_key::DEFAULT_KEY;
use crate::record::{Pinned, Record, records_of_batch};
use crate::report::{EventOutcome, Failure, Outcome, OutcomeDetail, Report, codes};
use crate::retry::Backoff;
use crate::rng::{Draw, Rng, Stream};
use crate::send::{Clock, Log, Transport};
use crate::shards::Shards;
use crate::stats::Stats;
use std::time::Duration;

mod delivery;
mod exchange;
mod grouping;
mod lanes;
mod schedule;
use exchange::{Outbound, Waiting};
use grouping::Grouping;
use lanes::Lanes;
use schedule::Runs;

/// The stream's own backoff: after a request fails whole (an error status,
/// no connection), the next one waits, and only one goes at a time until
/// one is answered.
#[derive(Debug, Default)]
struct Gate {
    /// Whole requests failed in a row.
    failures: u32,
    /// Monotonic time before which no request starts.
    until: Duration,
}

/// What `max_buffer_size` counts for a record: its data and key, and what
/// holding it costs besides ([`crate::stats::EVENT_OVERHEAD`]).
fn held_size(record: &Record) -> usize {
    record.data.len() + record.partition_key.as_ref().map_or(0, String::len) + crate::stats::EVENT_OVERHEAD
}

/// A configured `amazonkinesis` target and the events it holds.
pub struct Target<T: Transport, C, L> {
    config: TargetConfig,
    encoder: PutRecordsEncoder,
    /// Signs with current credentials, fetched and refreshed as needed.
    credentials: Provider,
    batcher: Batcher,
    backoff: Backoff,
    /// Closed batches' records, per shard, waiting for a request.
    lanes: Lanes,
    /// Retryable failures of a scheduled run, waiting for the next run.
    next_run: Vec<Waiting>,
    gate: Gate,
    /// When `retry_max_duration` is next checked for records that wait.
    next_expiry_check: Duration,
    in_flight: Vec<(Outbound, T::Exchange)>,
    /// What the target holds, by [`held_size`]: what `max_buffer_size` caps.
    held_bytes: usize,
    /// Bytes `push-batch` buffers keep beyond their records still held:
    /// capped with `held_bytes`.
    pinned: Pinned,
    /// SPEC 5: the run clock when `interval` or `cron` is set; `None` is realtime.
    runs: Option<Runs>,
    /// A flush sends everything now, whatever the schedule.
    flushing: bool,
    /// When the open batch got its first event (monotonic), for `batch_timeout`.
    open_since: Option<Duration>,
    /// Feeds `{{random}}` partition keys.
    keys: Rng,
    /// With `aggregation`: which events may share a Kinesis record.
    grouping: Option<Grouping>,
    /// The shard map, when keys differ per event and pacing or aggregation use it.
    shards: Option<Shards>,
    /// A ListShards call under way.
    listing: Option<grouping::Listing<T::Exchange>>,
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
        let runs = Runs::for_config(&config, clock.monotonic(), clock.now());
        Self {
            runs,
            flushing: false,
            open_since: None,
            keys: Rng::new(seed, Stream::PARTITION_KEY),
            encoder: encoder(&config),
            credentials: Provider::new(config.credentials.clone(), &config.region, seed),
            batcher: batcher(&config),
            grouping: Grouping::new(&config),
            shards: grouping::wants_shard_map(&config).then(Shards::default),
            listing: None,
            lanes: lanes(&config, clock.monotonic()),
            next_run: Vec::new(),
            gate: Gate::default(),
            next_expiry_check: Duration::ZERO,
            backoff: Backoff::new(config.retry, seed),
            config,
            in_flight: Vec::new(),
            held_bytes: 0,
            pinned: Pinned::default(),
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
        // A fresh seed for the refresh jitter: any draw will do, its own stream remixes it.
        let seed = self.keys.next_u64();
        self.credentials = Provider::new(config.credentials.clone(), &config.region, seed);
        self.batcher = batcher(&config);
        self.grouping = Grouping::new(&config);
        self.shards = grouping::wants_shard_map(&config).then(Shards::default);
        self.listing = None;
        self.lanes = lanes(&config, self.clock.monotonic());
        self.gate = Gate::default();
        self.backoff = Backoff::new(config.retry, self.clock.monotonic().as_nanos() as u64);
        self.runs = Runs::for_config(&config, self.clock.monotonic(), self.clock.now());
        self.config = config;
    }

    /// [`Target::push`] for a packed batch (event `i`: `ids[i]`, the next
    /// `lengths[i]` bytes of `data`; the caller checked that they add up):
    /// its records share `data` instead of copying their bytes out.
    pub fn push_batch(&mut self, ids: &[u64], lengths: &[u32], data: Vec<u8>) -> usize {
        self.push(records_of_batch(ids, lengths, data, self.pinned.clone()))
    }

    /// Takes events from the front while `max_buffer_size` allows, then
    /// collects answers and starts what is due. Returns how many it took.
    /// The events' iterator knows its length, so the refused ones are
    /// counted without being made: under backpressure most offers are refused.
    pub fn push<I>(&mut self, events: I) -> usize
    where
        I: IntoIterator<Item = Record>,
        I::IntoIter: ExactSizeIterator,
    {
        self.skip_missed_run();
        let mut taken = 0;
        let mut events = events.into_iter();
        if self.config.enabled && !self.config.debug.dont_send {
            self.refresh_shards_if_due();
        }
        for record in events.by_ref() {
            if !self.take(record) {
                break;
            }
            taken += 1;
        }
        self.stats.events_refused += events.len() as u64;
        self.report.accepted += taken as u32;
        self.pump();
        taken
    }

    /// One event of [`Target::push`]; `false` when `max_buffer_size`
    /// refuses it. Out of the generic loop: each way of making records
    /// (`push`, `push-batch`) would otherwise carry its own copy.
    fn take(&mut self, mut record: Record) -> bool {
        if !self.config.enabled {
            self.log_event(&record);
            self.hand_back(record);
            return true;
        }
        // SPEC 6: the event as it came, before any processing.
        let line = self.config.debug.log_events.then(|| event_line(&record));
        // Before the size checks: the limits apply to what is sent.
        if let Some(format) = self.config.field_format {
            self.normalize(&mut record, format);
        }
        // An empty target always takes one event, so progress never stalls.
        let overhead = crate::stats::EVENT_OVERHEAD;
        if self.held_bytes > 0 && self.buffered_bytes() + record.data.len() + overhead > self.config.max_buffer_size {
            self.stats.events_refused += 1;
            // The open batch may never fill now: let it go as it is.
            self.batcher.close();
            return false;
        }
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
            self.settle_failed(record.id, 0, failure);
            return true;
        }
        if self.config.partition_key.as_static().is_none() {
            record.partition_key = Some(self.config.partition_key.render(&record.data, &mut self.keys));
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
            self.settle_failed(record.id, 0, failure);
            return true;
        }
        self.held_bytes += held_size(&record);
        match &self.grouping {
            Some(grouping) => {
                let placement = grouping.place(&record, self.shards.as_ref());
                self.batcher.add_placed(record, placement);
            }
            None => self.batcher.add(record),
        }
        self.note_open_batch();
        // Realtime: a full batch goes at once. Scheduled: not before the
        // whole call is taken, so a run that begins in it drains all of it.
        if self.batcher.has_ready() && !self.scheduled() {
            self.pump();
        }
        true
    }

    /// Makes progress without new events: waits up to `wait` for an answer
    /// or a due retry, and returns once something settled or the wait is over.
    pub fn poll(&mut self, wait: Duration) {
        let deadline = self.clock.monotonic() + wait;
        let settled = self.report.settled();
        // Even a zero wait asks the host which exchanges moved: wasmtime's
        // wasi-http hands over an answer only once its pollable was polled.
        if !self.in_flight.is_empty() || self.listing.is_some() {
            self.wait(Duration::ZERO);
        }
        self.pump();
        while self.report.settled() == settled {
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
        self.release_retries_for_run();
        self.pump();
        while let Some(next) = self.next_wake(self.clock.monotonic()) {
            let now = self.clock.monotonic();
            self.wait(next.saturating_sub(now));
            self.pump();
        }
        self.flushing = false;
        let now = self.clock.monotonic();
        if let Some(runs) = &mut self.runs {
            runs.end(now, self.clock.now());
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
        stats.in_flight_events = self.in_flight.iter().map(|(o, _)| o.events() as u64).sum();
        stats.buffered_events = self.buffered() as u64;
        stats.buffered_bytes = self.buffered_bytes() as u64;
        stats.shards = self.lanes.stats();
        stats
    }

    /// Events accepted and not settled yet.
    pub fn pending(&self) -> usize {
        let in_flight: usize = self.in_flight.iter().map(|(o, _)| o.events()).sum();
        self.buffered() + in_flight
    }

    /// Events buffered and not yet sent (retries waiting included).
    pub fn buffered(&self) -> usize {
        let next_run: usize = self.next_run.iter().map(|w| w.entry.events()).sum();
        self.batcher.len() + self.lanes.events() + next_run
    }

    /// Hands over what was settled since the last report.
    pub fn take_report(&mut self) -> Report {
        let now = self.clock.monotonic();
        self.report.pending = self.pending() as u32;
        self.report.poll_after = self.next_wake(now).map(|at| at.saturating_sub(now));
        std::mem::take(&mut self.report)
    }

    fn log_event(&self, record: &Record) {
        if self.config.debug.log_events {
            self.log.log(&self.config.name, &event_line(record));
        }
    }

    /// Takes events that cannot be read (a `push-batch` that does not add
    /// up) and fails each at once, counted like any other failure.
    pub fn refuse(&mut self, ids: impl IntoIterator<Item = u64>, failure: &Failure) {
        for id in ids {
            self.stats.events_accepted += 1;
            self.report.accepted += 1;
            self.settle_failed(id, 0, failure.clone());
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
        self.settle_failed(record.id, 0, failure);
    }

    /// What `max_buffer_size` caps: the records held, and what batch
    /// buffers keep beyond them.
    fn buffered_bytes(&self) -> usize {
        self.held_bytes + self.pinned.bytes()
    }

    /// SPEC 4: renames the event's fields to `format`.
    fn normalize(&mut self, record: &mut Record, format: FieldFormat) {
        match normalize::normalize(&record.data, format) {
            Normalized::Renamed(data) => record.data = data.into(),
            Normalized::Unchanged => {}
            Normalized::NotAnObject => self.stats.normalize_passthrough += 1,
        }
    }

    /// Records a delivered event; `held` bytes are released. With
    /// `outcome_detail: ids` the report hands back its id only, so its shard
    /// id and sequence number are not copied out of the answer.
    fn settle_delivered(&mut self, id: u64, held: usize, shard_id: &str, sequence_number: &str) {
        self.held_bytes -= held;
        self.stats.delivered += 1;
        let detail = match self.config.outcome_detail {
            OutcomeDetail::Full => Some((shard_id, sequence_number)),
            OutcomeDetail::Ids => None,
        };
        self.report.delivered.push(id, detail);
    }

    /// [`Self::settle_delivered`] for an event that travelled in the same
    /// (aggregated) Kinesis record as the one settled last: its shard id
    /// and sequence number are not written again.
    fn settle_delivered_alongside(&mut self, id: u64, held: usize) {
        self.held_bytes -= held;
        self.stats.delivered += 1;
        self.report.delivered.push_same_record(id);
    }

    /// Records one event's failure; `held` bytes are released.
    fn settle_failed(&mut self, id: u64, held: usize, failure: Failure) {
        self.held_bytes -= held;
        self.stats.count_failure(&failure.code);
        self.report.outcomes.push(EventOutcome {
            id,
            outcome: Outcome::Failed(failure),
        });
    }
}

fn limits(config: &TargetConfig) -> BatchLimits {
    BatchLimits {
        max_events: config.max_events,
        max_request_size: config.max_request_size,
        partition_key_len: config.partition_key.as_static().map_or(0, str::len),
    }
}

/// With `aggregation`, a batcher that packs events into aggregates.
fn batcher(config: &TargetConfig) -> Batcher {
    match config.aggregation {
        Some(max_size) => {
            let key = config.partition_key.as_static().unwrap_or(DEFAULT_KEY);
            let packer = Packer::new(max_size, key, config.explicit_hash_key.as_deref());
            Batcher::aggregating(limits(config), packer)
        }
        None => Batcher::new(limits(config)),
    }
}

/// One lane to start with: the shard of the one hash key, or the whole
/// stream until a shard map comes.
fn lanes(config: &TargetConfig, now: Duration) -> Lanes {
    Lanes::new(
        config.pacing,
        config.max_record_size,
        grouping::fixed_hash_key(config),
        now,
    )
}

fn encoder(config: &TargetConfig) -> PutRecordsEncoder {
    // With a dynamic key every record carries its own; the static one is unused.
    let key = config.partition_key.as_static().unwrap_or(DEFAULT_KEY);
    PutRecordsEncoder::with_protocol(
        config.protocol,
        &config.stream,
        key,
        config.explicit_hash_key.as_deref(),
    )
}

#[cfg(test)]
mod tests;
