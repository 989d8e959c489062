//! `--dead-letter FILE`: every event that fails for good is appended to FILE
//! as the input line it came from (`--input-format base64`: its base64), so
//! `kinesis-host run --input FILE` replays it; why it failed goes to the
//! sidecar `FILE.jsonl`, one JSON object a line, `dead_letter_line` naming
//! its line in FILE. `{target}` in FILE gives each target a file of its own.
//!
//! Records are appended with one write per batch of outcomes. A run killed in
//! the middle of one can leave a last line without its newline: the next run
//! cuts it off before appending (that event was not checkpointed yet, so it
//! is sent again and, if it fails again, written again).

use crate::input::{InputFormat, Source};
use base64::Engine as _;
use kinesis_host::wit;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

struct Letterbox {
    path: PathBuf,
    events: File,
    sidecar: File,
    /// Lines FILE holds (written and buffered).
    lines: u64,
    event_buf: Vec<u8>,
    sidecar_buf: Vec<u8>,
}

pub struct DeadLetters {
    boxes: Vec<Letterbox>,
    /// Each target's box.
    by_target: Vec<usize>,
    names: Vec<String>,
    format: InputFormat,
    /// Events written this run.
    pub written: u64,
}

#[derive(serde::Serialize)]
struct Why<'a> {
    dead_letter_line: u64,
    target: &'a str,
    id: u64,
    /// The file the event came from and its line there (absent for stdin).
    input: Option<String>,
    input_line: Option<u64>,
    code: &'a str,
    message: &'a str,
    origin: &'static str,
    retryable: bool,
    maybe_delivered: bool,
    time_unix_ms: u64,
}

/// The sidecar of dead-letter file `path`.
pub fn sidecar_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".jsonl");
    PathBuf::from(s)
}

impl DeadLetters {
    /// Opens (creates) the files for `targets` (names, in the run's order).
    pub fn open(pattern: &str, targets: &[String], format: InputFormat) -> Result<Self, String> {
        let mut boxes: Vec<Letterbox> = Vec::new();
        let mut by_target = Vec::with_capacity(targets.len());
        for name in targets {
            let path = PathBuf::from(pattern.replace("{target}", name));
            if let Some(i) = boxes.iter().position(|b| b.path == path) {
                by_target.push(i);
                continue;
            }
            let cannot = |p: &Path, e: io::Error| format!("cannot open dead-letter file {}: {e}", p.display());
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
            }
            let (events, lines) = open_repaired(&path).map_err(|e| cannot(&path, e))?;
            let side = sidecar_of(&path);
            let (sidecar, _) = open_repaired(&side).map_err(|e| cannot(&side, e))?;
            by_target.push(boxes.len());
            boxes.push(Letterbox {
                path,
                events,
                sidecar,
                lines,
                event_buf: Vec::new(),
                sidecar_buf: Vec::new(),
            });
        }
        Ok(Self {
            boxes,
            by_target,
            names: targets.to_vec(),
            format,
            written: 0,
        })
    }

    /// Adds a failed event of target `target` (written at [`commit`](Self::commit)).
    pub fn add(&mut self, target: usize, id: u64, from: Option<(u64, &Source)>, data: &[u8], failed: &wit::Failed) {
        let Some(b) = self.by_target.get(target).and_then(|&i| self.boxes.get_mut(i)) else {
            return;
        };
        match self.format {
            InputFormat::Lines => b.event_buf.extend_from_slice(data),
            InputFormat::Base64 => b
                .event_buf
                .extend_from_slice(base64::engine::general_purpose::STANDARD.encode(data).as_bytes()),
        }
        b.event_buf.push(b'\n');
        b.lines += 1;
        let why = Why {
            dead_letter_line: b.lines,
            target: &self.names[target],
            id,
            input: from.map(|(_, s)| s.path.display().to_string()),
            input_line: from.map(|(line, _)| line),
            code: &failed.code,
            message: &failed.message,
            origin: match failed.origin {
                wit::FailureOrigin::Kinesis => "kinesis",
                wit::FailureOrigin::Transport => "transport",
                wit::FailureOrigin::Target => "target",
            },
            retryable: failed.retryable,
            maybe_delivered: failed.maybe_delivered,
            time_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        if serde_json::to_writer(&mut b.sidecar_buf, &why).is_ok() {
            b.sidecar_buf.push(b'\n');
        }
        self.written += 1;
    }

    /// Appends what was added: the events first, then why.
    pub fn commit(&mut self) -> Result<(), String> {
        for b in &mut self.boxes {
            for (file, buf, path) in [
                (&mut b.events, &mut b.event_buf, b.path.clone()),
                (&mut b.sidecar, &mut b.sidecar_buf, sidecar_of(&b.path)),
            ] {
                if buf.is_empty() {
                    continue;
                }
                file.write_all(buf)
                    .map_err(|e| format!("cannot write dead-letter file {}: {e}", path.display()))?;
                buf.clear();
            }
        }
        Ok(())
    }

    /// Handles to fsync before a checkpoint is saved.
    pub fn sync_handles(&self) -> Vec<File> {
        self.boxes
            .iter()
            .flat_map(|b| [b.events.try_clone(), b.sidecar.try_clone()])
            .filter_map(Result::ok)
            .collect()
    }

    pub fn sync(&self) {
        for b in &self.boxes {
            let _ = b.events.sync_data();
            let _ = b.sidecar.sync_data();
        }
    }

    pub fn paths(&self) -> Vec<String> {
        self.boxes.iter().map(|b| b.path.display().to_string()).collect()
    }
}

/// Opens `path` for appending, first cutting off a last line without newline;
/// returns it and the lines it holds.
fn open_repaired(path: &Path) -> io::Result<(File, u64)> {
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    let (mut lines, mut end_of_last_line, mut len) = (0u64, 0u64, 0u64);
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            lines += 1;
            end_of_last_line = len + i as u64 + 1;
        }
        len += n as u64;
    }
    if len > end_of_last_line {
        eprintln!(
            "kinesis-host: {}: cutting off a last line without newline ({} bytes) left by a run that was stopped while writing it",
            path.display(),
            len - end_of_last_line
        );
        file.set_len(end_of_last_line)?;
    }
    Ok((file, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str) -> wit::Failed {
        wit::Failed {
            code: code.into(),
            message: "no such stream".into(),
            origin: wit::FailureOrigin::Kinesis,
            retryable: false,
            maybe_delivered: false,
        }
    }

    #[test]
    fn writes_replayable_lines_and_why_and_repairs_a_cut_line() {
        let dir = std::env::temp_dir().join(format!("kh-dl-{}-{}", std::process::id(), fastrand::u64(..)));
        let pattern = dir.join("dead-{target}.txt").display().to_string();
        let names = vec!["a".to_string(), "b".to_string()];
        let mut dl = DeadLetters::open(&pattern, &names, InputFormat::Base64).unwrap();
        dl.add(1, 7, None, b"\x00\xffbin", &failed("ResourceNotFoundException"));
        dl.add(1, 9, None, b"two", &failed("ResourceNotFoundException"));
        dl.commit().unwrap();
        let b = dir.join("dead-b.txt");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "AP9iaW4=\ndHdv\n");
        assert_eq!(std::fs::read_to_string(dir.join("dead-a.txt")).unwrap(), "");
        let why: Vec<serde_json::Value> = std::fs::read_to_string(sidecar_of(&b))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(why[1]["dead_letter_line"], 2);
        assert_eq!(why[1]["id"], 9);
        assert_eq!(why[1]["target"], "b");
        assert_eq!(why[1]["code"], "ResourceNotFoundException");
        drop(dl);

        // A line cut short is dropped; numbering goes on after the whole ones.
        OpenOptions::new()
            .append(true)
            .open(&b)
            .unwrap()
            .write_all(b"dGhy")
            .unwrap();
        let mut dl = DeadLetters::open(&pattern, &names, InputFormat::Base64).unwrap();
        dl.add(1, 11, None, b"three", &failed("X"));
        dl.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "AP9iaW4=\ndHdv\ndGhyZWU=\n");
        let last = std::fs::read_to_string(sidecar_of(&b)).unwrap();
        let last: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        assert_eq!(last["dead_letter_line"], 3);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
