//! One instance of the component (one target) and the calls of its
//! interface, each under its time budget.

use super::budget::ticks;
use super::event_batch::MAX_LOWERED_BYTES;
use super::state::HostState;
use super::{HostStats, bindings, wit};
use crate::options::RuntimeOptions;
use crate::outbound::Allowed;
use anyhow::Result;
use wasmtime::Store;

/// One instance of the component: one target.
///
/// An `Err` from these calls is a trap (a bug in the component, or a host
/// limit); the instance must not be used after one.
pub struct TargetInstance {
    pub(super) store: Store<HostState>,
    pub(super) instance: bindings::Amazonkinesis,
    pub(super) options: RuntimeOptions,
}

impl TargetInstance {
    /// `configure`: validates the target definition (JSON) and makes it
    /// current. The outbound policy follows the new definition; while the
    /// call sends what the old one buffered, both are allowed.
    pub async fn configure(&mut self, config_json: &str) -> Result<Result<wit::TargetInfo, wit::ConfigError>> {
        let config: serde_json::Value = serde_json::from_str(config_json).unwrap_or_default();
        let data = self.store.data_mut();
        let new = Allowed::for_target(&self.options.outbound, &config, &data.grants);
        let old = std::mem::replace(&mut data.hooks.allowed, new.clone());
        data.hooks.allowed = old.union(&new);
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        let result = self
            .instance
            .datastream_target_kinesis()
            .call_configure(&mut self.store, config_json)
            .await?;
        let hooks = &mut self.store.data_mut().hooks;
        hooks.allowed = if result.is_ok() { new } else { old };
        Ok(result)
    }

    /// What the host measured: peak memory, its cap, refused requests.
    pub fn host_stats(&self) -> HostStats {
        let data = self.store.data();
        HostStats {
            memory_bytes: data.limits.peak_memory as u64,
            memory_limit: data.limits.max_memory as u64,
            denied_requests: data.hooks.denied,
        }
    }

    /// The failure code and message for events of an instance whose call
    /// failed with `error`: over its memory cap, over its time budget, or
    /// another trap.
    pub fn classify(&self, error: &anyhow::Error) -> (&'static str, String) {
        super::traps::classify(&self.store.data().limits, error)
    }

    /// `push`: takes events from the front while the buffer has room (see
    /// `report.accepted`), starts requests for full batches; returns what settled.
    pub async fn push(&mut self, events: &[wit::Event]) -> Result<wit::Report> {
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_push(&mut self.store, events)
            .await?)
    }

    /// `push-batch`: `push` for events packed into one buffer
    /// ([`wit::EventBatch::pack`]), which is cheaper to hand over than one
    /// list per event. `report.accepted` counts from the front, as for `push`.
    ///
    /// At most [`MAX_LOWERED_BYTES`] of event data (and always one event)
    /// is handed over per call: what the instance's buffer cannot take
    /// would only be copied into its memory to be refused, and 500 events of
    /// 1 MiB would not fit a 64 MiB instance at all. The rest is not
    /// accepted, and is offered again like any backpressure.
    pub async fn push_batch(&mut self, batch: &wit::EventBatch) -> Result<wit::Report> {
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        let target = self.instance.datastream_target_kinesis();
        match batch.prefix(MAX_LOWERED_BYTES) {
            Some(prefix) => Ok(target.call_push_batch(&mut self.store, &prefix).await?),
            None => Ok(target.call_push_batch(&mut self.store, batch).await?),
        }
    }

    /// `poll`: collects answers and starts what is due, waiting up to `wait`
    /// for something to settle.
    pub async fn poll(&mut self, wait: std::time::Duration) -> Result<wit::Report> {
        let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.store.set_epoch_deadline(ticks(self.options.call_budget + wait));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_poll(&mut self.store, wait_ns)
            .await?)
    }

    /// `stats`: counters since the instance started, and what it holds now.
    pub async fn stats(&mut self) -> Result<wit::TargetStats> {
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_stats(&mut self.store)
            .await?)
    }

    /// `flush`: sends everything; every event pushed so far then has an outcome.
    pub async fn flush(&mut self) -> Result<wit::Report> {
        self.store.set_epoch_deadline(ticks(self.options.flush_budget));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_flush(&mut self.store)
            .await?)
    }
}
