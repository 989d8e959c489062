//! A simulated outage: for one window the endpoint answers writes (and
//! ListShards) with 503 ServiceUnavailable, or closes every connection
//! unread, so a client's behaviour through an outage and its recovery
//! after it can be tested and measured.
//!
//! The window's clock starts at the first write call after the outage was
//! set (at start, for the configured one), so the client's start-up time
//! does not shift it.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::StatusCode;

use super::api::ApiError;
use super::{State, bump};

/// One outage window, `start_after` the first PutRecords (or PutRecord)
/// the endpoint receives, lasting `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// From the first write call to the start of the window.
    pub start_after: Duration,
    /// Length of the window.
    pub duration: Duration,
    /// How the endpoint fails during the window.
    pub kind: OutageKind,
}

/// How the endpoint fails during an [`Outage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    /// PutRecords, PutRecord and ListShards answer 503 `ServiceUnavailable`;
    /// other operations keep working, so a test can read back what arrived.
    Http503,
    /// Every connection is closed right after accept, before anything is
    /// read; a kept-alive connection is closed unanswered at its next
    /// request. Nothing answers, whatever the operation. (The write call
    /// that starts the clock was read before, so it is answered even with
    /// a zero `start_after`.)
    RefuseConnections,
}

/// The outage in force and when its clock started.
struct Armed {
    outage: Option<Outage>,
    /// The first write call since the outage was set.
    since: Option<Instant>,
}

/// The endpoint's outage state, shared by all connections.
pub(super) struct OutageState(Mutex<Armed>);

impl OutageState {
    pub fn new(outage: Option<Outage>) -> Self {
        OutageState(Mutex::new(Armed { outage, since: None }))
    }

    fn armed(&self) -> MutexGuard<'_, Armed> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the outage; its clock starts at the next write call.
    pub fn set(&self, outage: Option<Outage>) {
        *self.armed() = Armed { outage, since: None };
    }

    pub fn get(&self) -> Option<Outage> {
        self.armed().outage
    }

    /// The kind of the outage if `now` is inside its window.
    fn active(&self, now: Instant) -> Option<OutageKind> {
        let armed = self.armed();
        let (outage, since) = (armed.outage?, armed.since?);
        let start = since + outage.start_after;
        (start <= now && now < start + outage.duration).then_some(outage.kind)
    }

    /// Whether connections are to be closed unread now.
    pub fn refusing(&self, now: Instant) -> bool {
        self.active(now) == Some(OutageKind::RefuseConnections)
    }

    /// Starts the clock at the first write call.
    fn start_clock(&self, now: Instant) {
        let mut armed = self.armed();
        if armed.outage.is_some() && armed.since.is_none() {
            armed.since = Some(now);
        }
    }
}

/// Err(503) if an authenticated call of `op` falls into an Http503 outage
/// (counted here); write calls start the outage's clock.
pub(super) fn gate(state: &State, op: &str) -> Result<(), ApiError> {
    let now = Instant::now();
    if matches!(op, "PutRecords" | "PutRecord") {
        state.outage.start_clock(now);
    }
    if state.outage.active(now) != Some(OutageKind::Http503) {
        return Ok(());
    }
    bump(&state.counters.outage_unavailable_answers, 1);
    Err(ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "ServiceUnavailable",
        message: "Service unavailable, try again (simulated outage).".to_owned(),
    })
}
