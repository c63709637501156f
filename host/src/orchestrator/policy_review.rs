//! Policy changes are reviewed: a policy that widens any grant beyond the
//! last approved one runs only once the approvers the workflow names
//! (`[approvals.policy]`) have signed its hash; one that only narrows takes
//! effect at once.
//!
//! What was approved is kept in the project, beside the policies:
//! `policies/approved/<hex>.toml` (the text each approval covers, so the
//! next change is diffed against what was reviewed, not against whatever
//! the file held last), `<hex>.approvals.json` (the signatures) and
//! `current` (the hash of the policy in force). A policy's hash is the
//! sha256 of its text: a comment edited is a new policy, but a diff
//! ([`crate::policy::diff`]) that widens nothing needs no approval.

use super::approvals::{self, Ballot, Signature};
use super::manifest::{Approval, RequiredApproval};
use super::workflow::Workflow;
use crate::durable::replace_file;
use crate::policy::diff::{diff, Change, Direction};
use crate::policy::{Policy, RoleName};
use std::path::{Path, PathBuf};

/// What a policy's review says about running under it.
#[derive(Debug)]
pub enum Review {
    /// The workflow asks for no policy approvals.
    Ungated,
    /// The policy in force, approved.
    Approved,
    /// Narrower than (or as wide as) the policy in force: it takes effect
    /// once the caller has ended what the narrowed roles still hold and
    /// [`Approved::adopt`]ed it.
    Narrowed { roles: Vec<RoleName> },
    /// Wider than the policy in force: it waits for approvals.
    Pending {
        hash: String,
        /// The policy in force, if one was approved.
        approved: Option<String>,
        /// Each widening, in words; empty when no policy was approved yet.
        widened: Vec<Change>,
        missing: Vec<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{}: {source}\n  fix: check that the policies directory is writable", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}\n  fix: restore it from version control, or remove it and approve the policy in force again", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Approval(#[from] approvals::ApprovalError),
    #[error("the workflow {workflow} has no [approvals.policy]: policies are not reviewed\n  fix: add `[approvals.policy]` with `required` and `approvers`")]
    Ungated { workflow: String },
}

/// What an approver signs for a policy: its hash and the hash of the
/// policy in force it widens (`none` for a project's first), so an
/// approval holds only over what was reviewed: once another policy is in
/// force (a narrowing adopted meanwhile), a text approved before is a new
/// widening of it and needs its approvals again, and an old approved
/// policy cannot be rolled back to unreviewed.
pub fn message(hash: &str, in_force: Option<&str>) -> Vec<u8> {
    let over = in_force.unwrap_or("none");
    format!("agentward-policy-approval-v2\npolicy {hash}\nover {over}\n").into_bytes()
}

/// The approved-policy records of a project.
pub struct Approved {
    project: PathBuf,
    dir: PathBuf,
}

impl Approved {
    /// The records of the project at `project`, in `policies/approved`.
    pub fn new(project: &Path) -> Approved {
        Approved {
            project: project.to_path_buf(),
            dir: project.join("policies/approved"),
        }
    }

    /// Whether `policy` may run, and what its review found.
    pub fn review(&self, workflow: &Workflow, policy: &Policy) -> Result<Review, ReviewError> {
        let Some(rule) = &workflow.policy_rule else {
            return Ok(Review::Ungated);
        };
        let hash = policy.hash();
        let current = self.current()?;
        if current.as_deref() == Some(hash.as_str()) {
            return Ok(Review::Approved);
        }
        let changes = match &current {
            Some(current) => diff(&self.policy(current, policy)?, policy),
            None => Vec::new(),
        };
        let widens = current.is_none()
            || changes
                .iter()
                .any(|c| matches!(c.direction, Direction::Widened | Direction::Changed));
        if !widens {
            let mut roles: Vec<RoleName> = changes.iter().map(|c| c.role).collect();
            roles.dedup();
            return Ok(Review::Narrowed { roles });
        }
        let signed = self.approvals(&hash)?;
        let rules = [rule.clone()];
        let ballot = ballot(&hash, current.as_deref(), &signed, &rules);
        let missing = approvals::missing(workflow, &ballot);
        if missing.is_empty() {
            self.adopt(policy)?;
            return Ok(Review::Approved);
        }
        Ok(Review::Pending {
            hash,
            approved: current,
            widened: changes
                .into_iter()
                .filter(|c| c.direction != Direction::Narrowed)
                .collect(),
            missing,
        })
    }

    /// Adds `signature`'s approval of `policy`; what is still missing.
    pub fn approve(
        &self,
        workflow: &Workflow,
        policy: &Policy,
        signature: Signature,
        expected_hash: Option<&str>,
    ) -> Result<Vec<String>, ReviewError> {
        let Some(rule) = &workflow.policy_rule else {
            return Err(ReviewError::Ungated {
                workflow: workflow.path.display().to_string(),
            });
        };
        let hash = policy.hash();
        let current = self.current()?;
        let mut signed = self.approvals(&hash)?;
        let rules = [rule.clone()];
        let approval = approvals::sign(
            workflow,
            &ballot(&hash, current.as_deref(), &signed, &rules),
            signature,
            expected_hash,
        )?;
        signed.push(approval);
        self.write(&format!("{}.toml", hex_of(&hash)), policy.source.as_bytes())?;
        let json = serde_json::to_vec_pretty(&signed).expect("approvals serialise");
        self.write(&format!("{}.approvals.json", hex_of(&hash)), &json)?;
        let missing = approvals::missing(
            workflow,
            &ballot(&hash, current.as_deref(), &signed, &rules),
        );
        if missing.is_empty() {
            self.write("current", hash.as_bytes())?;
        }
        Ok(missing)
    }

    /// What an approver of the policy `hash` signs now, over the policy in
    /// force (`policy approve --print-message`).
    pub fn message(&self, hash: &str) -> Result<Vec<u8>, ReviewError> {
        Ok(message(hash, self.current()?.as_deref()))
    }

    /// Makes `policy` the one in force.
    pub fn adopt(&self, policy: &Policy) -> Result<(), ReviewError> {
        let hash = policy.hash();
        self.write(&format!("{}.toml", hex_of(&hash)), policy.source.as_bytes())?;
        self.write("current", hash.as_bytes())
    }

    /// The file holding the approved policy `hash`, for `policy diff`.
    pub fn file_of(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{}.toml", hex_of(hash)))
    }

    /// The hash of the policy in force, if one was approved.
    pub fn current(&self) -> Result<Option<String>, ReviewError> {
        let path = self.dir.join("current");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ReviewError::Io { path, source }),
        }
    }

    /// The approved policy `hash`, parsed as `like` was (same path, same
    /// project), so the diff compares grants, not file names.
    fn policy(&self, hash: &str, like: &Policy) -> Result<Policy, ReviewError> {
        let path = self.dir.join(format!("{}.toml", hex_of(hash)));
        let text = std::fs::read_to_string(&path).map_err(|source| ReviewError::Io {
            path: path.clone(),
            source,
        })?;
        let approved =
            Policy::parse(&like.path, &text, &self.project).map_err(|e| ReviewError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if approved.hash() != hash {
            return Err(ReviewError::Corrupt {
                path,
                reason: format!("its text no longer hashes to {hash}"),
            });
        }
        Ok(approved)
    }

    fn approvals(&self, hash: &str) -> Result<Vec<Approval>, ReviewError> {
        let path = self.dir.join(format!("{}.approvals.json", hex_of(hash)));
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ReviewError::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(ReviewError::Io { path, source }),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), ReviewError> {
        replace_file(&self.dir, name, bytes).map_err(|source| ReviewError::Io {
            path: self.dir.join(name),
            source,
        })
    }
}

fn ballot<'a>(
    hash: &'a str,
    in_force: Option<&str>,
    signed: &'a [Approval],
    rules: &'a [RequiredApproval],
) -> Ballot<'a> {
    Ballot {
        message: message(hash, in_force),
        hash,
        subject: format!("policy {hash}"),
        print_message: "agentward policy approve --print-message".into(),
        approvals: signed,
        rules,
    }
}

fn hex_of(hash: &str) -> &str {
    hash.strip_prefix("sha256:").unwrap_or(hash)
}
