//! The labels record of each secret (`agentward-labels/PATH`, see the
//! module docs of `store::openbao`): which version holds which label, and
//! which change wrote each version, moved only by check-and-set writes
//! that are re-read and re-checked when another client got there first.

use super::{check_path, holder, Label, Meta, OpenBaoStore, StoreError, LABELS_DIR};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use vaultrs::api::kv2::responses::ReadSecretResponse;

/// How often a label write refused by the server's check-and-set is retried
/// after re-reading, when the caller's own expectation still holds.
const LABEL_WRITE_ATTEMPTS: u32 = 16;

impl OpenBaoStore {
    /// The labels record's path inside the mount.
    fn labels_path(&self, path: &str) -> String {
        format!("{LABELS_DIR}/{}", self.kv(path))
    }

    /// The labels record of `path`, or `None` if it has none yet.
    pub(super) fn labels_record(&self, path: &str) -> Result<Option<LabelsRecord>, StoreError> {
        match self.read_version(self.labels_path(path), None)? {
            Ok(record) => Ok(Some(LabelsRecord::parse(&record))),
            Err(reply) if reply.status == 404 => Ok(None),
            Err(reply) => Err(self.fail("read the labels of", path, &reply)),
        }
    }

    /// The labels record, or the labels of the older layout in `meta`'s
    /// custom metadata (as record version 0: not yet written).
    pub(super) fn labels_or_legacy(
        &self,
        path: &str,
        meta: &Meta,
    ) -> Result<LabelsRecord, StoreError> {
        Ok(match self.labels_record(path)? {
            Some(record) => record,
            None => LabelsRecord::legacy(meta),
        })
    }

    /// Writes `labels` and `changes` as the labels record of `path` with
    /// `options.cas = record_version`. `Ok(false)`: the server refused it
    /// because the record is no longer at `record_version`.
    fn write_labels(
        &self,
        path: &str,
        record_version: u32,
        labels: &[Vec<Label>],
        changes: &BTreeMap<u32, String>,
    ) -> Result<bool, StoreError> {
        if record_version == 0 {
            // A new record: make the server refuse blind writes to it first.
            self.require_cas(self.labels_path(path), "protect the labels of", path)?;
        }
        let mut data = Map::new();
        for label in Label::ALL {
            if let Some(v) = holder(labels, label) {
                data.insert(label.as_str().into(), Value::from(v));
            }
        }
        let changes: Map<String, Value> = changes
            .iter()
            .map(|(v, id)| (v.to_string(), Value::String(id.clone())))
            .collect();
        data.insert("changes".into(), Value::Object(changes));
        let reply = self.write_version(self.labels_path(path), record_version, data)?;
        Self::cas_written(&reply).ok_or_else(|| self.fail("write the labels of", path, &reply))
    }

    /// Reads the labels of `path`, applies `change` (which checks the
    /// caller's expectation) and writes them back as a server-side
    /// check-and-set. A refused write is re-read and re-checked, so another
    /// client's move of the same label ends in `change`'s
    /// [`StoreError::CasConflict`].
    pub(super) fn update_labels(
        &self,
        path: &str,
        mut change: impl FnMut(
            &mut Vec<Vec<Label>>,
            &mut BTreeMap<u32, String>,
        ) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for _ in 0..LABEL_WRITE_ATTEMPTS {
            let meta = self.existing_metadata(path)?;
            let record = self.labels_or_legacy(path, &meta)?;
            let before = record.labels(meta.current_version);
            let mut after = before.clone();
            let mut changes = record.changes.clone();
            change(&mut after, &mut changes)?;
            if after == before && changes == record.changes {
                return Ok(());
            }
            if let Some(hook) = &self.before_label_write {
                hook();
            }
            if self.write_labels(path, record.version, &after, &changes)? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(format!(
            "OpenBao at {}: the labels of secret {path:?} changed under {LABEL_WRITE_ATTEMPTS} \
             attempts in a row to update them\n  fix: retry when the other writers are done",
            self.addr()
        )))
    }

    /// Labels `version` of `path` pending (moving `pending` from any older
    /// version) and records `change_id` for it: the second half of
    /// [`SecretStore::put_pending`], to finish one whose labelling failed.
    ///
    /// Idempotent: if `version` is already pending (with that change id),
    /// nothing is written. If a newer version is already pending,
    /// [`StoreError::CasConflict`] and nothing changes.
    pub fn resume_pending(
        &self,
        path: &str,
        version: u32,
        change_id: Option<&str>,
    ) -> Result<(), StoreError> {
        check_path(path)?;
        self.update_labels(path, |labels, changes| {
            if version == 0 || version as usize > labels.len() {
                return Err(StoreError::NoSuchVersion {
                    path: path.to_string(),
                    version,
                });
            }
            let pending = holder(labels, Label::Pending);
            if pending.is_some_and(|p| p > version) {
                return Err(StoreError::CasConflict {
                    path: path.to_string(),
                    label: Label::Pending,
                    expected: Some(version),
                    found: pending,
                });
            }
            labels
                .iter_mut()
                .for_each(|l| l.retain(|x| *x != Label::Pending));
            labels[version as usize - 1].push(Label::Pending);
            labels[version as usize - 1].sort_by_key(|x| *x as u8);
            if let Some(id) = change_id {
                changes.insert(version, id.to_string());
            }
            Ok(())
        })
    }
}

/// A secret's labels record (see the module docs).
pub(super) struct LabelsRecord {
    /// Its KV v2 version: the `cas` of our next write (0: not written yet).
    pub(super) version: u32,
    /// `holders[i]` holds `Label::ALL[i]`.
    pub(super) holders: [Option<u32>; 3],
    /// version → the change that created it.
    pub(super) changes: BTreeMap<u32, String>,
}

impl LabelsRecord {
    pub(super) fn parse(record: &ReadSecretResponse) -> LabelsRecord {
        let version = record.metadata.version as u32;
        let data = Some(&record.data);
        let number = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(|n| n as u32)
        };
        let holders =
            Label::ALL.map(|label| data.and_then(|d| d.get(label.as_str())).and_then(number));
        let changes = data
            .and_then(|d| d.get("changes"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        LabelsRecord {
            version,
            holders,
            changes,
        }
    }

    /// The labels of the older layout, kept in the secret's custom metadata.
    pub(super) fn legacy(meta: &Meta) -> LabelsRecord {
        let holders = Label::ALL.map(|label| {
            meta.custom
                .get(&format!("label.{}", label.as_str()))
                .and_then(|v| v.parse().ok())
        });
        let changes = meta
            .custom
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("change.")?.parse().ok()?, v.clone())))
            .collect();
        LabelsRecord {
            version: 0,
            holders,
            changes,
        }
    }

    /// The version holding `label`, if the record names one.
    pub(super) fn holder(&self, label: Label) -> Option<u32> {
        let i = Label::ALL.iter().position(|l| *l == label)?;
        self.holders[i].filter(|v| *v >= 1)
    }

    /// `labels[i]` are version `i + 1`'s, for versions up to `latest`.
    pub(super) fn labels(&self, latest: u32) -> Vec<Vec<Label>> {
        let mut labels = vec![Vec::new(); latest as usize];
        for label in Label::ALL {
            if let Some(v) = self.holder(label).filter(|v| *v <= latest) {
                labels[v as usize - 1].push(label);
            }
        }
        labels
    }
}
