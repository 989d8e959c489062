//! The WIT exports: `datastream:target/kinesis`, backed by one [`Target`].

use crate::config;
use crate::record::Record;
use crate::report::{self, Failure, Origin, Outcome, codes};
use crate::target::Target;
use crate::wasi_http::{WasiClock, WasiHttp};
use std::cell::RefCell;
use std::time::Duration;

wit_bindgen::generate!({
    world: "amazonkinesis",
    path: "wit",
    with: {
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
    },
});

use exports::datastream::target::kinesis as wit;

/// The host's `datastream:target/digest`, for [`crate::digest`].
pub(crate) use datastream::target::digest::sha256 as host_sha256;

/// Debug lines go to the host's `datastream:target/logging` import.
struct HostLog;

impl crate::send::Log for HostLog {
    fn log(&self, target: &str, line: &str) {
        datastream::target::logging::log(target, line);
    }
}

/// A component instance serves one target; the host calls it from one thread.
struct State {
    target: Option<WasiTarget>,
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State { target: None }) };
}

struct Component;

impl wit::Guest for Component {
    fn configure(config: String) -> Result<wit::TargetInfo, wit::ConfigError> {
        let config = config::parse_with_env(&config, crate::credentials::Environment::from_process()).map_err(|e| {
            wit::ConfigError {
                field: e.field,
                message: e.message,
            }
        })?;
        let info = target_info(&config);
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => target.reconfigure(config),
            None => state.target = Some(Target::new(config, WasiHttp, WasiClock, HostLog)),
        });
        Ok(info)
    }

    fn push(events: Vec<wit::Event>) -> wit::Report {
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => {
                target.push(events.into_iter().map(|e| Record::new(e.id, e.data)));
                report_of(target)
            }
            None => not_configured(events.into_iter().map(|e| e.id)),
        })
    }

    fn push_batch(batch: wit::EventBatch) -> wit::Report {
        let wit::EventBatch { ids, lengths, data } = batch;
        if let Some(why) = inconsistency(&ids, &lengths, data.len()) {
            // Taken and failed at once: no event of it can be cut out safely.
            let failure = Failure::target(codes::INVALID_BATCH, why, false);
            return STATE.with_borrow_mut(|state| match &mut state.target {
                // What settled earlier, and the target's pending work, come along.
                Some(target) => {
                    target.refuse(ids, &failure);
                    report_of(target)
                }
                None => {
                    let failed = failed_at_once(ids, &failure);
                    to_wit(report::Report {
                        accepted: failed.len() as u32,
                        outcomes: failed,
                        ..Default::default()
                    })
                }
            });
        }
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => {
                target.push_batch(&ids, &lengths, data);
                report_of(target)
            }
            None => not_configured(ids),
        })
    }

    fn poll(wait_ns: u64) -> wit::Report {
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => {
                target.poll(Duration::from_nanos(wait_ns));
                report_of(target)
            }
            None => to_wit(report::Report::default()),
        })
    }

    fn flush() -> wit::Report {
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => {
                target.flush();
                report_of(target)
            }
            None => to_wit(report::Report::default()),
        })
    }

    fn stats() -> wit::TargetStats {
        let stats = STATE.with_borrow(|state| state.target.as_ref().map(Target::stats).unwrap_or_default());
        wit::TargetStats {
            events_accepted: stats.events_accepted,
            events_refused: stats.events_refused,
            delivered: stats.delivered,
            failed: stats.failed,
            failed_by_code: stats.failed_by_code,
            requests: stats.requests,
            retries: stats.retries,
            ambiguous_retries: stats.ambiguous_retries,
            bytes_sent: stats.bytes_sent,
            in_flight_requests: stats.in_flight_requests as u32,
            in_flight_events: stats.in_flight_events as u32,
            buffered_events: stats.buffered_events as u32,
            buffered_bytes: stats.buffered_bytes,
            normalize_passthrough: stats.normalize_passthrough,
            throttled: stats.throttled,
            shards: stats
                .shards
                .into_iter()
                .map(|s| wit::ShardStats {
                    shard_id: s.shard_id,
                    records_sent: s.records_sent,
                    records_throttled: s.records_throttled,
                    records_per_second: s.records_per_second,
                    bytes_per_second: s.bytes_per_second,
                    waiting: s.waiting,
                    at_limit_ms: s.at_limit_ms,
                    paced_ms: s.paced_ms,
                })
                .collect(),
        }
    }
}

fn target_info(c: &config::TargetConfig) -> wit::TargetInfo {
    wit::TargetInfo {
        name: c.name.clone(),
        enabled: c.enabled,
        description: c.description.clone(),
        pipelines: c.pipelines.clone(),
        stream: c.stream.as_str().to_string(),
        region: c.region.clone(),
        endpoint: c.endpoint.url(),
        max_events: c.max_events as u32,
        interval_ms: c.interval.map(|d| d.as_millis() as u64),
    }
}

type WasiTarget = Target<WasiHttp, WasiClock, HostLog>;

/// What settled since the last report.
fn report_of(target: &mut WasiTarget) -> wit::Report {
    to_wit(target.take_report())
}

/// Events offered before a successful `configure`: taken and failed at
/// once, so the host learns why and nothing waits.
fn not_configured(ids: impl IntoIterator<Item = u64>) -> wit::Report {
    let failure = Failure::target(codes::NOT_CONFIGURED, "push before a successful configure", true);
    let outcomes = failed_at_once(ids, &failure);
    to_wit(report::Report {
        accepted: outcomes.len() as u32,
        outcomes,
        ..Default::default()
    })
}

fn failed_at_once(ids: impl IntoIterator<Item = u64>, failure: &Failure) -> Vec<report::EventOutcome> {
    ids.into_iter()
        .map(|id| report::EventOutcome {
            id,
            outcome: Outcome::Failed(failure.clone()),
        })
        .collect()
}

/// Why a `push-batch` cannot be cut into events: which numbers disagree.
/// `None` when every id has a length and the lengths add up to `data_len`.
fn inconsistency(ids: &[u64], lengths: &[u32], data_len: usize) -> Option<String> {
    // In u64: on wasm32 a usize sum of u32 lengths could overflow.
    let total: u64 = lengths.iter().map(|&l| u64::from(l)).sum();
    let mut problems = Vec::new();
    if ids.len() != lengths.len() {
        problems.push(format!("{} ids but {} lengths", ids.len(), lengths.len()));
    }
    if total != data_len as u64 {
        problems.push(format!("lengths add up to {total} bytes but data has {data_len}"));
    }
    (!problems.is_empty()).then(|| format!("invalid event-batch: {}", problems.join(", and ")))
}

/// The WIT report: failures one by one, deliveries packed as they are.
fn to_wit(r: report::Report) -> wit::Report {
    let outcomes = r
        .outcomes
        .into_iter()
        .map(|o| {
            let outcome = match o.outcome {
                // The target reports deliveries in `r.delivered`.
                Outcome::Delivered {
                    shard_id,
                    sequence_number,
                } => wit::Outcome::Delivered(wit::Delivered {
                    shard_id,
                    sequence_number,
                }),
                Outcome::Failed(f) => wit::Outcome::Failed(wit::Failed {
                    code: f.code,
                    message: f.message,
                    retryable: f.retryable,
                    maybe_delivered: f.maybe_delivered,
                    origin: match f.origin {
                        Origin::Kinesis => wit::FailureOrigin::Kinesis,
                        Origin::Transport => wit::FailureOrigin::Transport,
                        Origin::Target => wit::FailureOrigin::Target,
                    },
                }),
            };
            wit::EventOutcome { id: o.id, outcome }
        })
        .collect();
    let d = r.delivered;
    wit::Report {
        accepted: r.accepted,
        requests: r.requests,
        bytes_sent: r.bytes_sent,
        pending: r.pending,
        poll_after_ns: r.poll_after.map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
        outcomes,
        delivered: wit::Deliveries {
            ids: d.ids,
            records: d.records,
            shard_ids: d.shard_ids,
            shards: d.shards,
            sequence_lengths: d.sequence_lengths,
            sequence_numbers: d.sequence_numbers,
        },
    }
}

export!(Component);
