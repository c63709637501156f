//! Claims: `agentward-cluster/claims/SECRET` names the change rotating
//! that secret (`change_id`), or none once it let go (`released_by`).
//!
//! A change claims all its secrets before its first effect and lets go of
//! each when its item is finished. A claim held by another change is
//! honoured until that change's lease says `closed`, not merely until it
//! expires: an expired lease means the host died mid-change, and the
//! secret may have a pending version or a half-revoked credential that
//! only that change's `resume` finishes correctly.

use super::{text, Cluster, ClusterError};
use serde_json::{json, Map};

fn claim_path(secret: &str) -> String {
    format!("claims/{secret}")
}

impl Cluster {
    /// Claims `secret` for change `change_id` (a no-op when it already
    /// holds it).
    pub fn claim(&self, change_id: &str, secret: &str) -> Result<(), ClusterError> {
        let path = claim_path(secret);
        for _ in 0..3 {
            let current = self.read(&path)?;
            if let Some(claim) = &current {
                match text(claim, "change_id") {
                    Some(id) if id == change_id => return Ok(()),
                    Some(other) => self.check_claim_free(change_id, secret, other)?,
                    None => {}
                }
            }
            let mut data = Map::new();
            data.insert("change_id".into(), json!(change_id));
            data.insert("holder".into(), json!(self.holder));
            if self.write(&path, current.map_or(0, |c| c.version), data)? {
                return Ok(());
            }
        }
        Err(ClusterError::Claimed {
            path: secret.to_string(),
            change_id: change_id.to_string(),
            by: "another change".into(),
            state: "kept moving while this host tried to claim it".into(),
            fix: "run the change again when the other hosts are done".into(),
        })
    }

    /// Whether change `other`'s claim on `secret` may be taken: only once
    /// `other` is closed.
    fn check_claim_free(
        &self,
        change_id: &str,
        secret: &str,
        other: &str,
    ) -> Result<(), ClusterError> {
        let claimed = |state: String, fix: String| ClusterError::Claimed {
            path: secret.to_string(),
            change_id: change_id.to_string(),
            by: other.to_string(),
            state,
            fix,
        };
        match self.lease_of(other)? {
            Some((state, _)) if state == "closed" => Ok(()),
            Some((state, holder)) if state == "held" => Err(claimed(
                format!("{holder} is driving (or was, until its lease runs out)"),
                format!("wait for change {other} to close, then run this change again (`agentward resume {change_id}`)"),
            )),
            Some((_, holder)) => Err(claimed(
                format!("{holder} stopped before it was finished"),
                format!("finish it first with `agentward resume {other}` (on any host), then `agentward resume {change_id}`"),
            )),
            None => Err(claimed(
                "has no lease record (it was never driven, or its record was deleted)".into(),
                format!("finish or abandon change {other} first, or delete the claim record agentward-cluster/claims/{secret} if that change no longer exists"),
            )),
        }
    }

    /// Lets go of `secret` if change `change_id` holds it.
    pub fn release(&self, change_id: &str, secret: &str) -> Result<(), ClusterError> {
        let path = claim_path(secret);
        for _ in 0..3 {
            let Some(claim) = self.read(&path)? else {
                return Ok(());
            };
            if text(&claim, "change_id") != Some(change_id) {
                return Ok(());
            }
            let mut data = Map::new();
            data.insert("released_by".into(), json!(change_id));
            if self.write(&path, claim.version, data)? {
                return Ok(());
            }
        }
        Ok(())
    }
}
