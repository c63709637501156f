//! Where secret values live.
//!
//! Every capability that touches a secret goes through [`SecretStore`], so a
//! backend (in memory today; the embedded encrypted store and OpenBao later)
//! can be swapped without a capability noticing. Values travel as
//! [`SecretValue`], which never prints and is wiped when dropped.

mod memory;

pub use memory::MemoryStore;

use serde::{Deserialize, Serialize};
use std::fmt;
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
    #[serde(default)]
    pub custom: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretMeta {
    pub path: String,
    pub versions: Vec<VersionMeta>,
    pub attributes: SecretAttributes,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("secret {path} does not exist")]
    NotFound { path: String },
    #[error("secret {path} has no version labelled {label}", label = label.as_str())]
    NoSuchLabel { path: String, label: Label },
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

/// A versioned secret store. Versions are immutable; labels move.
pub trait SecretStore: Send + Sync {
    /// Paths starting with `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
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
}
