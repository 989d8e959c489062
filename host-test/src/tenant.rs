//! A configured target instance plus the host's side of the contract: every
//! event id pushed comes back exactly once. The host checks it rather than
//! trusting it, so a component bug shows up as a counted protocol error and
//! an explicit failure, never as a silently lost event.

use crate::runtime::{KinesisRuntime, TargetInstance, wit};
use anyhow::Result;
use std::collections::{BTreeMap, HashSet};

/// Code the host gives events whose instance trapped.
pub const TARGET_TRAPPED: &str = "TargetTrapped";
/// Code the host gives events the component never settled (a contract breach).
pub const UNSETTLED: &str = "Unsettled";

/// One failed event, as the summary and `--report json` list it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedEvent {
    pub id: u64,
    pub code: String,
    pub message: String,
    pub retryable: bool,
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
}

/// A target instance and its bookkeeping.
pub struct Tenant {
    pub info: wit::TargetInfo,
    pub tally: Tally,
    instance: TargetInstance,
    pending: HashSet<u64>,
    trapped: Option<String>,
}

impl Tenant {
    /// Instantiates the component and configures it; the inner `Err` is the
    /// component's verdict on the config.
    pub async fn start(runtime: &KinesisRuntime, config_json: &str) -> Result<Result<Tenant, wit::ConfigError>> {
        let mut instance = runtime.instantiate().await?;
        Ok(instance.configure(config_json).await?.map(|info| Tenant {
            info,
            tally: Tally::default(),
            instance,
            pending: HashSet::new(),
            trapped: None,
        }))
    }

    /// Pushes events; returns the outcomes settled by this call.
    pub async fn push(&mut self, events: &[wit::Event]) -> Vec<wit::EventOutcome> {
        self.pending.extend(events.iter().map(|e| e.id));
        if self.trapped.is_none() {
            match self.instance.push(events).await {
                Ok(report) => return self.absorb(report),
                Err(e) => self.trapped = Some(format!("{e:#}")),
            }
        }
        self.fail_pending(TARGET_TRAPPED)
    }

    /// Flushes; afterwards no event pushed to this tenant is without outcome.
    pub async fn flush(&mut self) -> Vec<wit::EventOutcome> {
        let mut settled = Vec::new();
        if self.trapped.is_none() {
            match self.instance.flush().await {
                Ok(report) => settled = self.absorb(report),
                Err(e) => self.trapped = Some(format!("{e:#}")),
            }
        }
        let code = if self.trapped.is_some() {
            TARGET_TRAPPED
        } else {
            UNSETTLED
        };
        if code == UNSETTLED {
            self.tally.protocol_errors += self.pending.len() as u64;
        }
        settled.extend(self.fail_pending(code));
        settled
    }

    /// Why the instance stopped, if it trapped.
    pub fn trapped(&self) -> Option<&str> {
        self.trapped.as_deref()
    }

    /// Events pushed and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn absorb(&mut self, report: wit::Report) -> Vec<wit::EventOutcome> {
        self.tally.requests += u64::from(report.requests);
        self.tally.bytes_sent += report.bytes_sent;
        let mut settled = Vec::with_capacity(report.outcomes.len());
        for outcome in report.outcomes {
            if !self.pending.remove(&outcome.id) {
                self.tally.protocol_errors += 1;
                continue;
            }
            self.count(&outcome);
            settled.push(outcome);
        }
        settled
    }

    fn fail_pending(&mut self, code: &str) -> Vec<wit::EventOutcome> {
        let message = match (&self.trapped, code) {
            (Some(trap), _) => format!("the target instance trapped: {trap}"),
            _ => "the component returned no outcome for this event".to_string(),
        };
        let mut ids: Vec<u64> = self.pending.drain().collect();
        ids.sort_unstable();
        let outcomes: Vec<wit::EventOutcome> = ids
            .into_iter()
            .map(|id| wit::EventOutcome {
                id,
                outcome: wit::Outcome::Failed(wit::Failed {
                    code: code.to_string(),
                    message: message.clone(),
                    origin: wit::FailureOrigin::Target,
                    retryable: false,
                }),
            })
            .collect();
        outcomes.iter().for_each(|o| self.count(o));
        outcomes
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
                });
            }
        }
    }
}
