//! Where secret values live.
//!
//! Every capability that touches a secret goes through [`SecretStore`], so a
//! backend (in memory for tests, [`EmbeddedStore`] by default, OpenBao later)
//! can be swapped without a capability noticing. Values travel as
//! [`SecretValue`], which never prints and is wiped when dropped.

mod embedded;
mod memory;
pub mod openbao;
pub mod overlay;

pub use embedded::EmbeddedStore;
pub use memory::MemoryStore;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A secret value. `Debug` prints a placeholder so a value cannot leak
/// through `{:?}` in an error or a trace.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(Zeroizing::new(value.into()))
    }

    /// The plaintext. Call sites are the edges where a value must leave the
    /// host: a guest that holds `secrets-read`, a substituted handle.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(..)")
    }
}

/// The labels a version can carry, as AWS Secrets Manager's
/// AWSCURRENT / AWSPENDING / AWSPREVIOUS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Current,
    Pending,
    Previous,
}

impl Label {
    /// Every label, current first.
    pub const ALL: [Label; 3] = [Label::Current, Label::Pending, Label::Previous];

    pub fn parse(text: &str) -> Option<Label> {
        match text {
            "current" => Some(Label::Current),
            "pending" => Some(Label::Pending),
            "previous" => Some(Label::Previous),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Current => "current",
            Label::Pending => "pending",
            Label::Previous => "previous",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionMeta {
    pub version: u32,
    pub labels: Vec<Label>,
    /// RFC 3339, UTC.
    pub created: String,
    /// The change that created this version, if any.
    pub change_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretAttributes {
    #[serde(default)]
    pub owner: Option<String>,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The origins (`https://host[:port]`) a handle to this secret may be
    /// sent to; empty: wherever the role's `http` grant allows.
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub custom: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretMeta {
    pub path: String,
    pub versions: Vec<VersionMeta>,
    pub attributes: SecretAttributes,
}

impl SecretMeta {
    /// The version carrying `label`, if any.
    pub fn holder(&self, label: Label) -> Option<u32> {
        self.versions
            .iter()
            .find(|v| v.labels.contains(&label))
            .map(|v| v.version)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("secret {path} does not exist")]
    NotFound { path: String },
    #[error("secret {path} has no version labelled {label}", label = label.as_str())]
    NoSuchLabel { path: String, label: Label },
    #[error("secret {path} has no version {version}")]
    NoSuchVersion { path: String, version: u32 },
    /// A check-and-set label move lost a race, or was made against stale
    /// metadata.
    #[error(
        "secret {path}: label {label} is on {found}, not on {expected} as the caller expected\n  \
         fix: re-read the secret's metadata and retry against the version you saw",
        label = label.as_str(),
        found = describe_version(*found),
        expected = describe_version(*expected)
    )]
    CasConflict {
        path: String,
        label: Label,
        expected: Option<u32>,
        found: Option<u32>,
    },
    #[error("invalid secret path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    /// A store file that does not parse or does not authenticate. The store
    /// never guesses at a value from such a file.
    #[error(
        "{} is not a valid, authentic agentward secret file: {reason}\n  \
         fix: restore the file from backup; the store will not read or repair it",
        file.display()
    )]
    Corrupt { file: PathBuf, reason: String },
    /// The key-encryption key is missing, unreadable, too open or not the
    /// one the store was sealed under.
    #[error("store key-encryption key {}: {problem}\n  fix: {fix}", path.display())]
    Kek {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    #[error("{action} {}: {source}", file.display())]
    Io {
        action: &'static str,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

fn describe_version(version: Option<u32>) -> String {
    match version {
        Some(v) => format!("version {v}"),
        None => "no version".to_string(),
    }
}

/// An edit of one secret's labels: `labels[i]` are version `i + 1`'s.
pub type LabelChange<'a> = dyn FnMut(&mut [Vec<Label>]) -> Result<(), StoreError> + 'a;

/// A versioned secret store. Versions are immutable and numbered from 1;
/// labels move, and each label sits on at most one version.
pub trait SecretStore: Send + Sync {
    /// Paths starting with `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Versions, labels and attributes; never a value.
    fn describe(&self, path: &str) -> Result<SecretMeta, StoreError>;
    fn read(&self, path: &str, label: Label) -> Result<SecretValue, StoreError>;
    /// Adds a new version labelled pending (moving the label from any older
    /// version) and returns its number. Creates the secret if it is new.
    fn put_pending(
        &self,
        path: &str,
        value: &SecretValue,
        change_id: Option<&str>,
    ) -> Result<u32, StoreError>;
    /// The version change `change_id` wrote to `path` but never labelled
    /// pending, now labelled so: its process died, or lost the answer,
    /// between the two writes of a backend whose `put_pending` is two. The
    /// change's retry then adopts that version (and the credential in it)
    /// instead of minting another. `None` when there is no such version,
    /// or the backend writes a version and its label in one step.
    fn recover_pending(&self, _path: &str, _change_id: &str) -> Result<Option<u32>, StoreError> {
        Ok(None)
    }
    /// Applies `change` to the labels of `path`'s versions (`labels[i]`
    /// are version `i + 1`'s) as one atomic step; the backend's one label
    /// primitive. `change` may run more than once when a backend retries
    /// after another writer's unrelated label move.
    fn relabel(&self, path: &str, change: &mut LabelChange<'_>) -> Result<(), StoreError>;

    /// Replaces `path`'s attributes (owner, expiry, scopes, custom
    /// fields); its versions and labels stay as they are.
    fn set_attributes(&self, path: &str, attributes: &SecretAttributes) -> Result<(), StoreError>;

    /// Sets (or clears) when `path`'s current credential expires: a
    /// rotation records the new credential's expiry at promotion and puts
    /// the old one back on rollback.
    fn set_expires(&self, path: &str, expires: Option<&str>) -> Result<(), StoreError> {
        let mut attributes = self.describe(path)?.attributes;
        attributes.expires = expires.map(str::to_string);
        self.set_attributes(path, &attributes)
    }

    /// Moves `label` to `to_version` if, and only if, it currently sits on
    /// `expected_from` (`None`: the label must not be on any version yet).
    /// Otherwise [`StoreError::CasConflict`] and nothing changes.
    ///
    /// Rotation promotes with [`SecretStore::promote`], which also moves
    /// `previous`; moving `current` here moves that one label alone.
    fn move_label(
        &self,
        path: &str,
        label: Label,
        to_version: u32,
        expected_from: Option<u32>,
    ) -> Result<(), StoreError> {
        self.relabel(path, &mut |l| {
            labels::move_label(path, l, label, to_version, expected_from)
        })
    }

    /// In one atomic step: `version` becomes current, the version that was
    /// current becomes previous, and `version` loses `pending`. Fails with
    /// [`StoreError::CasConflict`] unless `current` sits on
    /// `expected_current`. Promoting the version already current only drops
    /// its `pending` label.
    fn promote(
        &self,
        path: &str,
        version: u32,
        expected_current: Option<u32>,
    ) -> Result<(), StoreError> {
        self.relabel(path, &mut |l| {
            labels::promote(path, l, version, expected_current)
        })
    }

    /// A store narrowed to one role run, for backends that can enforce a
    /// role's scopes themselves (OpenBao: a child token whose policy is
    /// generated from the grants, living no longer than `deadline`), so a
    /// bug in the host's own scope checks still cannot widen a role.
    /// `None`: the backend has no such enforcement and the run uses this
    /// store, with the host's checks as the only line.
    fn for_role_run(
        &self,
        _role: &str,
        _scopes: &RoleScopes,
        _deadline: std::time::Duration,
    ) -> Result<Option<RoleRunStore>, StoreError> {
        Ok(None)
    }

    /// Ends every credential this store handed to `role`'s runs that is
    /// still outstanding (a run in progress, a run whose process died):
    /// called when a policy narrows the role, so the narrowing holds at
    /// once. How many were ended; 0 for a backend that hands out none.
    fn revoke_role_credentials(&self, _role: &str) -> Result<usize, StoreError> {
        Ok(0)
    }
}

/// The paths a role may read and write (from its grants: the store
/// knows nothing of policies), as `PathScope` globs
/// (`*` within a segment, `**` across segments).
#[derive(Clone, Debug, Default)]
pub struct RoleScopes {
    /// Values and metadata: `read`/`list`.
    pub read: Vec<String>,
    /// New versions and label moves: `create`/`update` on data and
    /// metadata, `read` on metadata.
    pub write: Vec<String>,
    /// Metadata only (`secrets-meta`): `read`/`list` on metadata.
    pub meta: Vec<String>,
}

/// A store that lives for one role run; [`RoleRunStore::end`] revokes
/// whatever credential backs it.
pub struct RoleRunStore {
    pub store: Arc<dyn SecretStore>,
    /// What the credential is, for the audit record (never the token).
    pub description: String,
    revoke: Box<dyn FnOnce() -> Result<(), StoreError> + Send>,
}

impl RoleRunStore {
    pub fn new(
        store: Arc<dyn SecretStore>,
        description: String,
        revoke: impl FnOnce() -> Result<(), StoreError> + Send + 'static,
    ) -> Self {
        RoleRunStore {
            store,
            description,
            revoke: Box::new(revoke),
        }
    }

    /// Revokes the run's credential.
    pub fn end(self) -> Result<(), StoreError> {
        (self.revoke)()
    }
}

/// The label rules every backend applies, under its own lock, to the
/// labels of one secret's versions: `labels[i]` are version `i + 1`'s.
pub(crate) mod labels {
    use super::{Label, StoreError};

    /// The version carrying `label`, if any.
    pub(crate) fn holder(labels: &[Vec<Label>], label: Label) -> Option<u32> {
        labels
            .iter()
            .position(|l| l.contains(&label))
            .map(|i| i as u32 + 1)
    }

    fn check_version(path: &str, labels: &[Vec<Label>], version: u32) -> Result<(), StoreError> {
        if version == 0 || version as usize > labels.len() {
            return Err(StoreError::NoSuchVersion {
                path: path.to_string(),
                version,
            });
        }
        Ok(())
    }

    fn check_expected(
        path: &str,
        labels: &[Vec<Label>],
        label: Label,
        expected: Option<u32>,
    ) -> Result<Option<u32>, StoreError> {
        let found = holder(labels, label);
        if found != expected {
            return Err(StoreError::CasConflict {
                path: path.to_string(),
                label,
                expected,
                found,
            });
        }
        Ok(found)
    }

    fn remove(labels: &mut [Vec<Label>], label: Label) {
        for l in labels.iter_mut() {
            l.retain(|x| *x != label);
        }
    }

    fn add(labels: &mut [Vec<Label>], version: u32, label: Label) {
        let l = &mut labels[version as usize - 1];
        if !l.contains(&label) {
            l.push(label);
            l.sort_by_key(|x| *x as u8);
        }
    }

    /// Adds version `labels.len() + 1` labelled pending.
    pub(crate) fn push_pending(labels: &mut Vec<Vec<Label>>) -> u32 {
        remove(labels, Label::Pending);
        labels.push(vec![Label::Pending]);
        labels.len() as u32
    }

    pub(crate) fn move_label(
        path: &str,
        labels: &mut [Vec<Label>],
        label: Label,
        to_version: u32,
        expected_from: Option<u32>,
    ) -> Result<(), StoreError> {
        check_version(path, labels, to_version)?;
        check_expected(path, labels, label, expected_from)?;
        remove(labels, label);
        add(labels, to_version, label);
        Ok(())
    }

    pub(crate) fn promote(
        path: &str,
        labels: &mut [Vec<Label>],
        version: u32,
        expected_current: Option<u32>,
    ) -> Result<(), StoreError> {
        check_version(path, labels, version)?;
        let current = check_expected(path, labels, Label::Current, expected_current)?;
        if current != Some(version) {
            if let Some(old) = current {
                remove(labels, Label::Previous);
                add(labels, old, Label::Previous);
            }
            remove(labels, Label::Current);
            add(labels, version, Label::Current);
        }
        labels[version as usize - 1].retain(|l| *l != Label::Pending);
        Ok(())
    }

    /// Each label on at most one version.
    pub(crate) fn well_formed(labels: &[Vec<Label>]) -> bool {
        Label::ALL
            .iter()
            .all(|label| labels.iter().flatten().filter(|l| *l == label).count() <= 1)
    }
}
