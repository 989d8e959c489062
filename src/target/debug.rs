//! SPEC 6 `debug.status`: the line each event is logged as.

use crate::batch::Record;

/// Longest event content a debug line shows.
const MAX_LOGGED_BYTES: usize = 4096;

/// `event 7: {"msg":"hi"}`: one line, control characters escaped, long content cut.
pub(super) fn event_line(record: &Record) -> String {
    let shown = &record.data[..record.data.len().min(MAX_LOGGED_BYTES)];
    let mut line = format!("event {}: ", record.id);
    for c in String::from_utf8_lossy(shown).chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => line.push('?'),
            c => line.push(c),
        }
    }
    if record.data.len() > shown.len() {
        line.push_str(&format!(" ... ({} bytes in all)", record.data.len()));
    }
    line
}
