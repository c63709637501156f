//! Where call events go.

use super::{CallEvent, CallRecord};
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
    /// Records what the host did itself (a rotation step, a run's store
    /// credential).
    fn record(&self, event: &CallEvent) -> Result<(), SinkError>;

    /// Records a mediated call (or a run's end) before returning.
    fn record_call(&self, call: &CallRecord) -> Result<(), SinkError> {
        self.record(&call.to_event())
    }

    /// Records a call that changed and sent nothing: the sink may write it
    /// later, but before any record that comes after it, and by the next
    /// [`EventSink::sync`] or [`EventSink::flush`].
    fn record_later(&self, call: CallRecord) -> Result<(), SinkError> {
        self.record_call(&call)
    }

    /// Writes every record queued by [`EventSink::record_later`]: called
    /// when a role run ends.
    fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Makes every record so far durable: called before an effect.
    fn sync(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Keeps events in memory: for tests, and for commands that run nothing.
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
