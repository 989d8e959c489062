//! The WIT exports: `datastream:target/kinesis`, backed by one [`Target`].

use crate::batch::Record;
use crate::config;
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

/// Debug lines go to the host's `datastream:target/logging` import.
struct HostLog;

impl crate::send::Log for HostLog {
    fn log(&self, target: &str, line: &str) {
        datastream::target::logging::log(target, line);
    }
}

/// A component instance serves one target; the host calls it from one thread.
struct State {
    target: Option<Target<WasiHttp, WasiClock, HostLog>>,
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
                to_wit(target.take_report())
            }
            None => {
                // Taken and failed at once: the host learns why, nothing waits.
                let events_len = events.len() as u32;
                let failure = Failure::target(codes::NOT_CONFIGURED, "push before a successful configure", true);
                let outcomes = events
                    .into_iter()
                    .map(|e| report::EventOutcome {
                        id: e.id,
                        outcome: Outcome::Failed(failure.clone()),
                    })
                    .collect();
                to_wit(report::Report {
                    accepted: events_len,
                    outcomes,
                    ..Default::default()
                })
            }
        })
    }

    fn poll(wait_ns: u64) -> wit::Report {
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => {
                target.poll(Duration::from_nanos(wait_ns));
                to_wit(target.take_report())
            }
            None => to_wit(report::Report::default()),
        })
    }

    fn flush() -> wit::Report {
        STATE.with_borrow_mut(|state| match &mut state.target {
            Some(target) => {
                target.flush();
                to_wit(target.take_report())
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

fn to_wit(r: report::Report) -> wit::Report {
    wit::Report {
        accepted: r.accepted,
        requests: r.requests,
        bytes_sent: r.bytes_sent,
        pending: r.pending,
        poll_after_ns: r.poll_after.map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
        outcomes: r
            .outcomes
            .into_iter()
            .map(|o| wit::EventOutcome {
                id: o.id,
                outcome: match o.outcome {
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
                },
            })
            .collect(),
    }
}

export!(Component);
