//! Many hosts, one truth: hosts that rotate secrets against one OpenBao
//! cluster coordinate through records in its KV v2 mount, never through a
//! protocol of their own. OpenBao's integrated Raft orders every write and
//! every record write here is a check-and-set, so two hosts that race for
//! a record find out from the server which of them won.
//!
//! Three kinds of record, under `agentward-cluster/` in the mount:
//!
//! * a **lease** per change being driven ([`lease`]): which host drives it,
//!   renewed while the work goes on. A host that stops renewing (it died,
//!   or lost the network) loses it once its TTL has passed by the server's
//!   clock, and then any host may take the change over and `resume` it;
//! * a **claim** per secret under change ([`claims`]): which change is
//!   rotating it. A claim lives as long as its change is unfinished, so a
//!   secret whose rotation was interrupted is never started again by
//!   another change before its own change is finished;
//! * the change's **replica** ([`replica`]): its snapshot and every journal
//!   record, written before the effect each record announces, so the host
//!   that takes a change over continues from exactly where it stopped.
//!
//! Liveness is per change, not per secret: a change's claims are alive
//! while its lease is, so renewing costs one write per change however many
//! secrets it holds (the way etcd attaches keys to one lease).

pub mod claims;
pub mod lease;
pub mod replica;

use crate::store::openbao::{OpenBaoStore, WrittenRecord, CLUSTER_DIR};
use crate::store::StoreError;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The TTL of a change's lease unless the workflow says otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("change {change_id} is being driven by {holder}, whose lease runs {left_s} s more (until server time {until})\n  fix: if that process is still running, let it finish; if it died, run `agentward resume {change_id}` again once its lease has run out")]
    LeaseHeld {
        change_id: String,
        holder: String,
        left_s: u64,
        until: String,
    },
    #[error("secret {path} is claimed by change {by}, which {state}, so change {change_id} did nothing\n  fix: {fix}")]
    Claimed {
        path: String,
        change_id: String,
        by: String,
        state: String,
        fix: String,
    },
    #[error("change {change_id} lost its lease: {reason}\n  fix: check this host's connection to OpenBao, then run `agentward resume {change_id}` (on any host)")]
    LeaseLost { change_id: String, reason: String },
    #[error("the replica of change {change_id} in OpenBao: {reason}\n  fix: {fix}")]
    Replica {
        change_id: String,
        reason: String,
        fix: String,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// This host's client of the cluster's coordination records.
#[derive(Clone)]
pub struct Cluster {
    store: OpenBaoStore,
    /// Names this process in the records it holds: host, pid and a nonce,
    /// so a restarted process on the same host is another holder.
    holder: String,
    ttl: Duration,
}

impl Cluster {
    /// `store`: a client with a token that may read and write
    /// `agentward-cluster/*` in its mount.
    pub fn new(store: OpenBaoStore, ttl: Duration) -> Cluster {
        let nonce: u32 = rand::random();
        Cluster {
            store,
            holder: format!("{} (pid {}, {nonce:08x})", host_name(), std::process::id()),
            ttl,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn read(&self, path: &str) -> Result<Option<WrittenRecord>, StoreError> {
        self.store.record_written(&format!("{CLUSTER_DIR}/{path}"))
    }

    /// A check-and-set write: `false` when the record is no longer at
    /// `version`.
    fn write(
        &self,
        path: &str,
        version: u32,
        data: Map<String, Value>,
    ) -> Result<bool, StoreError> {
        self.store
            .write_record(&format!("{CLUSTER_DIR}/{path}"), version, &data)
    }

    fn delete(&self, path: &str) -> Result<(), StoreError> {
        self.store.delete_record(&format!("{CLUSTER_DIR}/{path}"))
    }

    fn names(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        self.store.record_names(&format!("{CLUSTER_DIR}/{dir}"))
    }
}

/// Runs `each` on every one of `items`, `workers` at once, and returns the
/// first error; once one has failed no further item is begun. Each item is
/// a record write (a claim, a journal batch deleted), which waits on a Raft
/// commit across the cluster, not on this host.
pub fn at_once<T: Sync, E: Send>(
    items: &[T],
    workers: usize,
    each: impl Fn(&T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<E>> = Mutex::new(None);
    let failed_yet = || failed.lock().unwrap_or_else(|p| p.into_inner()).is_some();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if failed_yet() {
                        return;
                    }
                    if let Err(e) = each(item) {
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// The record's string field `name`.
fn text<'a>(record: &'a WrittenRecord, name: &str) -> Option<&'a str> {
    record.data.get(name).and_then(Value::as_str)
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "unknown-host".to_string(),
    }
}
