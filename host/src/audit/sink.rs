//! Where call events go.

use super::CallEvent;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("audit sink {target}: {source}")]
pub struct SinkError {
    pub target: String,
    #[source]
    pub source: std::io::Error,
}

/// Receives one event per host call. An error means the event was not
/// recorded, and the mediation point then refuses the call (fail closed).
pub trait EventSink: Send + Sync {
    fn record(&self, event: &CallEvent) -> Result<(), SinkError>;
}

/// Keeps events in memory: for tests and for one-shot CLI runs that print them.
#[derive(Default)]
pub struct MemorySink {
    events: Mutex<Vec<CallEvent>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn events(&self) -> Vec<CallEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl EventSink for MemorySink {
    fn record(&self, event: &CallEvent) -> Result<(), SinkError> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
        Ok(())
    }
}

/// Appends one JSON object per line.
pub struct JsonlSink {
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
}

impl JsonlSink {
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError {
                target: path.display().to_string(),
                source,
            })?;
        Ok(JsonlSink {
            path: path.to_path_buf(),
            out: Mutex::new(BufWriter::new(file)),
        })
    }
}

impl EventSink for JsonlSink {
    fn record(&self, event: &CallEvent) -> Result<(), SinkError> {
        let mut line = serde_json::to_vec(event).expect("events serialize");
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|source| SinkError {
                target: self.path.display().to_string(),
                source,
            })
    }
}
