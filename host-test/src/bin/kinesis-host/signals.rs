//! SIGTERM and SIGINT: the first asks for a graceful stop (no more input is
//! read, every target is flushed within `--flush-budget-s`, the report is
//! printed), the second for an immediate one (what is unsettled is reported
//! failed with `Interrupted`).

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Signals received so far, and the name of the first.
#[derive(Clone)]
pub struct Stop {
    rx: watch::Receiver<(u32, Option<&'static str>)>,
}

impl Stop {
    /// Starts listening; from here on SIGTERM and SIGINT no longer end the
    /// process by themselves.
    pub fn install() -> Result<Self, String> {
        let cannot = |e: std::io::Error| format!("cannot listen for signals: {e}");
        let mut term = signal(SignalKind::terminate()).map_err(cannot)?;
        let mut int = signal(SignalKind::interrupt()).map_err(cannot)?;
        let (tx, rx) = watch::channel((0, None));
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = term.recv() => "SIGTERM",
                    Some(()) = int.recv() => "SIGINT",
                    else => return,
                };
                let mut count = 0;
                tx.send_modify(|(n, first)| {
                    *n += 1;
                    first.get_or_insert(name);
                    count = *n;
                });
                if count == 1 {
                    eprintln!(
                        "kinesis-host: {name}: stopping: no more input is read, every target is flushed (send it again to stop at once)"
                    );
                } else if count == 2 {
                    eprintln!(
                        "kinesis-host: {name} again: stopping now; what is not settled is reported failed (Interrupted)"
                    );
                }
            }
        });
        Ok(Self { rx })
    }

    /// How many signals came.
    pub fn count(&self) -> u32 {
        self.rx.borrow().0
    }

    /// Whether a graceful stop was asked for.
    pub fn requested(&self) -> bool {
        self.count() > 0
    }

    /// The first signal's name (`SIGTERM`, `SIGINT`), once one came.
    pub fn first(&self) -> Option<&'static str> {
        self.rx.borrow().1
    }

    /// Resolves once `n` signals came (never, if the listener ended).
    pub async fn reached(&self, n: u32) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|(count, _)| *count >= n).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
