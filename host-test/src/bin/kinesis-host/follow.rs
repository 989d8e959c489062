//! `--follow`: the input file is read as it grows, like `tail -F`. At the
//! end of what it holds the reader looks every [`POLL`] at the path:
//!
//! - another file there (rotation by rename and create): what was written to
//!   the old file until then is read to its end, then the new file from its
//!   top;
//! - the same file, shorter than what was read, or with other first bytes
//!   (`copytruncate`): it is read again from its top;
//! - nothing there: the old file is still read, until a new one appears.
//!
//! Each file read gets a new [`Source`] generation, so a checkpoint always
//! names the file its position is in.

use crate::checkpoint::{FileIdentity, HEAD_BYTES};
use crate::input::{Current, Emitter, Source, read_available, take_partial};
use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often a followed file is looked at when it has nothing new.
pub const POLL: Duration = Duration::from_millis(100);

/// Waits for `path` to appear; `None` once the receiver is gone.
pub fn wait_for(path: &Path, em: &Emitter) -> Option<File> {
    let mut said = false;
    loop {
        if em.closed() {
            return None;
        }
        match File::open(path) {
            Ok(file) => return Some(file),
            Err(e) if !said => {
                eprintln!("kinesis-host: waiting for {} ({e})", path.display());
                said = true;
            }
            Err(_) => {}
        }
        std::thread::sleep(POLL);
    }
}

/// A wait, then one look at `path`, once `cur` has nothing more: the file to read on
/// (the same, the new one after a rotation, the same from its top after a
/// truncation). `None`: stop (the receiver is gone, or an error was sent).
pub fn step(path: &Path, mut cur: Current, partial: &mut Vec<u8>, em: &mut Emitter) -> Option<Current> {
    if em.closed() {
        return None;
    }
    // Wait first and look then, right before reading on: what a truncation
    // left past the old offset must not be read as the old file's lines.
    std::thread::sleep(POLL);
    let Ok(meta) = fs::metadata(path) else {
        // Renamed away, nothing new yet: the old file may still grow.
        return Some(cur);
    };
    if !cur.source.identity.same_inode(&meta) {
        // Finish the old file: what was written to it before the new one came.
        if !finish(&mut cur, partial, em) {
            return None;
        }
        let Ok(file) = File::open(path) else {
            return Some(cur);
        };
        eprintln!(
            "kinesis-host: {} was rotated: reading the new file from its top",
            path.display()
        );
        return reopen(file, path, &cur, em);
    }
    let file = cur.reader.get_ref();
    let shorter = meta.len() < cur.offset + partial.len() as u64;
    if shorter || !cur.source.identity.head_matches(file).unwrap_or(true) {
        // What lies past the old offset now is new content: read from the
        // top only. A line begun before the truncation is taken as it is.
        if !partial.is_empty()
            && let Err(message) = take_partial(&mut cur, partial, em)
        {
            em.fail(cur.position(em), message);
            return None;
        }
        if !em.send(cur.position(em)) {
            return None;
        }
        eprintln!(
            "kinesis-host: {} was truncated: reading it again from its top",
            path.display()
        );
        let Ok(file) = cur.reader.get_ref().try_clone() else {
            return Some(cur);
        };
        return reopen(file, path, &cur, em);
    }
    // The same file. One that was short when opened is identified better
    // by a longer head.
    if cur.source.identity.head_len < HEAD_BYTES
        && meta.len() > cur.source.identity.head_len
        && let Ok(identity) = FileIdentity::of(file)
    {
        cur.source = Arc::new(Source {
            identity,
            ..(*cur.source).clone()
        });
    }
    Some(cur)
}

/// Reads `cur` to its end, a last line without newline included, and sends
/// it; `false`: stop.
fn finish(cur: &mut Current, partial: &mut Vec<u8>, em: &mut Emitter) -> bool {
    let result = read_available(cur, partial, em).and_then(|open| {
        if open && !partial.is_empty() {
            take_partial(cur, partial, em)?;
        }
        Ok(open)
    });
    match result {
        Ok(true) => em.send(cur.position(em)),
        Ok(false) => false,
        Err(message) => {
            em.fail(cur.position(em), message);
            false
        }
    }
}

/// The next generation: `file` from its top, ids counting on after `cur`'s.
fn reopen(file: File, path: &Path, cur: &Current, em: &mut Emitter) -> Option<Current> {
    match Current::open(
        file,
        path.to_path_buf(),
        0,
        0,
        cur.source.generation + 1,
        cur.source.id_base + cur.line,
    ) {
        Ok(next) => Some(next),
        Err(e) => {
            em.fail(cur.position(em), format!("cannot read input {}: {e}", path.display()));
            None
        }
    }
}
