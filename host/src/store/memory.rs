//! An in-memory [`SecretStore`]: for tests, where a store on disk would only slow them down.

use super::{
    labels, Label, LabelChange, SecretAttributes, SecretMeta, SecretStore, SecretValue, StoreError,
    VersionMeta,
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
        let mut labels = secret.labels();
        let version = labels::push_pending(&mut labels);
        let meta = VersionMeta {
            version,
            labels: Vec::new(),
            created: crate::time::now_rfc3339(),
            change_id: change_id.map(str::to_string),
        };
        secret.versions.push((meta, value.clone()));
        secret.set_labels(labels);
        Ok(version)
    }

    fn relabel(&self, path: &str, change: &mut LabelChange<'_>) -> Result<(), StoreError> {
        let mut secrets = self.lock();
        let secret = secrets.get_mut(path).ok_or_else(|| StoreError::NotFound {
            path: path.to_string(),
        })?;
        let mut labels = secret.labels();
        change(&mut labels)?;
        secret.set_labels(labels);
        Ok(())
    }

    fn set_attributes(&self, path: &str, attributes: &SecretAttributes) -> Result<(), StoreError> {
        let mut secrets = self.lock();
        let secret = secrets.get_mut(path).ok_or_else(|| StoreError::NotFound {
            path: path.to_string(),
        })?;
        secret.attributes = attributes.clone();
        Ok(())
    }
}

impl Secret {
    fn labels(&self) -> Vec<Vec<Label>> {
        self.versions
            .iter()
            .map(|(m, _)| m.labels.clone())
            .collect()
    }

    /// Label changes are computed on a copy and stored in one go, so a
    /// refused move leaves nothing half-done.
    fn set_labels(&mut self, labels: Vec<Vec<Label>>) {
        for ((meta, _), l) in self.versions.iter_mut().zip(labels) {
            meta.labels = l;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> SecretValue {
        SecretValue::new(text)
    }

    fn labels_of(store: &MemoryStore, path: &str) -> Vec<(u32, Vec<Label>)> {
        store
            .describe(path)
            .unwrap()
            .versions
            .into_iter()
            .map(|v| (v.version, v.labels))
            .collect()
    }

    #[test]
    fn move_label_checks_where_the_label_was() {
        let store = MemoryStore::new();
        store.put_pending("a", &value("one"), None).unwrap();
        store.put_pending("a", &value("two"), None).unwrap();
        // current is on no version yet.
        let err = store
            .move_label("a", Label::Current, 1, Some(2))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CasConflict {
                    expected: Some(2),
                    found: None,
                    ..
                }
            ),
            "{err}"
        );
        store.move_label("a", Label::Current, 1, None).unwrap();
        let err = store.move_label("a", Label::Current, 2, None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("on version 1"), "{text}");
        assert!(text.contains("not on no version"), "{text}");
        assert!(text.contains("re-read the secret's metadata"), "{text}");
        store.move_label("a", Label::Current, 2, Some(1)).unwrap();
        assert_eq!(
            labels_of(&store, "a"),
            vec![(1, vec![]), (2, vec![Label::Current, Label::Pending])]
        );
        assert_eq!(store.read("a", Label::Current).unwrap().expose(), "two");
    }

    #[test]
    fn move_label_to_a_missing_version_or_secret_fails() {
        let store = MemoryStore::new();
        store.put_pending("a", &value("one"), None).unwrap();
        assert!(matches!(
            store.move_label("a", Label::Current, 2, None),
            Err(StoreError::NoSuchVersion { version: 2, .. })
        ));
        assert!(matches!(
            store.move_label("a", Label::Current, 0, None),
            Err(StoreError::NoSuchVersion { version: 0, .. })
        ));
        assert!(matches!(
            store.move_label("b", Label::Current, 1, None),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn promote_moves_current_previous_and_pending_together() {
        let store = MemoryStore::new();
        store.insert_current("a", value("v1"), SecretAttributes::default());
        let v2 = store.put_pending("a", &value("v2"), Some("chg-2")).unwrap();
        assert_eq!(v2, 2);
        store.promote("a", 2, Some(1)).unwrap();
        assert_eq!(
            labels_of(&store, "a"),
            vec![(1, vec![Label::Previous]), (2, vec![Label::Current])]
        );
        let v3 = store.put_pending("a", &value("v3"), None).unwrap();
        store.promote("a", v3, Some(2)).unwrap();
        assert_eq!(
            labels_of(&store, "a"),
            vec![
                (1, vec![]),
                (2, vec![Label::Previous]),
                (3, vec![Label::Current])
            ]
        );
        assert_eq!(store.read("a", Label::Previous).unwrap().expose(), "v2");
    }

    #[test]
    fn a_stale_promote_changes_nothing() {
        let store = MemoryStore::new();
        store.insert_current("a", value("v1"), SecretAttributes::default());
        store.put_pending("a", &value("v2"), None).unwrap();
        let before = labels_of(&store, "a");
        let err = store.promote("a", 2, Some(7)).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CasConflict {
                    label: Label::Current,
                    expected: Some(7),
                    found: Some(1),
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(labels_of(&store, "a"), before);
    }

    #[test]
    fn promoting_the_current_version_only_drops_pending() {
        let store = MemoryStore::new();
        store.put_pending("a", &value("v1"), None).unwrap();
        store.promote("a", 1, None).unwrap();
        assert_eq!(labels_of(&store, "a"), vec![(1, vec![Label::Current])]);
        store.promote("a", 1, Some(1)).unwrap();
        assert_eq!(labels_of(&store, "a"), vec![(1, vec![Label::Current])]);
    }
}
