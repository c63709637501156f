//! A change this host drives as one of a cluster's hosts
//! ([`crate::cluster`]): its lease, its claims on its secrets, and its
//! replica, kept in step with `manifests/`.
//!
//! Taking a change brings the two copies of it together: the replica wins
//! when it is ahead (another host drove the change after this one, or this
//! host never had it), the local copy when it is (it was planned here, or
//! the last records of a run that stopped never reached OpenBao, whose
//! effects therefore never began). From then on every journal record goes
//! to both before its effect ([`super::journal`]).

use super::manifest::{ItemState, Manifest, ManifestError};
use super::{Orchestrator, OrchestratorError};
use crate::cluster::lease::HeldChange;
use crate::cluster::replica::ReplicaWriter;
use crate::cluster::{Cluster, ClusterError};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub struct Held {
    cluster: Cluster,
    lease: HeldChange,
    /// Every journal record this host writes for the change goes here.
    pub(super) replica: Arc<ReplicaWriter>,
}

impl Held {
    fn take(cluster: &Cluster, dir: &Path, change_id: &str) -> Result<Held, OrchestratorError> {
        let lease = cluster.hold(change_id)?;
        let local = match Manifest::load(dir, change_id) {
            Ok(m) => Some(m),
            Err(ManifestError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let remote = cluster.fetch(change_id)?;
        let local_seq = local.as_ref().map(|m| m.journal_seq);
        match (local, remote) {
            (None, None) => {
                return Err(ManifestError::NotFound {
                    change_id: change_id.to_string(),
                    dir: dir.to_path_buf(),
                }
                .into())
            }
            (Some(m), remote) if remote.as_ref().is_none_or(|r| r.last_seq < m.journal_seq) => {
                let snapshot = serde_json::to_string(&m).expect("a manifest serialises");
                cluster.put_snapshot(change_id, &snapshot, m.journal_seq)?;
            }
            (_, Some(remote)) if local_seq.is_none_or(|seq| seq < remote.last_seq) => {
                let error = |source| ManifestError::Write {
                    path: dir.join(format!("{change_id}.json")),
                    source,
                };
                let journal = format!("{change_id}.journal");
                crate::durable::replace_file(dir, &journal, remote.journal.as_bytes())
                    .map_err(error)?;
                crate::durable::replace_file(
                    dir,
                    &format!("{change_id}.json"),
                    remote.snapshot.as_bytes(),
                )
                .map_err(error)?;
            }
            _ => {} // the same records on both sides
        }
        Ok(Held {
            cluster: cluster.clone(),
            replica: Arc::new(ReplicaWriter::new(cluster, change_id)),
            lease,
        })
    }

    pub fn took_over_from(&self) -> Option<&str> {
        self.lease.took_over_from.as_deref()
    }

    /// Claims the secrets of `m`'s unfinished items, `workers` at once.
    /// If another change holds one, the claims this call took for items
    /// that have not begun are let go again, and nothing was done.
    fn claim_all(&self, m: &Manifest, workers: usize) -> Result<(), ClusterError> {
        let open: Vec<(&str, bool)> = m
            .items
            .iter()
            .filter(|i| !i.state.is_terminal())
            .map(|i| {
                let begun = i.state != ItemState::Planned || i.intent.is_some();
                (i.path.as_str(), begun)
            })
            .collect();
        let claimed: Mutex<Vec<&str>> = Mutex::new(Vec::new());
        let change_id = self.lease.change_id();
        let claiming = crate::cluster::at_once(&open, workers, |&(path, begun)| {
            self.cluster.claim(change_id, path)?;
            if !begun {
                super::lock(&claimed).push(path);
            }
            Ok(())
        });
        if claiming.is_err() {
            for path in claimed.into_inner().unwrap_or_else(|p| p.into_inner()) {
                let _ = self.cluster.release(change_id, path);
            }
        }
        claiming
    }

    /// An item finished: its secret is free for other changes. A failure
    /// only delays that until the change closes (a closed change's claims
    /// are free), so it is logged, not raised.
    pub(super) fn release(&self, path: &str) {
        if let Err(e) = self.cluster.release(self.lease.change_id(), path) {
            tracing::warn!(change = %self.lease.change_id(), path, "letting go of the claim: {e}");
        }
    }

    /// Whether this host may still begin an effect of the change.
    pub(super) fn check(&self) -> Result<(), ClusterError> {
        self.lease.check()
    }

    /// The change closed: its final snapshot replaces the journal in the
    /// replica, and its lease says it is closed. Deleting the superseded
    /// journal batches is tidying: one left behind is never read again (the
    /// snapshot covers it), so a failure is logged, not raised.
    fn close(self, m: &Manifest, workers: usize) -> Result<(), ClusterError> {
        let change_id = self.lease.change_id();
        let snapshot = serde_json::to_string(m).expect("a manifest serialises");
        self.cluster
            .put_snapshot(change_id, &snapshot, m.journal_seq)?;
        match self
            .cluster
            .prune_journal(change_id, m.journal_seq, workers)
        {
            Ok(pruned) => tracing::debug!(change = %change_id, pruned, "journal batches deleted"),
            Err(e) => {
                tracing::warn!(change = %change_id, "deleting the closed change's journal batches: {e}")
            }
        }
        self.lease.close()
    }
}

impl Orchestrator<'_> {
    /// Takes change `change_id` for this host in `cluster` before it is
    /// driven, bringing `manifests/` up to the cluster's copy of it.
    pub fn hold(&mut self, cluster: &Cluster, change_id: &str) -> Result<(), OrchestratorError> {
        let held = Held::take(cluster, &self.manifests, change_id)?;
        let mut args = serde_json::Map::new();
        args.insert("holder".into(), cluster.holder().into());
        if let Some(previous) = held.took_over_from() {
            args.insert("took_over_from".into(), previous.into());
        }
        self.record(change_id, "rotation.hold", args, "ok")?;
        self.held = Some(held);
        Ok(())
    }

    /// Claims the change's secrets before its first effect.
    pub(super) fn claim_secrets(&self, m: &Manifest) -> Result<(), OrchestratorError> {
        if let Some(held) = &self.held {
            held.claim_all(m, self.workflow.concurrency)?;
        }
        Ok(())
    }

    /// The change closed: tells the cluster.
    pub(super) fn close_held(&mut self, m: &Manifest) -> Result<(), OrchestratorError> {
        if let Some(held) = self.held.take() {
            held.close(m, self.workflow.concurrency)?;
        }
        Ok(())
    }
}
