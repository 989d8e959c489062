//! Events from the input, one per line, read on their own thread so a slow
//! pipe never stalls the runtime. Event ids are 1-based line numbers.

use base64::Engine as _;
use kinesis_host::wit;
use std::io::{BufRead, BufReader, Read};
use tokio::sync::mpsc;

/// How each input line becomes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Each line is one event (trailing `\n` and `\r` removed; empty lines skipped).
    Lines,
    /// Each line is the standard base64 of one event, for binary events.
    Base64,
}

/// What the reader thread sends.
pub enum Input {
    Events(Vec<wit::Event>),
    /// End of input: lines read and empty lines skipped.
    End {
        lines: u64,
        skipped: u64,
    },
    /// Unreadable input; events before it were already sent.
    Error(String),
}

/// Starts reading `source` (a path, or `-` for stdin) in chunks of `chunk`.
pub fn spawn(source: String, format: InputFormat, chunk: usize) -> Result<mpsc::Receiver<Input>, String> {
    let reader: Box<dyn Read + Send> = if source == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&source).map_err(|e| format!("cannot read input {source}: {e}"))?)
    };
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || read(BufReader::with_capacity(1 << 20, reader), format, chunk, &tx));
    Ok(rx)
}

fn read(mut reader: BufReader<impl Read>, format: InputFormat, chunk: usize, tx: &mpsc::Sender<Input>) {
    let (mut lines, mut skipped) = (0u64, 0u64);
    let mut events = Vec::with_capacity(chunk);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Input::Events(std::mem::take(&mut events)));
                let _ = tx.blocking_send(Input::Error(format!("input line {}: {e}", lines + 1)));
                return;
            }
        }
        lines += 1;
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            skipped += 1;
            continue;
        }
        let data = match format {
            InputFormat::Lines => line.clone(),
            InputFormat::Base64 => match base64::engine::general_purpose::STANDARD.decode(&line) {
                Ok(d) => d,
                Err(e) => {
                    let _ = tx.blocking_send(Input::Events(std::mem::take(&mut events)));
                    let _ = tx.blocking_send(Input::Error(format!("input line {lines}: not base64: {e}")));
                    return;
                }
            },
        };
        events.push(wit::Event { id: lines, data });
        // A chunk also ends where the input pauses (nothing more read ahead),
        // so lines from a pipe that stays open (`tail -f`) are pushed now, not
        // when `chunk` of them have come.
        if (events.len() >= chunk || reader.buffer().is_empty())
            && tx
                .blocking_send(Input::Events(std::mem::replace(&mut events, Vec::with_capacity(chunk))))
                .is_err()
        {
            return;
        }
    }
    if !events.is_empty() {
        let _ = tx.blocking_send(Input::Events(events));
    }
    let _ = tx.blocking_send(Input::End { lines, skipped });
}
