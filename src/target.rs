//! One configured target: takes events, batches them, sends PutRecords
//! requests and settles one outcome per event.

use crate::batch::{Batch, BatchLimits, Batcher, Record};
use crate::config::TargetConfig;
use crate::encode::{CONTENT_TYPE, PUT_RECORDS_TARGET, PutRecordsEncoder};
use crate::endpoint::Scheme;
use crate::normalize::{self, FieldFormat, Normalized};
use crate::report::{EventOutcome, Failure, Origin, Outcome, Report, codes};
use crate::response::{self, PutRecordsResponse, RecordResult};
use crate::send::{Clock, HttpRequest, Transport};
use crate::sign::Signer;
use std::time::Duration;

/// First backoff before a retry; doubles per attempt up to `BACKOFF_CAP`.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Counts a target keeps over its life (not yet exported over WIT).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Events `field_format` could not normalize because they are not a JSON
    /// object; they were sent as they came.
    pub normalize_passthrough: u64,
}

/// A configured `amazonkinesis` target and its buffered events.
pub struct Target<T, C> {
    config: TargetConfig,
    encoder: PutRecordsEncoder,
    signer: Signer,
    batcher: Batcher,
    transport: T,
    clock: C,
    /// Settled outcomes not yet handed to the host.
    report: Report,
    stats: Stats,
    jitter: u64,
}

impl<T: Transport, C: Clock> Target<T, C> {
    pub fn new(config: TargetConfig, transport: T, clock: C) -> Self {
        let jitter = clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Self {
            encoder: PutRecordsEncoder::new(&config.stream, &config.partition_key),
            signer: Signer::new(&config.credentials, &config.region),
            batcher: Batcher::new(limits(&config)),
            config,
            transport,
            clock,
            report: Report::default(),
            stats: Stats::default(),
            jitter,
        }
    }

    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// Makes `config` current. Buffered events are first sent under the
    /// configuration they were accepted with; their outcomes stay pending.
    pub fn reconfigure(&mut self, config: TargetConfig) {
        self.flush();
        self.encoder = PutRecordsEncoder::new(&config.stream, &config.partition_key);
        self.signer = Signer::new(&config.credentials, &config.region);
        self.batcher = Batcher::new(limits(&config));
        self.config = config;
    }

    /// Buffers events and sends every batch that fills up.
    pub fn push(&mut self, events: impl IntoIterator<Item = Record>) {
        if !self.config.enabled {
            return self.hand_back(events);
        }
        for mut record in events {
            // Before the size check: the limit applies to what is sent.
            if let Some(format) = self.config.field_format {
                self.normalize(&mut record, format);
            }
            let size = self.batcher.record_size(record.data.len());
            if size > self.config.max_record_size {
                let message = format!(
                    "record is {size} bytes (data {} + partition key {}), over max_record_size {}",
                    record.data.len(),
                    size - record.data.len(),
                    self.config.max_record_size
                );
                self.settle(
                    record.id,
                    Outcome::Failed(Failure::target(codes::RECORD_TOO_LARGE, message, false)),
                );
                continue;
            }
            self.report.accepted += 1;
            self.batcher.add(record);
            self.send_ready();
        }
    }

    /// A disabled target never eats events: each one comes straight back.
    fn hand_back(&mut self, events: impl IntoIterator<Item = Record>) {
        let message = format!(
            "target {} is disabled (status: false); nothing is sent",
            self.config.name
        );
        let failure = Failure::target(codes::TARGET_DISABLED, message, false);
        for record in events {
            self.settle(record.id, Outcome::Failed(failure.clone()));
        }
    }

    /// Sends everything buffered; every event then has an outcome.
    pub fn flush(&mut self) {
        self.batcher.close();
        self.send_ready();
    }

    /// Counts since the target was created.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Events buffered and not yet sent.
    pub fn buffered(&self) -> usize {
        self.batcher.len()
    }

    /// Hands over what was settled since the last report.
    pub fn take_report(&mut self) -> Report {
        std::mem::take(&mut self.report)
    }

    /// SPEC 4: renames the event's fields to `format`.
    fn normalize(&mut self, record: &mut Record, format: FieldFormat) {
        match normalize::normalize(&record.data, format) {
            Normalized::Renamed(data) => record.data = data,
            Normalized::Unchanged => {}
            Normalized::NotAnObject => self.stats.normalize_passthrough += 1,
        }
    }

    fn settle(&mut self, id: u64, outcome: Outcome) {
        self.report.outcomes.push(EventOutcome { id, outcome });
    }

    fn send_ready(&mut self) {
        while let Some(batch) = self.batcher.pop_ready() {
            self.deliver(batch);
        }
    }

    /// Sends a batch, re-sending only the records that failed retryably, with
    /// exponential backoff and full jitter, up to `max_retries` times.
    fn deliver(&mut self, batch: Batch) {
        let mut pending: Vec<(Record, Option<Failure>)> = batch.records.into_iter().map(|r| (r, None)).collect();
        for attempt in 0..=self.config.max_retries {
            if attempt > 0 {
                let backoff = self.backoff(attempt);
                self.clock.sleep(backoff);
            }
            let records: Vec<&Record> = pending.iter().map(|(r, _)| r).collect();
            let results = self.attempt(&records);
            let mut retry = Vec::new();
            for ((record, _), result) in pending.into_iter().zip(results) {
                match result {
                    RecordResult::Delivered {
                        shard_id,
                        sequence_number,
                    } => self.settle(
                        record.id,
                        Outcome::Delivered {
                            shard_id,
                            sequence_number,
                        },
                    ),
                    RecordResult::Failed(f) if f.retryable => retry.push((record, Some(f))),
                    RecordResult::Failed(f) => self.settle(record.id, Outcome::Failed(f)),
                }
            }
            pending = retry;
            if pending.is_empty() {
                return;
            }
        }
        let attempts = self.config.max_retries + 1;
        for (record, failure) in pending {
            let mut failure = failure.unwrap_or_else(|| Failure::target(codes::HTTP_ERROR, "no result", true));
            failure.message = format!("{} (after {attempts} attempts)", failure.message);
            self.settle(record.id, Outcome::Failed(failure));
        }
    }

    /// One PutRecords exchange; one result per record, in order.
    fn attempt(&mut self, records: &[&Record]) -> Vec<RecordResult> {
        let body = self.encoder.encode(records);
        let scheme = match self.config.endpoint.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let base = [("content-type", CONTENT_TYPE), ("x-amz-target", PUT_RECORDS_TARGET)];
        let signed = self
            .signer
            .sign(scheme, &self.config.endpoint.authority, &base, &body, self.clock.now());
        let mut headers: Vec<(String, String)> = base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match signed {
            Ok(added) => headers.extend(added),
            Err(message) => return all_failed(records.len(), Failure::target(codes::SIGNING_ERROR, message, false)),
        }
        let request = HttpRequest {
            endpoint: &self.config.endpoint,
            headers,
            body: &body,
            timeout: self.config.timeout,
        };
        self.report.requests += 1;
        self.report.bytes_sent += body.len() as u64;
        match self.transport.send(&request) {
            Ok(answer) => {
                match response::parse(answer.status, answer.error_type.as_deref(), &answer.body, records.len()) {
                    PutRecordsResponse::Records(results) => results,
                    PutRecordsResponse::RequestFailed(f) => all_failed(records.len(), f),
                }
            }
            Err(e) => all_failed(
                records.len(),
                Failure {
                    code: e.code.to_string(),
                    message: e.message,
                    origin: Origin::Transport,
                    retryable: true,
                },
            ),
        }
    }

    /// Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
    fn backoff(&mut self, attempt: u32) -> Duration {
        let ceiling = BACKOFF_BASE.saturating_mul(1 << (attempt - 1).min(16)).min(BACKOFF_CAP);
        // xorshift64: jitter needs spread, not secrecy.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        ceiling.mul_f64((self.jitter % 10_000) as f64 / 10_000.0)
    }
}

fn limits(config: &TargetConfig) -> BatchLimits {
    BatchLimits {
        max_events: config.max_events,
        max_request_size: config.max_request_size,
        partition_key_len: config.partition_key.len(),
    }
}

fn all_failed(n: usize, failure: Failure) -> Vec<RecordResult> {
    vec![RecordResult::Failed(failure); n]
}

#[cfg(test)]
mod tests;
