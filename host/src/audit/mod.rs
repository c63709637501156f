//! What the mediation point records about every host call.
//!
//! One record per call, allowed or denied, handed to an [`EventSink`] (as a
//! [`CallRecord`], cheap to make on the call path; read back as a [`CallEvent`]):
//! the [`AuditLog`] (hash-chained JSONL with signed checkpoints, see
//! [`log`], [`checkpoint`], [`verify`]) in production, a [`MemorySink`] in
//! tests. Secret values never reach an event: the [`Redactor`] replaces them
//! with a keyed digest under the deployment's key ([`keys`]). [`timeline`]
//! turns records back into something a person reads.

mod call_record;
pub mod checkpoint;
pub(crate) mod encoded;
pub mod keys;
pub mod log;
pub mod record;
mod redact;
mod sink;
pub mod timeline;
pub mod verify;
pub mod witness;

/// The outcome of an effectful call's first record, written before the
/// effect (the host's mediation writes it; the timeline pairs it with the
/// outcome that follows).
pub const INTENT: &str = "intent";

/// The call of the record a role run leaves when it ends, however it ended
/// (the runtime writes it; the timeline shows what the run used).
pub const RUN_CALL: &str = "role.run";

pub use call_record::{Args, CallRecord, Caller};
pub use keys::AuditKeys;
pub use log::{AuditError, AuditLog, Durability};
pub use redact::Redactor;
pub use sink::{EventSink, MemorySink, SinkError};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// One host call, as the audit trail sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// RFC 3339, UTC.
    pub ts: String,
    /// Empty outside a change.
    pub change_id: String,
    pub role: String,
    /// sha256 of the component bytes, hex.
    pub component: String,
    /// `interface.function`, e.g. `secrets-read.read`.
    pub call: String,
    /// Arguments by name; secret values appear only as `hmac-sha256:…`.
    pub args: serde_json::Map<String, serde_json::Value>,
    pub decision: Decision,
    /// `ok`, or the error the guest received.
    pub outcome: String,
    pub duration_us: u64,
}

impl CallEvent {
    /// An allowed event stamped now, for what the host does itself rather
    /// than on a guest's call: a role run's store credential, a rotation
    /// step, an operator's `secrets exec`.
    pub fn by_host(
        change_id: &str,
        role: &str,
        component: &str,
        call: &str,
        args: serde_json::Map<String, serde_json::Value>,
        outcome: &str,
    ) -> CallEvent {
        CallEvent {
            ts: crate::time::now_rfc3339(),
            change_id: change_id.to_string(),
            role: role.to_string(),
            component: component.to_string(),
            call: call.to_string(),
            args,
            decision: Decision::Allow,
            outcome: outcome.to_string(),
            duration_us: 0,
        }
    }
}
