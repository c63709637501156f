//! A dry-run overlay: a [`SecretStore`] that reads through to a real store
//! and keeps every write in memory.
//!
//! [`DryRunStore`] answers `list`, `describe` and `read` from the real store
//! with its own pending writes and label moves layered on top, so a rotation
//! that writes, promotes and reads back sees a consistent picture. Writes
//! (`put_pending`, `move_label`, `promote`) apply the same check-and-set
//! rules as every backend, against that combined view, and never reach the
//! real store. [`DryRunStore::report`] lists what would have happened.
//!
//! A secret's real metadata is snapshotted the first time the overlay
//! writes to it; from then on the overlay answers for that secret.
//! Values written here are kept only to be read back: they appear in no
//! report, no `Debug` output and no error.

use super::{
    labels::{self, holder},
    Label, LabelChange, SecretAttributes, SecretMeta, SecretStore, SecretValue, StoreError,
    VersionMeta,
};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// One write a dry run would have made, in order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlannedChange {
    /// `put_pending`: a new version, labelled pending.
    CreateVersion {
        path: String,
        version: u32,
        change_id: Option<String>,
    },
    /// A label put on a version, from the version that held it (if any).
    MoveLabel {
        path: String,
        label: Label,
        from: Option<u32>,
        to: u32,
    },
    /// A label taken off a version and put nowhere (promote drops `pending`).
    RemoveLabel {
        path: String,
        label: Label,
        from: u32,
    },
    /// The secret's attributes replaced (its expiry shown, set or cleared).
    SetAttributes {
        path: String,
        expires: Option<String>,
    },
}

impl fmt::Display for PlannedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannedChange::CreateVersion {
                path,
                version,
                change_id,
            } => {
                write!(
                    f,
                    "would create version {version} of {path} labelled pending"
                )?;
                if let Some(change) = change_id {
                    write!(f, " (change {change})")?;
                }
                Ok(())
            }
            PlannedChange::MoveLabel {
                path,
                label,
                from: Some(from),
                to,
            } => write!(
                f,
                "would move label {} of {path} from version {from} to {to}",
                label.as_str()
            ),
            PlannedChange::MoveLabel {
                path,
                label,
                from: None,
                to,
            } => write!(
                f,
                "would put label {} of {path} on version {to}",
                label.as_str()
            ),
            PlannedChange::RemoveLabel { path, label, from } => write!(
                f,
                "would remove label {} of {path} from version {from}",
                label.as_str()
            ),
            PlannedChange::SetAttributes { path, expires } => match expires {
                Some(t) => write!(f, "would set the attributes of {path} (expires {t})"),
                None => write!(f, "would set the attributes of {path} (no expiry)"),
            },
        }
    }
}

/// See the module documentation.
pub struct DryRunStore {
    inner: Arc<dyn SecretStore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Only the secrets the overlay has written to.
    secrets: BTreeMap<String, Layered>,
    changes: Vec<PlannedChange>,
}

/// One secret as the overlay sees it.
struct Layered {
    /// The real store's metadata when the overlay first wrote to the
    /// secret; `None` if the secret did not exist there.
    base: Option<SecretMeta>,
    /// Versions created by the overlay, numbered after the base's.
    added: Vec<(VersionMeta, SecretValue)>,
    /// The combined labels: `labels[i]` are version `i + 1`'s.
    labels: Vec<Vec<Label>>,
    /// Attributes set by the dry run, over the base's.
    attributes: Option<SecretAttributes>,
}

impl DryRunStore {
    pub fn new(inner: Arc<dyn SecretStore>) -> DryRunStore {
        DryRunStore {
            inner,
            state: Mutex::new(State::default()),
        }
    }

    /// What the writes so far would have done, in order. Never a value.
    pub fn report(&self) -> Vec<PlannedChange> {
        self.lock().changes.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The overlay's entry for `path`, snapshotting the real store's
    /// metadata on first use. `create`: a secret missing from both is
    /// started empty; otherwise it is [`StoreError::NotFound`].
    fn layered<'a>(
        &self,
        state: &'a mut State,
        path: &str,
        create: bool,
    ) -> Result<&'a mut Layered, StoreError> {
        if !state.secrets.contains_key(path) {
            let base = match self.inner.describe(path) {
                Ok(meta) => Some(meta),
                Err(StoreError::NotFound { .. }) if create => None,
                Err(e) => return Err(e),
            };
            let labels = base
                .as_ref()
                .map(|m| m.versions.iter().map(|v| v.labels.clone()).collect())
                .unwrap_or_default();
            state.secrets.insert(
                path.to_string(),
                Layered {
                    base,
                    added: Vec::new(),
                    labels,
                    attributes: None,
                },
            );
        }
        Ok(state.secrets.get_mut(path).expect("inserted above"))
    }
}

impl fmt::Debug for DryRunStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("DryRunStore")
            .field("secrets_touched", &state.secrets.len())
            .field("planned_changes", &state.changes.len())
            .finish_non_exhaustive()
    }
}

/// The label moves between two labellings of one secret, current first.
fn diff(path: &str, before: &[Vec<Label>], after: &[Vec<Label>]) -> Vec<PlannedChange> {
    let mut planned = Vec::new();
    for label in [Label::Current, Label::Previous, Label::Pending] {
        let (from, to) = (holder(before, label), holder(after, label));
        match (from, to) {
            _ if from == to => {}
            (_, Some(to)) => planned.push(PlannedChange::MoveLabel {
                path: path.to_string(),
                label,
                from,
                to,
            }),
            (Some(from), None) => planned.push(PlannedChange::RemoveLabel {
                path: path.to_string(),
                label,
                from,
            }),
            (None, None) => {}
        }
    }
    planned
}

impl Layered {
    fn base_len(&self) -> usize {
        self.base.as_ref().map_or(0, |m| m.versions.len())
    }

    fn meta(&self, path: &str) -> SecretMeta {
        let mut versions: Vec<VersionMeta> = self
            .base
            .as_ref()
            .map(|m| m.versions.clone())
            .unwrap_or_default();
        versions.extend(self.added.iter().map(|(m, _)| m.clone()));
        for (meta, labels) in versions.iter_mut().zip(&self.labels) {
            meta.labels = labels.clone();
        }
        let attributes = self.attributes.clone().unwrap_or_else(|| {
            self.base
                .as_ref()
                .map(|m| m.attributes.clone())
                .unwrap_or_default()
        });
        SecretMeta {
            path: path.to_string(),
            versions,
            attributes,
        }
    }
}

impl SecretStore for DryRunStore {
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut paths = self.inner.list(prefix)?;
        let state = self.lock();
        paths.extend(
            state
                .secrets
                .keys()
                .filter(|p| p.starts_with(prefix))
                .cloned(),
        );
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    fn describe(&self, path: &str) -> Result<SecretMeta, StoreError> {
        let state = self.lock();
        match state.secrets.get(path) {
            Some(secret) => Ok(secret.meta(path)),
            None => {
                drop(state);
                self.inner.describe(path)
            }
        }
    }

    fn read(&self, path: &str, label: Label) -> Result<SecretValue, StoreError> {
        let state = self.lock();
        let Some(secret) = state.secrets.get(path) else {
            drop(state);
            return self.inner.read(path, label);
        };
        let version = holder(&secret.labels, label).ok_or_else(|| StoreError::NoSuchLabel {
            path: path.to_string(),
            label,
        })?;
        let base_len = secret.base_len();
        if version as usize > base_len {
            return Ok(secret.added[version as usize - base_len - 1].1.clone());
        }
        // A version of the real store: read it there under a label it
        // really carries (the overlay may have moved labels around it).
        let real = secret
            .base
            .as_ref()
            .and_then(|m| m.versions.get(version as usize - 1))
            .and_then(|v| v.labels.first().copied());
        drop(state);
        match real {
            Some(real_label) => self.inner.read(path, real_label),
            None => Err(StoreError::Unavailable(format!(
                "dry run: version {version} of {path} carries no label in the store, \
                 so its value cannot be read by label"
            ))),
        }
    }

    fn put_pending(
        &self,
        path: &str,
        value: &SecretValue,
        change_id: Option<&str>,
    ) -> Result<u32, StoreError> {
        let mut state = self.lock();
        let secret = self.layered(&mut state, path, true)?;
        let version = labels::push_pending(&mut secret.labels);
        let meta = VersionMeta {
            version,
            labels: Vec::new(),
            created: crate::time::now_rfc3339(),
            change_id: change_id.map(str::to_string),
        };
        secret.added.push((meta, value.clone()));
        state.changes.push(PlannedChange::CreateVersion {
            path: path.to_string(),
            version,
            change_id: change_id.map(str::to_string),
        });
        Ok(version)
    }

    /// Applies `change` to a copy of `path`'s labels, records the label
    /// moves it made and keeps the result; a refused change keeps nothing.
    fn relabel(&self, path: &str, change: &mut LabelChange<'_>) -> Result<(), StoreError> {
        let mut state = self.lock();
        let secret = self.layered(&mut state, path, false)?;
        let mut labels = secret.labels.clone();
        change(&mut labels)?;
        let planned = diff(path, &secret.labels, &labels);
        secret.labels = labels;
        state.changes.extend(planned);
        Ok(())
    }

    fn set_attributes(&self, path: &str, attributes: &SecretAttributes) -> Result<(), StoreError> {
        let mut state = self.lock();
        let secret = self.layered(&mut state, path, true)?;
        secret.attributes = Some(attributes.clone());
        state.changes.push(PlannedChange::SetAttributes {
            path: path.to_string(),
            expires: attributes.expires.clone(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SecretAttributes};

    const SECRET: &str = "overlay-canary-5f1e";

    fn real() -> Arc<MemoryStore> {
        let store = Arc::new(MemoryStore::new());
        store.insert_current(
            "npm/token",
            SecretValue::new("v1-value"),
            SecretAttributes {
                expires: Some("2026-12-01T00:00:00Z".into()),
                ..Default::default()
            },
        );
        store
    }

    fn labels_of(store: &dyn SecretStore, path: &str) -> Vec<(u32, Vec<Label>)> {
        store
            .describe(path)
            .unwrap()
            .versions
            .into_iter()
            .map(|v| (v.version, v.labels))
            .collect()
    }

    fn lines(dry: &DryRunStore) -> Vec<String> {
        dry.report().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_rotation_sees_its_own_writes_and_the_real_store_sees_none() {
        let real = real();
        let dry = DryRunStore::new(real.clone());
        let v = dry
            .put_pending("npm/token", &SecretValue::new(SECRET), Some("01JDRY"))
            .unwrap();
        assert_eq!(v, 2);
        assert_eq!(
            dry.read("npm/token", Label::Pending).unwrap().expose(),
            SECRET
        );
        dry.promote("npm/token", 2, Some(1)).unwrap();
        assert_eq!(
            dry.read("npm/token", Label::Current).unwrap().expose(),
            SECRET
        );
        // Version 1 is read from the real store under the label it really has.
        assert_eq!(
            dry.read("npm/token", Label::Previous).unwrap().expose(),
            "v1-value"
        );
        assert_eq!(
            labels_of(&dry, "npm/token"),
            vec![(1, vec![Label::Previous]), (2, vec![Label::Current])]
        );
        let meta = dry.describe("npm/token").unwrap();
        assert_eq!(
            meta.attributes.expires.as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        assert_eq!(meta.versions[1].change_id.as_deref(), Some("01JDRY"));
        // Nothing reached the real store.
        assert_eq!(
            labels_of(&*real, "npm/token"),
            vec![(1, vec![Label::Current])]
        );
        assert!(matches!(
            real.read("npm/token", Label::Pending),
            Err(StoreError::NoSuchLabel { .. })
        ));
        assert_eq!(
            lines(&dry),
            [
                "would create version 2 of npm/token labelled pending (change 01JDRY)",
                "would move label current of npm/token from version 1 to 2",
                "would put label previous of npm/token on version 1",
                "would remove label pending of npm/token from version 2",
            ]
        );
    }

    #[test]
    fn new_secrets_are_listed_and_untouched_ones_read_through() {
        let real = real();
        real.insert_current(
            "npm/other",
            SecretValue::new("o"),
            SecretAttributes::default(),
        );
        let dry = DryRunStore::new(real.clone());
        dry.put_pending("npm/new", &SecretValue::new(SECRET), None)
            .unwrap();
        dry.promote("npm/new", 1, None).unwrap();
        assert_eq!(
            dry.list("npm/").unwrap(),
            ["npm/new", "npm/other", "npm/token"]
        );
        assert_eq!(real.list("npm/").unwrap(), ["npm/other", "npm/token"]);
        assert_eq!(dry.read("npm/other", Label::Current).unwrap().expose(), "o");
        assert_eq!(
            dry.read("npm/new", Label::Current).unwrap().expose(),
            SECRET
        );
        assert_eq!(
            lines(&dry),
            [
                "would create version 1 of npm/new labelled pending",
                "would put label current of npm/new on version 1",
                "would remove label pending of npm/new from version 1",
            ]
        );
    }

    #[test]
    fn check_and_set_holds_against_the_combined_view() {
        let dry = DryRunStore::new(real());
        dry.put_pending("npm/token", &SecretValue::new(SECRET), None)
            .unwrap();
        dry.promote("npm/token", 2, Some(1)).unwrap();
        // current is now on 2 in the overlay, so a caller that read the
        // real store (current on 1) loses.
        let before = dry.report();
        let err = dry.promote("npm/token", 2, Some(1)).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CasConflict {
                    label: Label::Current,
                    expected: Some(1),
                    found: Some(2),
                    ..
                }
            ),
            "{err}"
        );
        let err = dry
            .move_label("npm/token", Label::Current, 1, None)
            .unwrap_err();
        assert!(matches!(err, StoreError::CasConflict { .. }), "{err}");
        assert!(matches!(
            dry.move_label("npm/token", Label::Current, 3, Some(2)),
            Err(StoreError::NoSuchVersion { version: 3, .. })
        ));
        assert!(matches!(
            dry.promote("npm/missing", 1, None),
            Err(StoreError::NotFound { .. })
        ));
        // Refused writes plan nothing.
        assert_eq!(dry.report(), before);
        dry.move_label("npm/token", Label::Current, 1, Some(2))
            .unwrap();
        assert_eq!(
            lines(&dry).last().unwrap(),
            "would move label current of npm/token from version 2 to 1"
        );
    }

    #[test]
    fn values_never_appear_in_reports_debug_or_errors() {
        let dry = DryRunStore::new(real());
        dry.put_pending("npm/token", &SecretValue::new(SECRET), Some("01JX"))
            .unwrap();
        let _ = dry.promote("npm/token", 2, Some(1));
        let err = dry.promote("npm/token", 2, Some(7)).unwrap_err();
        let everything = format!(
            "{:?}\n{:?}\n{}\n{err}\n{err:?}\n{}",
            dry,
            dry.report(),
            lines(&dry).join("\n"),
            serde_json::to_string(&dry.report()).unwrap()
        );
        assert!(!everything.contains(SECRET), "{everything}");
        assert!(!everything.contains("v1-value"), "{everything}");
    }

    #[test]
    fn an_unlabelled_real_version_cannot_be_read_but_says_why() {
        let real = real();
        real.put_pending("npm/token", &SecretValue::new("v2"), None)
            .unwrap();
        real.promote("npm/token", 2, Some(1)).unwrap();
        real.put_pending("npm/token", &SecretValue::new("v3"), None)
            .unwrap();
        real.promote("npm/token", 3, Some(2)).unwrap();
        // Version 1 carries no label in the real store.
        let dry = DryRunStore::new(real);
        dry.move_label("npm/token", Label::Pending, 1, None)
            .unwrap();
        let err = dry.read("npm/token", Label::Pending).unwrap_err();
        assert!(err.to_string().contains("carries no label"), "{err}");
    }
}
