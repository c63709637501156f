//! A change's replica in OpenBao: `changes/CHANGE/snapshot` (the manifest
//! as the host that took the change held it, and the last journal record
//! it holds) and `changes/CHANGE/journal/FIRST`, one record per batch of
//! journal lines made durable together, `FIRST` being the sequence number
//! of its first line.
//!
//! A batch is written with check-and-set version 0: it may be created, never
//! replaced. Two hosts that both believed they drove the change would both
//! write the batch after the last one they saw, and the second is refused,
//! so the replica never forks. A batch whose write was answered by a lost
//! connection is read back: if it holds what was sent, the write took.
//!
//! When the change closes, its final snapshot holds every record, and the
//! batches are deleted ([`Cluster::prune_journal`]): a change of a thousand
//! secrets would otherwise leave hundreds of records behind for good.
//!
//! The lines are what `manifests/CHANGE.journal` holds (item states,
//! intents, versions, no secret values), so replaying a replica is
//! replaying a journal.

use super::{text, Cluster, ClusterError};
use serde_json::{json, Map};
use std::sync::Mutex;

/// Sends a held change's journal records to its replica, in order.
///
/// Every journal a host opens for the change while holding it shares one
/// writer, so records from the items in flight and from the change's own
/// steps reach the replica as one gapless sequence: records are queued in
/// sequence order (under the manifest's lock), each send takes everything
/// queued, one send at a time, and after a failed send every later one
/// fails too, since a record after a gap could never be replayed.
pub struct ReplicaWriter {
    cluster: Cluster,
    change_id: String,
    queue: Mutex<Queue>,
    sending: Mutex<Option<String>>,
}

#[derive(Default)]
struct Queue {
    first: u64,
    lines: String,
}

impl ReplicaWriter {
    pub fn new(cluster: &Cluster, change_id: &str) -> ReplicaWriter {
        ReplicaWriter {
            cluster: cluster.clone(),
            change_id: change_id.to_string(),
            queue: Mutex::default(),
            sending: Mutex::new(None),
        }
    }

    /// Queues record `seq`, one JSON line.
    pub fn push(&self, seq: u64, line: &[u8]) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.lines.is_empty() {
            queue.first = seq;
        }
        queue
            .lines
            .push_str(std::str::from_utf8(line).expect("journal lines are JSON"));
    }

    /// Sends every queued record as one batch.
    pub fn send(&self) -> Result<(), ClusterError> {
        let mut broken = self.sending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(reason) = &*broken {
            return Err(self.cluster.forked_or(&self.change_id, reason));
        }
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.lines.is_empty() {
            return Ok(());
        }
        self.cluster
            .append_journal(&self.change_id, batch.first, &batch.lines)
            .inspect_err(|e| *broken = Some(e.to_string()))
    }
}

/// A change as its replica holds it.
pub struct Replica {
    /// The manifest's JSON.
    pub snapshot: String,
    /// Journal lines after the snapshot, in order.
    pub journal: String,
    /// The sequence number of the last record either holds.
    pub last_seq: u64,
}

fn dir(change_id: &str) -> String {
    format!("changes/{change_id}/")
}

impl Cluster {
    /// Replaces change `change_id`'s snapshot; journal batches up to
    /// `journal_seq` are then superseded.
    pub fn put_snapshot(
        &self,
        change_id: &str,
        manifest: &str,
        journal_seq: u64,
    ) -> Result<(), ClusterError> {
        let path = format!("{}snapshot", dir(change_id));
        for _ in 0..3 {
            let version = self.read(&path)?.map_or(0, |r| r.version);
            let mut data = Map::new();
            data.insert("manifest".into(), json!(manifest));
            data.insert("journal_seq".into(), json!(journal_seq));
            data.insert("holder".into(), json!(self.holder));
            if self.write(&path, version, data)? {
                return Ok(());
            }
        }
        Err(self.forked(
            change_id,
            "its snapshot kept changing under this host's writes",
        ))
    }

    /// Adds the batch of journal `lines` whose first record is `first`.
    pub fn append_journal(
        &self,
        change_id: &str,
        first: u64,
        lines: &str,
    ) -> Result<(), ClusterError> {
        let path = format!("{}journal/{first:012}", dir(change_id));
        let mut data = Map::new();
        data.insert("lines".into(), json!(lines));
        let written = match self.write(&path, 0, data) {
            Ok(written) => written,
            // The answer was lost: the batch may be there already.
            Err(e) => {
                let there =
                    matches!(self.read(&path), Ok(Some(r)) if text(&r, "lines") == Some(lines));
                return if there { Ok(()) } else { Err(e.into()) };
            }
        };
        if written {
            return Ok(());
        }
        match self.read(&path)? {
            Some(r) if text(&r, "lines") == Some(lines) => Ok(()),
            _ => Err(self.forked(
                change_id,
                &format!("journal record {first} is already there with other contents"),
            )),
        }
    }

    /// Deletes change `change_id`'s journal batches that a snapshot at
    /// `journal_seq` holds wholly (see [`Cluster::fetch`]), `workers` at
    /// once. Returns how many it deleted. Only the change's holder calls it,
    /// after writing that snapshot, so no host reads the batches meanwhile.
    pub fn prune_journal(
        &self,
        change_id: &str,
        journal_seq: u64,
        workers: usize,
    ) -> Result<usize, ClusterError> {
        let journal = format!("{}journal/", dir(change_id));
        let held: Vec<String> = self
            .names(&journal)?
            .into_iter()
            .filter(|name| name.parse::<u64>().is_ok_and(|first| first <= journal_seq))
            .collect();
        super::at_once(&held, workers, |name| {
            self.delete(&format!("{journal}{name}"))
        })?;
        Ok(held.len())
    }

    /// A send after a failed one.
    fn forked_or(&self, change_id: &str, earlier: &str) -> ClusterError {
        ClusterError::Replica {
            change_id: change_id.to_string(),
            reason: format!("an earlier batch of journal records did not reach it ({earlier})"),
            fix: "bring OpenBao back, then `agentward resume` the change".into(),
        }
    }

    fn forked(&self, change_id: &str, what: &str) -> ClusterError {
        ClusterError::Replica {
            change_id: change_id.to_string(),
            reason: format!("{what}: another host is driving this change"),
            fix: "stop the other host's run of it (its lease names it), then resume".into(),
        }
    }

    /// The replica of change `change_id`, if a host ever held it.
    pub fn fetch(&self, change_id: &str) -> Result<Option<Replica>, ClusterError> {
        let Some(snapshot) = self.read(&format!("{}snapshot", dir(change_id)))? else {
            return Ok(None);
        };
        let corrupt = |reason: String| {
            ClusterError::Replica {
            change_id: change_id.to_string(),
            reason,
            fix: "restore the change's records in OpenBao from a backup (KV v2 keeps earlier versions)".into(),
        }
        };
        let manifest = text(&snapshot, "manifest")
            .ok_or_else(|| corrupt("its snapshot holds no manifest".into()))?
            .to_string();
        let snapshot_seq = snapshot
            .data
            .get("journal_seq")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let mut batches: Vec<u64> = Vec::new();
        for name in self.names(&format!("{}journal/", dir(change_id)))? {
            let first: u64 = name.parse().map_err(|_| {
                corrupt(format!(
                    "journal record {name:?} is not named by a sequence number"
                ))
            })?;
            // A snapshot is taken with no batch in flight: batches
            // starting at or before it are wholly in it.
            if first > snapshot_seq {
                batches.push(first);
            }
        }
        batches.sort_unstable();
        let mut journal = String::new();
        for first in batches {
            let path = format!("{}journal/{first:012}", dir(change_id));
            let batch = self.read(&path)?.ok_or_else(|| {
                corrupt(format!("journal record {first} vanished while it was read"))
            })?;
            journal.push_str(
                text(&batch, "lines")
                    .ok_or_else(|| corrupt(format!("journal record {first} holds no lines")))?,
            );
        }
        let last_seq = last_seq(&journal).unwrap_or(snapshot_seq).max(snapshot_seq);
        Ok(Some(Replica {
            snapshot: manifest,
            journal,
            last_seq,
        }))
    }
}

/// The `seq` of the last journal line.
fn last_seq(journal: &str) -> Option<u64> {
    let line = journal.lines().rev().find(|l| !l.is_empty())?;
    serde_json::from_str::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}
