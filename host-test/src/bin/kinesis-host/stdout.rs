//! The report's lines on stdout. A reader that goes away before the end
//! (`kinesis-host run ... | head`) must not turn a finished run into a
//! panic: what was delivered is delivered, and the exit code says so.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout refused a line: the rest of the report is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line of the report, or nothing once stdout is gone. A broken
/// pipe is the reader's choice and goes unsaid; any other error (a full
/// disk) is said once on stderr.
pub fn line(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            eprintln!("kinesis-host: cannot write the report to stdout: {e}");
        }
    }
}
