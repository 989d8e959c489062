//! SPEC 5 `interval`: a scheduled target sends only during runs. The first
//! run is right after start; the next one `interval` after the previous run
//! finished. A run drains what was queued when it began, in requests of at
//! most `max_events`; what fails retryably waits for the next run.

use std::time::Duration;

/// The run clock of a scheduled target (monotonic times).
#[derive(Debug, Clone)]
pub(super) struct Runs {
    every: Duration,
    /// When the next run starts.
    next: Duration,
    /// Closed batches the current run may still start; `None` between runs.
    active: Option<usize>,
}

impl Runs {
    pub fn new(every: Duration, now: Duration) -> Self {
        Self {
            every,
            next: now,
            active: None,
        }
    }

    /// Whether a run should begin now.
    pub fn due(&self, now: Duration) -> bool {
        self.active.is_none() && now >= self.next
    }

    /// Begins a run that may send `batches` closed batches.
    pub fn begin(&mut self, batches: usize) {
        self.active = Some(batches);
    }

    /// Takes one batch from the current run's allowance.
    pub fn take_batch(&mut self) -> bool {
        match &mut self.active {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Ends the run once its batches are all sent and answered.
    pub fn end_if_done(&mut self, now: Duration, in_flight: usize) {
        if self.active == Some(0) && in_flight == 0 {
            self.end(now);
        }
    }

    /// Ends the current run (or counts a flush as one): the next is `every` from now.
    pub fn end(&mut self, now: Duration) {
        self.active = None;
        self.next = now + self.every;
    }

    /// When the next run starts, or `None` while one is going.
    pub fn next(&self) -> Option<Duration> {
        self.active.is_none().then_some(self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_drains_its_allowance_then_the_next_is_an_interval_after_it_ends() {
        let mut runs = Runs::new(Duration::from_secs(60), Duration::from_secs(5));
        assert!(runs.due(Duration::from_secs(5)), "the first run is right after start");
        runs.begin(2);
        assert!(!runs.due(Duration::from_secs(6)) && runs.next().is_none());
        assert!(runs.take_batch() && runs.take_batch() && !runs.take_batch());
        runs.end_if_done(Duration::from_secs(7), 1);
        assert!(runs.next().is_none(), "an answer is still out");
        runs.end_if_done(Duration::from_secs(8), 0);
        assert_eq!(runs.next(), Some(Duration::from_secs(68)));
    }
}
