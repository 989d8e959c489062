//! What a run keeps besides the targets' tallies, to lose nothing when it is
//! stopped or killed: the [`Ledger`] of events not settled yet, the
//! checkpoint it gives, the dead letters; and what the report says of them.

use crate::checkpoint::{SAVE_EVERY, Saved, Saver};
use crate::dead_letter::DeadLetters;
use crate::ledger::{Ledger, Mark};
use kinesis_host::tenant::CALL_BUDGET_EXCEEDED;
use kinesis_host::{Settled, wit};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The code of events a second signal left unsettled.
pub const INTERRUPTED: &str = "Interrupted";
/// Events `debug.dont_send_logs` deliberately did not send: never dead letters.
const DONT_SEND_LOGS: &str = "DontSendLogs";

/// The report's keys for checkpoints, dead letters, signals and `--follow`.
#[derive(Debug, Default, Serialize)]
pub struct ServiceReport {
    /// The line (of the file in `checkpoint.resumed_in`, else of the input)
    /// this run resumed at from its checkpoint; `null` when it did not resume.
    pub resumed_from_line: Option<u64>,
    /// Lines before it, not read again.
    pub skipped_by_checkpoint: u64,
    pub checkpoint: Option<CheckpointReport>,
    /// Events written to the dead-letter files this run.
    pub dead_letters: u64,
    pub dead_letter_files: Vec<String>,
    /// The signal that stopped the run (`SIGTERM`, `SIGINT`), else `null`.
    pub stopped_by: Option<String>,
    /// A second signal stopped the flush: what was not settled failed with
    /// `Interrupted`.
    pub interrupted: bool,
    /// Files `--follow` moved on to: rotations, truncations.
    pub rotations: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct CheckpointReport {
    pub path: String,
    /// The rotated file the run resumed in, before the input.
    pub resumed_in: Option<String>,
    /// Why the checkpoint found did not apply (the input was read from its top).
    pub reset: Option<String>,
    /// Where the saved checkpoint points: file, 1-based line, byte offset.
    pub file: Option<String>,
    pub line: Option<u64>,
    pub offset: Option<u64>,
    /// Events some target had not settled when the run ended (held for the
    /// next run).
    pub unsettled: u64,
    /// Why a checkpoint could not be saved.
    pub error: Option<String>,
}

impl ServiceReport {
    pub fn print_text(&self) {
        if let Some(c) = &self.checkpoint {
            if let Some(why) = &c.reset {
                out!("checkpoint {}: {why}", c.path);
            }
            if let Some(line) = self.resumed_from_line {
                let file = c.resumed_in.as_deref().map(|f| format!(" of {f}")).unwrap_or_default();
                out!(
                    "resumed at line {line}{file} from checkpoint {} ({} lines before it not read again)",
                    c.path,
                    self.skipped_by_checkpoint
                );
            }
            match (&c.file, c.line, &c.error) {
                (_, _, Some(e)) => out!("checkpoint NOT saved: {e}"),
                (Some(file), Some(line), None) => out!(
                    "checkpoint {}: the next run starts at line {line} of {file}{}",
                    c.path,
                    match c.unsettled {
                        0 => String::new(),
                        n => format!(" ({n} events not settled are sent again)"),
                    }
                ),
                _ => {}
            }
        }
        if !self.dead_letter_files.is_empty() {
            out!(
                "dead letters: {} events written to {} (why: the .jsonl beside it; replay with --input)",
                self.dead_letters,
                self.dead_letter_files.join(", ")
            );
        }
        if self.rotations > 0 {
            out!("followed the input through {} rotations", self.rotations);
        }
        if let Some(signal) = &self.stopped_by {
            out!(
                "stopped by {signal}{}",
                if self.interrupted {
                    ": a second signal stopped the flush (Interrupted)"
                } else {
                    ", every target flushed"
                }
            );
        }
    }
}

/// The ledger, the checkpoint it gives, the dead letters.
pub struct Books {
    pub ledger: Option<Ledger>,
    pub dead: Option<DeadLetters>,
    pub saver: Option<Saver>,
    input: PathBuf,
    targets: Vec<String>,
    last_saved: Option<(u32, u64)>,
    last_save_at: Instant,
    /// The last mark saved.
    saved: Option<Mark>,
    /// A dead-letter write failed: checkpoints stop there.
    dead_error: Option<String>,
}

impl Books {
    pub fn new(
        input: PathBuf,
        targets: Vec<String>,
        ledger: Option<Ledger>,
        dead: Option<DeadLetters>,
        saver: Option<Saver>,
    ) -> Self {
        Self {
            ledger,
            dead,
            saver,
            input,
            targets,
            last_saved: None,
            last_save_at: Instant::now() - SAVE_EVERY,
            saved: None,
            dead_error: None,
        }
    }

    /// Outcomes target `target` settled. `finishing`: the run is ending, so
    /// a `CallBudgetExceeded` means the flush ran out of time, not that the
    /// event cannot be sent: with a checkpoint such events (and `Interrupted`
    /// ones) are held for the next run rather than dead-lettered.
    pub fn settle(&mut self, target: usize, settled: Settled, finishing: bool) {
        let Some(ledger) = &mut self.ledger else { return };
        if settled.is_empty() {
            return;
        }
        for (id, ..) in settled.delivered() {
            ledger.settle(id, false);
        }
        let checkpointing = self.saver.is_some();
        for o in &settled.failed {
            let wit::Outcome::Failed(f) = &o.outcome else { continue };
            let unfinished = f.code == INTERRUPTED || (finishing && f.code == CALL_BUDGET_EXCEEDED);
            let hold = unfinished && checkpointing;
            if let Some(dead) = &mut self.dead
                && f.code != DONT_SEND_LOGS
                && !hold
            {
                let data = ledger.data(o.id).unwrap_or_default();
                dead.add(target, o.id, ledger.line_of(o.id), data, f);
            }
            ledger.settle(o.id, hold);
        }
        if let Some(dead) = &mut self.dead
            && let Err(e) = dead.commit()
            && self.dead_error.is_none()
        {
            eprintln!("kinesis-host: {e}; the checkpoint is not moved past it");
            self.dead_error = Some(e);
        }
    }

    /// Whether a checkpoint is kept.
    pub fn checkpointing(&self) -> bool {
        self.saver.is_some()
    }

    fn mark(&self) -> Option<Mark> {
        if self.saver.is_none() || self.dead_error.is_some() {
            return None;
        }
        self.ledger.as_ref()?.mark()
    }

    fn key(mark: &Mark) -> (u32, u64) {
        (mark.source.generation, mark.offset)
    }

    /// How long until a checkpoint that moved may be saved; `None` when it
    /// did not move.
    pub fn save_due(&self) -> Option<Duration> {
        let mark = self.mark()?;
        (self.last_saved != Some(Self::key(&mark))).then(|| SAVE_EVERY.saturating_sub(self.last_save_at.elapsed()))
    }

    /// Saves the checkpoint if it moved and the last save is old enough (or `now`).
    pub fn maybe_save(&mut self, now: bool) {
        if !now && self.last_save_at.elapsed() < SAVE_EVERY {
            return;
        }
        let (Some(mark), Some(saver)) = (self.mark(), &self.saver) else {
            return;
        };
        if self.last_saved == Some(Self::key(&mark)) {
            return;
        }
        let mut saved = Saved::new(
            &self.input,
            &mark.source.path,
            mark.source.identity.clone(),
            mark.offset,
            mark.line,
        );
        saved.targets = self.targets.clone();
        saver.save(saved);
        self.last_saved = Some(Self::key(&mark));
        self.last_save_at = Instant::now();
        self.saved = Some(mark);
    }

    /// Saves the last checkpoint and waits for it; syncs the dead letters.
    pub fn finish(&mut self, report: &mut ServiceReport) {
        self.maybe_save(true);
        if let Some(dead) = &self.dead {
            dead.sync();
            report.dead_letters = dead.written;
            report.dead_letter_files = dead.paths();
        }
        if let Some(saver) = &mut self.saver {
            let error = saver.finish().or(self.dead_error.clone());
            let c = report.checkpoint.get_or_insert_with(Default::default);
            c.path = saver.path.display().to_string();
            c.error = error;
            c.unsettled = self.ledger.as_ref().map_or(0, |l| l.open() as u64);
            if let Some(mark) = &self.saved {
                c.file = Some(mark.source.path.display().to_string());
                c.line = Some(mark.line);
                c.offset = Some(mark.offset);
            }
        }
    }
}
