//! SPEC 5 `interval` and `cron`: a scheduled target sends only during runs.
//! A run drains what was queued when it began, in requests of at most
//! `max_events`; what fails retryably waits for the next run.
//!
//! With `interval` the first run is right after start and the next one
//! `interval` after the previous run finished. With `cron` each run starts
//! at a matching minute of the wall clock, the first one after start; a
//! matching minute that passes while a run is still going is skipped. The
//! wall time of a cron run becomes a monotonic deadline when it is worked
//! out (at start, and when the run before it ends).

use crate::config::TargetConfig;
use crate::cron::CronSchedule;
use std::time::{Duration, SystemTime};

/// What decides when runs start.
#[derive(Debug, Clone)]
enum When {
    Every(Duration),
    Cron(Box<CronSchedule>),
}

/// The run clock of a scheduled target (monotonic times).
#[derive(Debug, Clone)]
pub(super) struct Runs {
    when: When,
    /// When the next run starts; `None` if a cron schedule has no next match.
    next: Option<Duration>,
    /// Cron: the wall time of the next run, or of the run going on.
    slot: Option<SystemTime>,
    /// Closed batches the current run may still start; `None` between runs.
    active: Option<usize>,
}

impl Runs {
    /// The run clock `config` asks for (`cron` wins), or `None` for realtime.
    /// `now` is monotonic, `wall` the wall clock at the same moment.
    pub fn for_config(config: &TargetConfig, now: Duration, wall: SystemTime) -> Option<Self> {
        let when = match (&config.cron, config.interval) {
            (Some(cron), _) => When::Cron(Box::new(cron.clone())),
            (None, Some(every)) => When::Every(every),
            (None, None) => return None,
        };
        let mut runs = Self {
            when,
            next: Some(now),
            slot: None,
            active: None,
        };
        if matches!(runs.when, When::Cron(_)) {
            runs.plan_cron(now, wall, wall);
        }
        Some(runs)
    }

    /// Whether a run should begin now.
    pub fn due(&self, now: Duration) -> bool {
        self.active.is_none() && self.next.is_some_and(|next| now >= next)
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

    /// Whether the current run has sent its batches and has every answer.
    pub fn done(&self, in_flight: usize) -> bool {
        self.active == Some(0) && in_flight == 0
    }

    /// Ends the current run (or counts a flush as one) and plans the next:
    /// `every` from now, or the first matching minute after now (and after
    /// the run's own minute, should the wall clock lag the monotonic one).
    pub fn end(&mut self, now: Duration, wall: SystemTime) {
        let ran = self.active.take().is_some();
        match self.when {
            When::Every(every) => self.next = Some(now + every),
            When::Cron(_) => {
                let after = match self.slot {
                    Some(slot) if ran => slot.max(wall),
                    _ => wall,
                };
                self.plan_cron(now, wall, after);
            }
        }
    }

    /// Whether a cron run's minute has passed without the run: if the
    /// target held nothing then, that was a run with nothing to send, and
    /// events that come now wait for the next matching minute (`end` it).
    /// An interval has no minute to miss: its due run starts at once.
    pub fn missed(&self, now: Duration) -> bool {
        matches!(self.when, When::Cron(_)) && self.due(now)
    }

    /// When the next run starts, or `None` while one is going (or never).
    pub fn next(&self) -> Option<Duration> {
        self.next.filter(|_| self.active.is_none())
    }

    /// Sets the next cron run to the first matching minute after `after`.
    fn plan_cron(&mut self, now: Duration, wall: SystemTime, after: SystemTime) {
        let When::Cron(cron) = &self.when else { return };
        self.slot = cron.next_after(after);
        self.next = self
            .slot
            .map(|slot| now + slot.duration_since(wall).unwrap_or(Duration::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn config(extra: &str) -> TargetConfig {
        crate::config::parse(&format!(
            r#"{{"name":"t","type":"amazonkinesis","properties":{{"key":"A","secret":"s",
            "region":"us-east-1","stream":"s"{extra}}}}}"#
        ))
        .unwrap()
    }

    const SECS: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_run_drains_its_allowance_then_the_next_is_an_interval_after_it_ends() {
        let wall = UNIX_EPOCH;
        let mut runs = Runs::for_config(&config(r#","interval":60"#), SECS(5), wall).unwrap();
        assert!(runs.due(SECS(5)), "the first run is right after start");
        runs.begin(2);
        assert!(!runs.due(SECS(6)) && runs.next().is_none());
        assert!(runs.take_batch() && runs.take_batch() && !runs.take_batch());
        assert!(!runs.done(1), "an answer is still out");
        assert!(runs.done(0));
        runs.end(SECS(8), wall);
        assert_eq!(runs.next(), Some(SECS(68)));
        assert!(Runs::for_config(&config(""), SECS(5), wall).is_none(), "realtime");
    }

    #[test]
    fn a_cron_run_starts_at_the_next_matching_minute_on_the_monotonic_clock() {
        // Wall 12:03:30 is monotonic 100 s: 12:05 is monotonic 190 s.
        let wall = UNIX_EPOCH + SECS(12 * 3600 + 3 * 60 + 30);
        let mut runs = Runs::for_config(&config(r#","cron":"*/5 * * * *""#), SECS(100), wall).unwrap();
        assert_eq!(runs.next(), Some(SECS(190)));
        assert!(!runs.due(SECS(189)) && runs.due(SECS(190)));
        // The monotonic clock ran fast: the wall says 12:04:59 at the run.
        runs.begin(0);
        runs.end(SECS(190), wall + SECS(89));
        assert_eq!(runs.next(), Some(SECS(191 + 300)), "12:10, not 12:05 again");
        // A run that goes on past 12:15 skips it: the next is 12:20.
        runs.begin(1);
        runs.end(SECS(491 + 330), wall + SECS(390 + 330));
        assert_eq!(runs.next(), Some(SECS(491 + 600)));
    }

    #[test]
    fn cron_wins_and_only_a_cron_minute_can_be_missed() {
        let wall = UNIX_EPOCH + SECS(30);
        let mut runs = Runs::for_config(&config(r#","cron":"* * * * *","interval":"5m""#), SECS(0), wall).unwrap();
        assert_eq!(runs.next(), Some(SECS(30)), "every minute, not every five");
        assert!(!runs.missed(SECS(29)));
        assert!(runs.missed(SECS(100)));
        runs.end(SECS(100), wall + SECS(100));
        assert_eq!(runs.next(), Some(SECS(150)), "00:02:00 passed: 00:03:00");
        let every = Runs::for_config(&config(r#","interval":"5m""#), SECS(0), wall).unwrap();
        assert!(every.due(SECS(100)) && !every.missed(SECS(100)));
    }
}
