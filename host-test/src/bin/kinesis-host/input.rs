//! Events from the input, one per line, read on their own thread so a slow
//! pipe never stalls the runtime. Event ids are 1-based line numbers: of the
//! input file, continued by a run that resumes at a checkpoint, and counting
//! on through the files `--follow` moves to after a rotation.
//!
//! With a file, each chunk says where its lines start and where reading
//! goes on (byte offset and line in the file, which file), so that a
//! checkpoint can name the first line not yet settled. With `--follow` the
//! last file is read as it grows (see [`follow`](crate::follow)).

use crate::checkpoint::{FileIdentity, Start};
use crate::follow;
use base64::Engine as _;
use kinesis_host::wit;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// How each input line becomes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Each line is one event (trailing `\n` and `\r` removed; empty lines skipped).
    Lines,
    /// Each line is the standard base64 of one event, for binary events.
    Base64,
}

/// A file being read.
#[derive(Debug, Clone)]
pub struct Source {
    /// Counts the files this run read (and the times a file was truncated and
    /// read again from its top), from 0.
    pub generation: u32,
    /// The path it was opened at.
    pub path: PathBuf,
    pub identity: FileIdentity,
    /// An event's line in this file is its id minus this.
    pub id_base: u64,
}

/// Where reading stands.
#[derive(Debug, Clone)]
pub struct Position {
    /// `None` for stdin.
    pub source: Option<Arc<Source>>,
    /// Byte offset of the next line to read, in `source`.
    pub offset: u64,
    /// That line's 1-based number in `source`.
    pub line: u64,
    /// Lines this run read so far (events plus skipped lines).
    pub lines: u64,
    /// Empty lines skipped so far.
    pub skipped: u64,
}

/// Events read, and where their lines start: all from `end.source`.
pub struct Chunk {
    /// Packed as they were read: what `push-batch` takes, with no buffer
    /// per event and nothing left to pack.
    pub events: wit::EventBatch,
    /// Byte offset of each event's line.
    pub offsets: Vec<u64>,
    /// Reading goes on here.
    pub end: Position,
}

/// What the reader thread sends.
pub enum Input {
    Events(Chunk),
    /// End of input (never with `--follow`).
    End(Position),
    /// Unreadable input; events before it were already sent.
    Error(String),
}

/// Starts reading stdin in chunks of `chunk`.
pub fn spawn_stdin(format: InputFormat, chunk: usize) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut em = Emitter::new(tx, format, chunk);
        read_stdin(BufReader::with_capacity(1 << 20, std::io::stdin()), &mut em);
    });
    rx
}

/// Starts reading `starts` in turn (a rotated file to finish, then the
/// input); with `follow` the last one is read as it grows, through
/// rotations, until the receiver is dropped.
pub fn spawn_files(
    starts: Vec<Start>,
    follow_path: Option<PathBuf>,
    format: InputFormat,
    chunk: usize,
) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut em = Emitter::new(tx, format, chunk);
        read_files(starts, follow_path, &mut em);
    });
    rx
}

fn read_stdin(mut reader: BufReader<impl Read>, em: &mut Emitter) {
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let pos = em.position(None, offset, em.lines + 1);
                em.fail(pos, format!("input line {}: {e}", em.lines + 1));
                return;
            }
        }
        let id = em.lines + 1;
        if let Err(message) = em.take(&line, id, offset) {
            let pos = em.position(None, offset, id);
            em.fail(pos, message);
            return;
        }
        offset += line.len() as u64;
        // A chunk also ends where the input pauses (nothing more read ahead),
        // so lines from a pipe that stays open (`tail -f`) are pushed now, not
        // when `chunk` of them have come.
        if (em.full() || reader.buffer().is_empty()) && !em.send(em.position(None, offset, em.lines + 1)) {
            return;
        }
    }
    let pos = em.position(None, offset, em.lines + 1);
    em.end(pos);
}

/// The file being read now.
pub struct Current {
    pub reader: BufReader<File>,
    pub source: Arc<Source>,
    /// Where the next line starts (a partial line at the end is not counted).
    pub offset: u64,
    /// Lines of the file before `offset`.
    pub line: u64,
}

impl Current {
    pub fn open(
        mut file: File,
        path: PathBuf,
        offset: u64,
        lines_before: u64,
        generation: u32,
        id_base: u64,
    ) -> std::io::Result<Self> {
        use std::io::{Seek, SeekFrom};
        let identity = FileIdentity::of(&file)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Self {
            reader: BufReader::with_capacity(1 << 20, file),
            source: Arc::new(Source {
                generation,
                path,
                identity,
                id_base,
            }),
            offset,
            line: lines_before,
        })
    }

    /// The id the next line gets.
    pub fn next_id(&self) -> u64 {
        self.source.id_base + self.line + 1
    }

    pub fn position(&self, em: &Emitter) -> Position {
        em.position(Some(self.source.clone()), self.offset, self.line + 1)
    }
}

fn read_files(starts: Vec<Start>, follow_path: Option<PathBuf>, em: &mut Emitter) {
    let count = starts.len();
    let (mut generation, mut id_base) = (0, 0);
    let mut last = None;
    for (i, start) in starts.into_iter().enumerate() {
        let following = follow_path.as_ref().filter(|_| i + 1 == count);
        let file = match start.file {
            Some(file) => file,
            None => match following.and_then(|path| follow::wait_for(path, em)) {
                Some(file) => file,
                None => return,
            },
        };
        let mut cur = match Current::open(
            file,
            start.path.clone(),
            start.offset,
            start.lines_before,
            generation,
            id_base,
        ) {
            Ok(cur) => cur,
            Err(e) => {
                em.fail(
                    em.position(None, start.offset, start.lines_before + 1),
                    format!("cannot read input {}: {e}", start.path.display()),
                );
                return;
            }
        };
        let mut partial = Vec::new();
        loop {
            match read_available(&mut cur, &mut partial, em) {
                Ok(true) => {}
                Ok(false) => return,
                Err(message) => {
                    em.fail(cur.position(em), message);
                    return;
                }
            }
            // At the end of what the file holds now.
            if !em.send(cur.position(em)) {
                return;
            }
            let Some(path) = following else { break };
            match follow::step(path, cur, &mut partial, em) {
                Some(next) => cur = next,
                None => return,
            }
        }
        // A last line without a newline is an event too.
        if !partial.is_empty() {
            if let Err(message) = take_partial(&mut cur, &mut partial, em) {
                em.fail(cur.position(em), message);
                return;
            }
            if !em.send(cur.position(em)) {
                return;
            }
        }
        generation = cur.source.generation + 1;
        id_base = cur.source.id_base + cur.line;
        last = Some(cur);
    }
    let pos = match &last {
        Some(cur) => cur.position(em),
        None => em.position(None, 0, 1),
    };
    em.end(pos);
}

/// Reads the complete lines the file holds now; a line not yet ended stays
/// in `partial`. `Ok(false)`: the receiver is gone.
pub fn read_available(cur: &mut Current, partial: &mut Vec<u8>, em: &mut Emitter) -> Result<bool, String> {
    loop {
        match cur.reader.read_until(b'\n', partial) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(format!(
                    "input {} line {}: {e}",
                    cur.source.path.display(),
                    cur.line + 1
                ));
            }
        }
        if partial.last() != Some(&b'\n') {
            return Ok(true); // end of the file for now
        }
        em.take(partial, cur.next_id(), cur.offset)?;
        cur.offset += partial.len() as u64;
        cur.line += 1;
        partial.clear();
        if (em.full() || cur.reader.buffer().is_empty()) && !em.send(cur.position(em)) {
            return Ok(false);
        }
    }
}

/// Takes a line that has no newline (the file ended, or was rotated away).
pub fn take_partial(cur: &mut Current, partial: &mut Vec<u8>, em: &mut Emitter) -> Result<(), String> {
    em.take(partial, cur.next_id(), cur.offset)?;
    cur.offset += partial.len() as u64;
    cur.line += 1;
    partial.clear();
    Ok(())
}

/// Turns lines into events and sends them in chunks.
pub struct Emitter {
    tx: mpsc::Sender<Input>,
    format: InputFormat,
    chunk: usize,
    events: wit::EventBatch,
    offsets: Vec<u64>,
    lines: u64,
    skipped: u64,
}

impl Emitter {
    fn new(tx: mpsc::Sender<Input>, format: InputFormat, chunk: usize) -> Self {
        Self {
            tx,
            format,
            chunk,
            events: wit::EventBatch::with_capacity(chunk, 0),
            offsets: Vec::with_capacity(chunk),
            lines: 0,
            skipped: 0,
        }
    }

    /// One line as read (its `\n` included), which gets id `id`.
    fn take(&mut self, raw: &[u8], id: u64, offset: u64) -> Result<(), String> {
        self.lines += 1;
        let mut line = raw;
        while let [rest @ .., b'\n' | b'\r'] = line {
            line = rest;
        }
        if line.is_empty() {
            self.skipped += 1;
            return Ok(());
        }
        match self.format {
            InputFormat::Lines => self.events.push(id, line),
            InputFormat::Base64 => self.events.push_with(id, |buffer| {
                base64::engine::general_purpose::STANDARD
                    .decode_vec(line, buffer)
                    .map_err(|e| format!("input line {id}: not base64: {e}"))
            })?,
        }
        self.offsets.push(offset);
        Ok(())
    }

    fn full(&self) -> bool {
        self.events.len() >= self.chunk
    }

    pub fn position(&self, source: Option<Arc<Source>>, offset: u64, line: u64) -> Position {
        Position {
            source,
            offset,
            line,
            lines: self.lines,
            skipped: self.skipped,
        }
    }

    /// Sends the events taken so far, if any; `false` once the receiver is gone.
    pub fn send(&mut self, end: Position) -> bool {
        if self.events.is_empty() {
            return !self.tx.is_closed();
        }
        // The next chunk's buffer starts as large as this one's.
        let next = wit::EventBatch::with_capacity(self.chunk, self.events.data_len());
        let chunk = Chunk {
            events: std::mem::replace(&mut self.events, next),
            offsets: std::mem::replace(&mut self.offsets, Vec::with_capacity(self.chunk)),
            end,
        };
        self.tx.blocking_send(Input::Events(chunk)).is_ok()
    }

    pub fn closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The events taken so far, then the error.
    pub fn fail(&mut self, at: Position, message: String) {
        if self.send(at) {
            let _ = self.tx.blocking_send(Input::Error(message));
        }
    }

    fn end(&mut self, at: Position) {
        if self.send(at.clone()) {
            let _ = self.tx.blocking_send(Input::End(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kh-in-{tag}-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn start(path: &std::path::Path, offset: u64, lines_before: u64) -> Start {
        Start {
            path: path.to_path_buf(),
            file: Some(File::open(path).unwrap()),
            offset,
            lines_before,
        }
    }

    /// (id, data, offset) of every event until `until` holds, or the input ends.
    fn collect(
        rx: &mut mpsc::Receiver<Input>,
        until: impl Fn(&[(u64, Vec<u8>, u64)]) -> bool,
    ) -> Vec<(u64, Vec<u8>, u64)> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !until(&got) {
            assert!(Instant::now() < deadline, "timed out with {got:?}");
            match rx.try_recv() {
                Ok(Input::Events(chunk)) => got.extend(
                    chunk
                        .events
                        .iter()
                        .zip(chunk.offsets)
                        .map(|((id, data), o)| (id, data.to_vec(), o)),
                ),
                Ok(Input::End(_)) => break,
                Ok(Input::Error(e)) => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        got
    }

    #[test]
    fn a_resumed_file_continues_its_line_numbers_and_offsets() {
        let dir = temp_dir("resume");
        let path = dir.join("in.txt");
        std::fs::write(&path, "one\ntwo\n\nfour\r\nfive").unwrap();
        let mut rx = spawn_files(vec![start(&path, 4, 1)], None, InputFormat::Lines, 2);
        let got = collect(&mut rx, |_| false);
        assert_eq!(
            got,
            vec![
                (2, b"two".to_vec(), 4),
                (4, b"four".to_vec(), 9),
                (5, b"five".to_vec(), 15)
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn following_reads_through_a_truncation_and_a_rename() {
        let dir = temp_dir("follow");
        let path = dir.join("app.log");
        let append = |p: &std::path::Path, text: &str| {
            File::options()
                .append(true)
                .create(true)
                .open(p)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap()
        };
        append(&path, "a1\na2\n");
        let mut rx = spawn_files(vec![start(&path, 0, 0)], Some(path.clone()), InputFormat::Lines, 100);
        let n = |k: usize| move |got: &[(u64, Vec<u8>, u64)]| got.len() >= k;
        let mut got = collect(&mut rx, n(2));
        // A line is taken only once it ends.
        append(&path, "a3");
        std::thread::sleep(Duration::from_millis(300));
        append(&path, "\n");
        got.extend(collect(&mut rx, n(1)));
        // copytruncate
        File::options().write(true).open(&path).unwrap().set_len(0).unwrap();
        append(&path, "b1\n");
        got.extend(collect(&mut rx, n(1)));
        // rename and create, the old file written to before the new one comes
        std::fs::rename(&path, dir.join("app.log.1")).unwrap();
        append(&dir.join("app.log.1"), "b2\n");
        std::thread::sleep(Duration::from_millis(300));
        append(&path, "c1\n");
        got.extend(collect(&mut rx, n(2)));
        // truncated and written past the old offset before a look: the head tells
        let mut f = File::options().write(true).open(&path).unwrap();
        f.set_len(0).unwrap();
        f.write_all(b"longer line d1\n").unwrap();
        got.extend(collect(&mut rx, n(1)));
        std::thread::sleep(Duration::from_millis(300));
        while let Ok(Input::Events(chunk)) = rx.try_recv() {
            got.extend(
                chunk
                    .events
                    .iter()
                    .zip(chunk.offsets)
                    .map(|((id, data), o)| (id, data.to_vec(), o)),
            );
        }
        let lines: Vec<(u64, &[u8], u64)> = got.iter().map(|(id, d, o)| (*id, d.as_slice(), *o)).collect();
        assert_eq!(
            lines,
            vec![
                (1, &b"a1"[..], 0),
                (2, b"a2", 3),
                (3, b"a3", 6),
                (4, b"b1", 0),
                (5, b"b2", 3),
                (6, b"c1", 0),
                (7, b"longer line d1", 0)
            ]
        );
        drop(rx);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
