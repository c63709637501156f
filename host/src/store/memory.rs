//! An in-memory [`SecretStore`]: for tests, and for `agentward run --seed`
//! until the embedded encrypted store exists.

use super::{
    Label, SecretAttributes, SecretMeta, SecretStore, SecretValue, StoreError, VersionMeta,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<BTreeMap<String, Secret>>,
}

struct Secret {
    attributes: SecretAttributes,
    versions: Vec<(VersionMeta, SecretValue)>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `path` with one version labelled current.
    pub fn insert_current(&self, path: &str, value: SecretValue, attributes: SecretAttributes) {
        let meta = VersionMeta {
            version: 1,
            labels: vec![Label::Current],
            created: crate::time::now_rfc3339(),
            change_id: None,
        };
        let secret = Secret {
            attributes,
            versions: vec![(meta, value)],
        };
        self.lock().insert(path.to_string(), secret);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Secret>> {
        // A panic while holding the lock cannot leave a half-written version:
        // every mutation below is a single push or label move.
        self.secrets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .keys()
            .filter(|path| path.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn describe(&self, path: &str) -> Result<SecretMeta, StoreError> {
        let secrets = self.lock();
        let secret = secrets.get(path).ok_or_else(|| StoreError::NotFound {
            path: path.to_string(),
        })?;
        Ok(SecretMeta {
            path: path.to_string(),
            versions: secret.versions.iter().map(|(m, _)| m.clone()).collect(),
            attributes: secret.attributes.clone(),
        })
    }

    fn read(&self, path: &str, label: Label) -> Result<SecretValue, StoreError> {
        let secrets = self.lock();
        let secret = secrets.get(path).ok_or_else(|| StoreError::NotFound {
            path: path.to_string(),
        })?;
        secret
            .versions
            .iter()
            .find(|(meta, _)| meta.labels.contains(&label))
            .map(|(_, value)| value.clone())
            .ok_or_else(|| StoreError::NoSuchLabel {
                path: path.to_string(),
                label,
            })
    }

    fn put_pending(
        &self,
        path: &str,
        value: &SecretValue,
        change_id: Option<&str>,
    ) -> Result<u32, StoreError> {
        let mut secrets = self.lock();
        let secret = secrets.entry(path.to_string()).or_insert_with(|| Secret {
            attributes: SecretAttributes::default(),
            versions: Vec::new(),
        });
        for (meta, _) in &mut secret.versions {
            meta.labels.retain(|l| *l != Label::Pending);
        }
        let version = secret.versions.len() as u32 + 1;
        let meta = VersionMeta {
            version,
            labels: vec![Label::Pending],
            created: crate::time::now_rfc3339(),
            change_id: change_id.map(str::to_string),
        };
        secret.versions.push((meta, value.clone()));
        Ok(version)
    }
}
