//! SPEC 6 `debug`: its settings, and the line `debug.status` logs each event as.

use crate::record::Record;

/// SPEC 6 `debug`: what the target logs through the host, and whether it sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Debug {
    /// `debug.status`: log each event (target name and content) before processing.
    pub log_events: bool,
    /// `debug.dont_send_logs` with `debug.status`: log, send nothing, hand each event back.
    pub dont_send: bool,
}

/// Longest event content a debug line shows.
const MAX_LOGGED_BYTES: usize = 4096;

/// `event 7: {"msg":"hi"}`: one line, control characters escaped, long content cut.
pub(crate) fn event_line(record: &Record) -> String {
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
