//! The change manifest: the durable record of a change — its plan and plan
//! hash, approvals, and each secret's state.
//!
//! The manifest is the write-ahead record of the state machine: before
//! every effect the orchestrator records the effect as the item's
//! `intent`, and after it the new state. On disk it is a snapshot
//! (`manifests/CHANGE.json`, written when the change is planned and when it
//! closes) and the journal of the steps since ([`super::journal`]).
//! Snapshots are replaced atomically (temporary file, fsync, rename, fsync
//! of the directory), journal records appended durably, so after a crash
//! the manifest holds either the state before a write or after it, never a
//! mix; `resume` continues from whichever it finds.

use agentward_handoff::{Advice, Briefing, Changes, Check, Finding, Plan, Trigger, Usage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// One secret's rotation state (DESIGN.md's state machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemState {
    Planned,
    Minted,
    PendingStored,
    Staged,
    Verified,
    Promoted,
    OldRevoked,
    Done,
    Aborting,
    Aborted,
    RollingBack,
    RolledBack,
}

impl ItemState {
    pub const ALL: [ItemState; 12] = [
        ItemState::Planned,
        ItemState::Minted,
        ItemState::PendingStored,
        ItemState::Staged,
        ItemState::Verified,
        ItemState::Promoted,
        ItemState::OldRevoked,
        ItemState::Done,
        ItemState::Aborting,
        ItemState::Aborted,
        ItemState::RollingBack,
        ItemState::RolledBack,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ItemState::Done | ItemState::Aborted | ItemState::RolledBack
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Planned => "PLANNED",
            ItemState::Minted => "MINTED",
            ItemState::PendingStored => "PENDING_STORED",
            ItemState::Staged => "STAGED",
            ItemState::Verified => "VERIFIED",
            ItemState::Promoted => "PROMOTED",
            ItemState::OldRevoked => "OLD_REVOKED",
            ItemState::Done => "DONE",
            ItemState::Aborting => "ABORTING",
            ItemState::Aborted => "ABORTED",
            ItemState::RollingBack => "ROLLING_BACK",
            ItemState::RolledBack => "ROLLED_BACK",
        }
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The change as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeState {
    /// Planned; effects start when the window opens.
    Planned,
    /// Waiting for signed approvals of the plan hash.
    ApprovalPending,
    /// Enough valid approvals; effects may start.
    Approved,
    /// Every item is DONE, ABORTED or ROLLED_BACK.
    Closed,
}

impl ChangeState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Planned => "PLANNED",
            ChangeState::ApprovalPending => "APPROVAL_PENDING",
            ChangeState::Approved => "APPROVED",
            ChangeState::Closed => "CLOSED",
        }
    }
}

/// An effect, named in intents, audit records and failpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Mint,
    Confirm,
    Stage,
    Verify,
    Promote,
    Health,
    RevokeOld,
    Finish,
    RevokeNew,
    Rollback,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Mint => "mint",
            Effect::Confirm => "confirm",
            Effect::Stage => "stage",
            Effect::Verify => "verify",
            Effect::Promote => "promote",
            Effect::Health => "health",
            Effect::RevokeOld => "revoke-old",
            Effect::Finish => "finish",
            Effect::RevokeNew => "revoke-new",
            Effect::Rollback => "rollback",
        }
    }
}

/// A file digest: which workflow and policy a change ran under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub path: String,
    pub sha256: String,
}

/// N of these approvers must sign: a workflow rule as it stood at plan time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredApproval {
    pub paths: Vec<String>,
    pub required: usize,
    pub approvers: Vec<String>,
}

impl fmt::Display for RequiredApproval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} for {}",
            self.required,
            self.approvers.join(", "),
            self.paths.join(", ")
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approver: String,
    /// The approver's public key, in the signed-note verifier format.
    pub key: String,
    /// The plan hash the signature covers.
    pub plan_hash: String,
    /// base64 ed25519 signature over [`super::approvals::message`].
    pub signature: String,
    pub ts: String,
}

/// A staged file: where, and what it would contain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedChange {
    pub root: String,
    pub file: String,
    pub sha256: String,
    pub contents: String,
    /// Unified diff against the file as it was when staged.
    #[serde(default)]
    pub diff: String,
    /// The branch and commit it landed on, if it is in a git repository.
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub ts: String,
    pub from: ItemState,
    pub to: ItemState,
    pub note: String,
}

/// One secret under change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub path: String,
    /// The version current at plan time: promotion is check-and-set on it.
    pub expected_current: Option<u32>,
    /// Its expiry before this change, restored on rollback.
    pub previous_expires: Option<String>,
    pub state: ItemState,
    /// An effect started but not yet recorded as finished.
    pub intent: Option<Effect>,
    /// When that effect was first attempted (RFC 3339, UTC, milliseconds).
    pub intent_since: Option<String>,
    pub changes: Option<Changes>,
    pub staged: Vec<StagedChange>,
    pub findings: Vec<Finding>,
    /// What the Reviewer's model said about the change: kept for the
    /// reader, read by no check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
    pub checks: Vec<Check>,
    pub health: Vec<Check>,
    /// Why the item is aborting or rolling back.
    pub reason: Option<String>,
    pub history: Vec<Transition>,
}

impl Item {
    pub fn new(path: String, expected_current: Option<u32>) -> Item {
        Item {
            path,
            expected_current,
            previous_expires: None,
            state: ItemState::Planned,
            intent: None,
            intent_since: None,
            changes: None,
            staged: Vec::new(),
            findings: Vec::new(),
            advice: None,
            checks: Vec::new(),
            health: Vec::new(),
            reason: None,
            history: Vec::new(),
        }
    }

    /// The version this change minted, once known.
    pub fn new_version(&self) -> Option<u32> {
        self.changes.as_ref().map(|c| c.version)
    }

    /// One line on where the item stands: why it stopped, else what its
    /// last transition said.
    pub fn detail(&self) -> String {
        self.reason
            .clone()
            .or_else(|| self.history.last().map(|t| t.note.clone()))
            .unwrap_or_default()
    }
}

pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub change_id: String,
    pub created: String,
    pub dry_run: bool,
    pub trigger: Trigger,
    /// The suspected path, for a breach.
    pub breach: Option<String>,
    pub workflow: FileDigest,
    pub policy: FileDigest,
    pub state: ChangeState,
    pub plan: Plan,
    /// `sha256:` + hex of the plan's JSON: what approvers sign.
    pub plan_hash: String,
    /// The approval rules that covered the plan when it was made.
    pub approval_rules: Vec<RequiredApproval>,
    pub approvals: Vec<Approval>,
    pub items: Vec<Item>,
    pub notices: Vec<String>,
    /// Every document a role consulted during the change, with its digest.
    #[serde(default)]
    pub docs: Vec<crate::capabilities::docs::Consulted>,
    /// What the Researcher found in the docs for this change.
    #[serde(default)]
    pub briefing: Briefing,
    /// Where the Domain specialist found each secret in use.
    #[serde(default)]
    pub usages: Vec<Usage>,
    /// The last journal record applied: in a snapshot, the last one it
    /// holds.
    #[serde(default)]
    pub journal_seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "no change {change_id} in {}\n  fix: list the changes with `ls {}`; a change id is the 26-character ULID `rotate` printed",
        dir.display(),
        dir.display()
    )]
    NotFound { change_id: String, dir: PathBuf },
    #[error("{} is not a valid change manifest: {reason}\n  fix: restore it from backup; resume will not guess at a change's state", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("writing change manifest {}: {source}\n  fix: free space or fix permissions on manifests/, then run `agentward resume` with this change id", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub fn plan_hash(plan: &Plan) -> String {
    let bytes = serde_json::to_vec(plan).expect("a plan serialises");
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn path_for(dir: &Path, change_id: &str) -> PathBuf {
    dir.join(format!("{change_id}.json"))
}

impl Manifest {
    pub fn load(dir: &Path, change_id: &str) -> Result<Manifest, ManifestError> {
        if !crate::orchestrator::change_id::is_valid(change_id) {
            return Err(ManifestError::NotFound {
                change_id: change_id.to_string(),
                dir: dir.to_path_buf(),
            });
        }
        let path = path_for(dir, change_id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::NotFound {
                    change_id: change_id.to_string(),
                    dir: dir.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(ManifestError::Corrupt {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| ManifestError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if manifest.format != FORMAT || manifest.change_id != change_id {
            return Err(ManifestError::Corrupt {
                path,
                reason: format!(
                    "format {} for change {}, expected format {FORMAT} for {change_id}",
                    manifest.format, manifest.change_id
                ),
            });
        }
        let mut manifest = manifest;
        super::journal::replay(&mut manifest, dir)?;
        Ok(manifest)
    }
    /// Writes the whole manifest as its snapshot, atomically and durably,
    /// then drops the journal it now holds.
    pub fn save(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = path_for(dir, &self.change_id);
        let error = |source| ManifestError::Write {
            path: path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        bytes.push(b'\n');
        let name = format!("{}.json", self.change_id);
        crate::durable::replace_file(dir, &name, &bytes).map_err(error)?;
        super::journal::remove(dir, &self.change_id).map_err(error)
    }

    pub fn paths(&self) -> Vec<String> {
        self.items.iter().map(|i| i.path.clone()).collect()
    }

    /// Counts of items per final state, for summaries.
    pub fn outcome(&self) -> Vec<(ItemState, usize)> {
        ItemState::ALL
            .into_iter()
            .map(|s| (s, self.items.iter().filter(|i| i.state == s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
