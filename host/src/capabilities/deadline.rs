//! The run's deadline as the host calls see it.
//!
//! `limits.wall_ms` must end a run wherever it is. Epoch interruption stops
//! wasm code and the runtime caps WASI's sleeps, but a host call waiting on
//! the network (`http`, `sql`, `model`, a run's OpenBao store) would wait
//! for its own timeout, the deadline long past. So each such call cuts its timeout to what is left
//! of the run, and when the deadline is what ended it, the call traps
//! ([`super::mediation::mediate_until_deadline`]): the run ends with the
//! `wall_ms` error, where a timeout handed to the guest would be an error
//! it could ignore and carry on past its deadline.

use std::time::{Duration, Instant};

/// When a run must end, and the limit that says so. A context made
/// without a run (the fuzz targets) has none: its calls keep their own
/// timeouts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deadline {
    at: Option<Instant>,
    wall_ms: u64,
}

/// The shortest timeout a capped call gets: some clients read a zero
/// timeout as none at all.
const LEAST: Duration = Duration::from_millis(1);

impl Deadline {
    pub fn new(at: Instant, wall_ms: u64) -> Self {
        Deadline {
            at: Some(at),
            wall_ms,
        }
    }

    /// What is left of the run.
    pub fn left(&self) -> Duration {
        self.at.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    pub fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// `timeout`, cut to what is left of the run.
    pub fn cap(&self, timeout: Duration) -> Duration {
        match self.at {
            None => timeout,
            Some(_) => timeout.min(self.left()).max(LEAST),
        }
    }

    /// What a call the deadline ended says on record; `detail` is how the
    /// call itself failed.
    pub fn cut_off(&self, detail: &str) -> String {
        format!(
            "stopped: the run's wall-clock deadline (limits.wall_ms = {}) passed during the call ({detail})",
            self.wall_ms
        )
    }
}
