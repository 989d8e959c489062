//! The run's summary: text for people, one JSON object for scripts.
//! The JSON keys are a public contract: add keys, never rename or remove.

use kinesis_host::Tenant;
use kinesis_host::tenant::{ComponentStats, ShardStats, Tally};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The code of events `debug.dont_send_logs` logged and deliberately did not send.
const DONT_SEND_LOGS: &str = "DontSendLogs";
/// A shard at its write limit for at least this share of its paced time
/// (percent) gets a line in the text summary.
const AT_LIMIT_NOTE_PERCENT: u64 = 10;

#[derive(Serialize)]
pub struct Summary {
    /// Input lines read (events offered to each target, plus skipped lines).
    pub events: u64,
    pub skipped_lines: u64,
    pub delivered: u64,
    pub failed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
    pub failures: Vec<TargetFailure>,
    pub requests: u64,
    pub bytes_sent: u64,
    pub protocol_errors: u64,
    /// Records sent again after retryable failures, over all targets.
    pub retries: u64,
    /// Of those, after ambiguous failures: an upper bound on duplicates.
    pub ambiguous_retries: u64,
    pub elapsed_s: f64,
    pub events_per_s: f64,
    pub targets: Vec<TargetSummary>,
    /// Checkpoint, dead letters, signals, `--follow` (keys added for them).
    #[serde(flatten)]
    pub service: crate::service::ServiceReport,
}

#[derive(Serialize)]
pub struct TargetFailure {
    pub target: String,
    #[serde(flatten)]
    pub failure: kinesis_host::tenant::FailedEvent,
}

#[derive(Serialize)]
pub struct TargetSummary {
    pub name: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub pipelines: Vec<String>,
    pub stream: String,
    pub region: String,
    pub endpoint: String,
    pub trapped: Option<String>,
    /// Why the instance stopped, as a code: `MemoryLimitExceeded`,
    /// `CallBudgetExceeded` or `TargetTrapped`; absent while it runs.
    pub stopped: Option<String>,
    /// What the host measured of the instance: peak linear memory, its cap,
    /// requests the outbound policy refused.
    pub host: kinesis_host::HostStats,
    /// `interval` in seconds for a scheduled target; it was flushed at end of input.
    pub interval_s: Option<f64>,
    /// `cron` of a cron-scheduled target, with its UTC offset; it was
    /// flushed at end of input.
    pub cron: Option<String>,
    #[serde(flatten)]
    pub tally: Tally,
    /// The component's own counters (`stats` export); absent if it trapped.
    pub component: Option<ComponentStats>,
}

impl Summary {
    /// `stats` holds each tenant's component counters, in the same order.
    pub fn new(
        tenants: &[Tenant],
        stats: Vec<Option<ComponentStats>>,
        crons: &[Option<String>],
        events: u64,
        skipped_lines: u64,
        elapsed: Duration,
    ) -> Self {
        let mut s = Summary {
            events,
            skipped_lines,
            delivered: 0,
            failed: 0,
            failed_by_code: BTreeMap::new(),
            failures: Vec::new(),
            requests: 0,
            bytes_sent: 0,
            protocol_errors: 0,
            retries: 0,
            ambiguous_retries: 0,
            elapsed_s: elapsed.as_secs_f64(),
            events_per_s: events as f64 / elapsed.as_secs_f64().max(1e-9),
            targets: Vec::new(),
            service: Default::default(),
        };
        for ((t, component), cron) in tenants.iter().zip(stats).zip(crons) {
            let tally = &t.tally;
            if let Some(c) = &component {
                s.retries += c.retries;
                s.ambiguous_retries += c.ambiguous_retries;
            }
            s.delivered += tally.delivered;
            s.failed += tally.failed;
            s.requests += tally.requests;
            s.bytes_sent += tally.bytes_sent;
            s.protocol_errors += tally.protocol_errors;
            for (code, n) in &tally.failed_by_code {
                *s.failed_by_code.entry(code.clone()).or_default() += n;
            }
            s.failures.extend(tally.failures.iter().map(|f| TargetFailure {
                target: t.info.name.clone(),
                failure: f.clone(),
            }));
            s.targets.push(TargetSummary {
                name: t.info.name.clone(),
                enabled: t.info.enabled,
                description: t.info.description.clone(),
                pipelines: t.info.pipelines.clone(),
                stream: t.info.stream.clone(),
                region: t.info.region.clone(),
                endpoint: t.info.endpoint.clone(),
                trapped: t.trapped().map(str::to_string),
                stopped: t.broken_code().map(str::to_string),
                host: t.host_stats(),
                interval_s: t.info.interval_ms.map(|ms| ms as f64 / 1000.0),
                cron: cron.clone(),
                // Failures are listed once, at the top level, with their target.
                tally: Tally {
                    failures: Vec::new(),
                    ..tally.clone()
                },
                component,
            });
        }
        s
    }

    /// Exit status: 0 when every event was delivered (or deliberately not
    /// sent: `debug.dont_send_logs`), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        let not_sent = self.failed_by_code.get(DONT_SEND_LOGS).copied().unwrap_or(0);
        if self.failed == not_sent && self.protocol_errors == 0 {
            0
        } else {
            1
        }
    }

    pub fn print_text(&self) {
        out!(
            "{} events read ({} empty lines skipped)",
            self.events,
            self.skipped_lines
        );
        for t in &self.targets {
            let pipelines = if t.pipelines.is_empty() {
                "-".to_string()
            } else {
                t.pipelines.join(", ")
            };
            let disabled = if t.enabled {
                ""
            } else {
                " [disabled: status false, nothing sent]"
            };
            out!(
                "target {} -> stream {} at {} (pipelines: {pipelines}){disabled}",
                t.name,
                t.stream,
                t.endpoint
            );
            if let Some(secs) = t.interval_s {
                out!("  scheduled every {secs} s (interval); flushed at end of input");
            }
            if let Some(cron) = &t.cron {
                out!("  scheduled by cron {cron}; flushed at end of input");
            }
            out!(
                "  delivered {}, failed {}, requests {}, bytes sent {}",
                t.tally.delivered,
                t.tally.failed,
                t.tally.requests,
                t.tally.bytes_sent
            );
            for (code, n) in &t.tally.failed_by_code {
                if code == DONT_SEND_LOGS {
                    out!("  logged and not sent (debug.dont_send_logs): {n}");
                } else {
                    out!("  failed {code}: {n}");
                }
            }
            if let Some(c) = t.component.as_ref().filter(|c| c.retries > 0) {
                out!(
                    "  records sent again {} (after ambiguous failures, possible duplicates: {})",
                    c.retries,
                    c.ambiguous_retries
                );
            }
            if t.tally.backpressure_waits > 0 {
                out!(
                    "  buffer full {} times: the rest was offered again (max_buffer_size)",
                    t.tally.backpressure_waits
                );
            }
            if let (Some(code), Some(why)) = (&t.stopped, &t.trapped) {
                out!("  the instance stopped ({code}): {why}");
            }
            out!(
                "  memory {} KiB of {} KiB{}",
                t.host.memory_bytes / 1024,
                t.host.memory_limit / 1024,
                match t.host.denied_requests {
                    0 => String::new(),
                    n => format!(", requests refused by the outbound policy: {n}"),
                }
            );
            if t.tally.protocol_errors > 0 {
                out!(
                    "  protocol errors (outcomes missing or duplicated): {}",
                    t.tally.protocol_errors
                );
            }
            for shard in t.component.iter().flat_map(|c| &c.shards) {
                if let Some(line) = at_limit_line(shard) {
                    out!("  {line}");
                }
            }
        }
        for f in self
            .failures
            .iter()
            .filter(|f| f.failure.code != DONT_SEND_LOGS)
            .take(10)
        {
            out!(
                "  failed event {} on {}: {}: {}",
                f.failure.id,
                f.target,
                f.failure.code,
                f.failure.message
            );
        }
        if self.failures.len() > 10 {
            out!(
                "  ... and {} more failed events (use --report json for all)",
                self.failures.len() - 10
            );
        }
        self.service.print_text();
        out!(
            "delivered {}, failed {} in {:.2} s: {:.0} events/s",
            self.delivered,
            self.failed,
            self.elapsed_s,
            self.events_per_s
        );
    }
}

/// The note for a shard that spent at least [`AT_LIMIT_NOTE_PERCENT`] of its
/// paced time at its write limit, and what to do about it.
fn at_limit_line(shard: &ShardStats) -> Option<String> {
    let percent = shard.at_limit_percent();
    if shard.paced_ms == 0 || percent < AT_LIMIT_NOTE_PERCENT {
        return None;
    }
    Some(if shard.shard_id == "*" {
        format!(
            "the stream was at its write limit for {percent}% of the run (shards could not be listed: grant kinesis:ListShards to pace each shard)"
        )
    } else {
        format!(
            "{} was at its write limit for {percent}% of the run: add shards or spread the partition keys",
            shard.shard_id
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, at_limit_ms: u64, paced_ms: u64) -> ShardStats {
        ShardStats {
            shard_id: id.to_string(),
            at_limit_ms,
            paced_ms,
            ..Default::default()
        }
    }

    #[test]
    fn a_shard_at_its_limit_for_a_tenth_of_the_run_gets_a_line() {
        assert_eq!(
            at_limit_line(&shard("shardId-000000000001", 730, 1000)).as_deref(),
            Some(
                "shardId-000000000001 was at its write limit for 73% of the run: add shards or spread the partition keys"
            )
        );
        assert!(at_limit_line(&shard("shardId-000000000001", 100, 1000)).is_some());
        assert_eq!(at_limit_line(&shard("shardId-000000000001", 99, 1000)), None);
        assert_eq!(at_limit_line(&shard("shardId-000000000001", 0, 0)), None);
    }

    #[test]
    fn the_whole_stream_paced_as_one_names_list_shards() {
        assert_eq!(
            at_limit_line(&shard("*", 73, 100)).as_deref(),
            Some(
                "the stream was at its write limit for 73% of the run (shards could not be listed: grant kinesis:ListShards to pace each shard)"
            )
        );
    }
}
