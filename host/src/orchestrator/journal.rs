//! The change journal (`manifests/CHANGE.journal`): what happened to a
//! change since its snapshot (`manifests/CHANGE.json`), one JSON line per
//! intent and transition, each durable before the effect it announces.
//!
//! A step appends the one item it moved (and the change's own fields when
//! they moved too), so its cost does not grow with the size of the change;
//! the snapshot is written when the change is planned and again when it
//! closes, which compacts the journal away. [`replay`] applies the journal
//! over the snapshot: `show`, `resume` and approvals read the same state.
//!
//! Every record has a sequence number and the snapshot names the last one
//! it holds (`journal_seq`), so a crash between writing the compacted
//! snapshot and removing the journal replays nothing twice. A torn last
//! line, from a crash mid-append, was never acknowledged, so the effect it
//! announced never began: replay drops it and the next append cuts it off.
//! Any other line that does not parse is corruption, and `resume` refuses
//! to guess.
//!
//! While this host holds the change in a cluster ([`super::held`]), each
//! group of records is also sent to the change's replica in OpenBao when it
//! is synced, and is acknowledged only once both have it.

use super::manifest::{Approval, ChangeState, Item, Manifest, ManifestError};
use crate::capabilities::docs::Consulted;
use crate::cluster::replica::ReplicaWriter;
use crate::durable::GroupCommit;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn path_for(dir: &Path, change_id: &str) -> PathBuf {
    dir.join(format!("{change_id}.journal"))
}

/// One line. Written from borrowed parts, read back owned.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record<'a> {
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item: Option<ItemRecord<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    change: Option<ChangeRecord<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRecord<'a> {
    index: usize,
    item: Cow<'a, Item>,
}

/// The change's fields that move after planning; the plan, its hash and
/// what the context stages found are fixed in the snapshot.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRecord<'a> {
    state: ChangeState,
    approvals: Cow<'a, [Approval]>,
    notices: Cow<'a, [String]>,
    docs: Cow<'a, [Consulted]>,
}

/// A change's journal, open for appending while the change is driven.
///
/// Records are written in sequence order under the manifest's lock (the
/// caller's) and made durable outside it, by group commit: items in flight
/// together share their syncs.
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
    group: GroupCommit,
    replica: Option<Arc<ReplicaWriter>>,
}

impl Journal {
    /// Opens (or creates) `m`'s journal, cutting a torn last line off;
    /// with `replica`, its records go to the change's copy there too.
    pub fn open(
        dir: &Path,
        change_id: &str,
        replica: Option<&Arc<ReplicaWriter>>,
    ) -> Result<Journal, ManifestError> {
        let path = path_for(dir, change_id);
        let error = |source| ManifestError::Write {
            path: path.clone(),
            source,
        };
        let created = !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(error)?;
        cut_torn_tail(&mut file).map_err(error)?;
        if created {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(error)?;
        }
        Ok(Journal {
            path,
            file,
            group: GroupCommit::new(0),
            replica: replica.cloned(),
        })
    }

    /// Writes item `item` (if any) and, with `change`, the change's moving
    /// fields, as `m`'s next record: the ticket [`Journal::wait`] takes.
    /// The caller holds `m` exclusively until this returns.
    pub fn write(
        &self,
        m: &mut Manifest,
        item: Option<usize>,
        change: bool,
    ) -> Result<u64, ManifestError> {
        let record = Record {
            seq: m.journal_seq + 1,
            item: item.map(|index| ItemRecord {
                index,
                item: Cow::Borrowed(&m.items[index]),
            }),
            change: change.then(|| ChangeRecord {
                state: m.state,
                approvals: Cow::Borrowed(&m.approvals),
                notices: Cow::Borrowed(&m.notices),
                docs: Cow::Borrowed(&m.docs),
            }),
        };
        let mut line = serde_json::to_vec(&record).expect("a journal record serialises");
        line.push(b'\n');
        if let Some(reason) = self.group.broken() {
            return Err(self.error(std::io::Error::other(reason)));
        }
        // One write of one whole line, in append mode: a crash leaves at
        // most a torn last line.
        (&self.file).write_all(&line).map_err(|e| {
            self.group.fail(e.to_string());
            self.error(e)
        })?;
        m.journal_seq += 1;
        if let Some(replica) = &self.replica {
            replica.push(m.journal_seq, &line);
        }
        self.group.wrote(m.journal_seq);
        Ok(m.journal_seq)
    }

    /// Returns once the record `ticket` (and every one before it) is on
    /// disk, and in the replica if there is one.
    pub fn wait(&self, ticket: u64) -> Result<(), ManifestError> {
        self.group
            .wait(ticket, || {
                self.file.sync_data()?;
                match &self.replica {
                    Some(replica) => replica
                        .send()
                        .map_err(|e| std::io::Error::other(e.to_string())),
                    None => Ok(()),
                }
            })
            .map_err(|reason| self.error(std::io::Error::other(reason)))
    }

    fn error(&self, source: std::io::Error) -> ManifestError {
        ManifestError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

/// Appends item `item` (if any) and, with `change`, the change's moving
/// fields, as one durable record.
pub fn append(
    m: &mut Manifest,
    dir: &Path,
    item: Option<usize>,
    change: bool,
    replica: Option<&Arc<ReplicaWriter>>,
) -> Result<(), ManifestError> {
    let journal = Journal::open(dir, &m.change_id, replica)?;
    let ticket = journal.write(m, item, change)?;
    journal.wait(ticket)
}

/// Truncates a last line that has no newline: the length left.
fn cut_torn_tail(file: &mut std::fs::File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    let mut text = Vec::with_capacity(len as usize);
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut text)?;
    let keep = text
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at as u64 + 1);
    file.set_len(keep)?;
    Ok(keep)
}

/// Applies the journal beside `m`'s snapshot, if there is one.
pub fn replay(m: &mut Manifest, dir: &Path) -> Result<(), ManifestError> {
    let path = path_for(dir, &m.change_id);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ManifestError::Corrupt {
                path,
                reason: e.to_string(),
            })
        }
    };
    let corrupt = |line: usize, reason: String| ManifestError::Corrupt {
        path: path.clone(),
        reason: format!("line {line}: {reason}"),
    };
    // A last line without its newline is torn: never acknowledged.
    let complete = text
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    for (n, line) in text[..complete]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let record: Record =
            serde_json::from_slice(line).map_err(|e| corrupt(n + 1, e.to_string()))?;
        if record.seq <= m.journal_seq {
            continue; // already in the snapshot
        }
        if record.seq != m.journal_seq + 1 {
            return Err(corrupt(
                n + 1,
                format!("record {} follows record {}", record.seq, m.journal_seq),
            ));
        }
        if let Some(ItemRecord { index, item }) = record.item {
            match m.items.get_mut(index) {
                Some(slot) if slot.path == item.path => *slot = item.into_owned(),
                _ => {
                    return Err(corrupt(
                        n + 1,
                        format!("item {index} ({}) is not in the plan", item.path),
                    ))
                }
            }
        }
        if let Some(change) = record.change {
            m.state = change.state;
            m.approvals = change.approvals.into_owned();
            m.notices = change.notices.into_owned();
            m.docs = change.docs.into_owned();
        }
        m.journal_seq = record.seq;
    }
    Ok(())
}

/// Removes the journal once a snapshot holds all of it.
pub fn remove(dir: &Path, change_id: &str) -> std::io::Result<()> {
    match std::fs::remove_file(path_for(dir, change_id)) {
        Ok(()) => std::fs::File::open(dir).and_then(|d| d.sync_all()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::manifest::ItemState;

    /// A planned change of three secrets, its snapshot written.
    fn manifest(dir: &Path) -> Manifest {
        let digest = || crate::orchestrator::manifest::FileDigest {
            path: "policies/x.toml".into(),
            sha256: "0".repeat(64),
        };
        let plan = agentward_handoff::Plan {
            items: Vec::new(),
            not_before: None,
            notes: Vec::new(),
        };
        let m = Manifest {
            format: crate::orchestrator::manifest::FORMAT,
            change_id: "01JJ0VRNA10000000000000000".into(),
            created: "2026-12-03T00:00:00Z".into(),
            dry_run: false,
            trigger: agentward_handoff::Trigger::Cadence,
            breach: None,
            workflow: digest(),
            policy: digest(),
            state: ChangeState::Planned,
            plan_hash: crate::orchestrator::manifest::plan_hash(&plan),
            plan,
            approval_rules: Vec::new(),
            approvals: Vec::new(),
            items: (0..3)
                .map(|n| Item::new(format!("npm/t{n}"), Some(1)))
                .collect(),
            notices: Vec::new(),
            docs: Vec::new(),
            briefing: Default::default(),
            usages: Vec::new(),
            journal_seq: 0,
        };
        m.save(dir).unwrap();
        m
    }

    #[test]
    fn a_step_appends_one_record_and_load_replays_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = manifest(dir.path());
        let snapshot = std::fs::read(dir.path().join(format!("{}.json", m.change_id))).unwrap();
        m.items[1].state = ItemState::Minted;
        append(&mut m, dir.path(), Some(1), false, None).unwrap();
        m.state = ChangeState::Approved;
        m.notices.push("told".into());
        m.items[2].state = ItemState::Aborting;
        append(&mut m, dir.path(), Some(2), true, None).unwrap();
        // The snapshot is untouched; the journal holds the two steps.
        let after = std::fs::read(dir.path().join(format!("{}.json", m.change_id))).unwrap();
        assert_eq!(snapshot, after);
        let loaded = Manifest::load(dir.path(), &m.change_id).unwrap();
        assert_eq!(loaded, m);
        // Compaction: the snapshot holds everything, the journal is gone.
        m.save(dir.path()).unwrap();
        assert!(!path_for(dir.path(), &m.change_id).exists());
        assert_eq!(Manifest::load(dir.path(), &m.change_id).unwrap(), m);
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_cut_off_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = manifest(dir.path());
        m.items[0].state = ItemState::Minted;
        append(&mut m, dir.path(), Some(0), false, None).unwrap();
        let before = m.clone();
        let journal = path_for(dir.path(), &m.change_id);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .unwrap();
        f.write_all(b"{\"seq\":2,\"item\":{\"index\":0,\"it")
            .unwrap();
        assert_eq!(Manifest::load(dir.path(), &m.change_id).unwrap(), before);
        m.items[0].state = ItemState::PendingStored;
        append(&mut m, dir.path(), Some(0), false, None).unwrap();
        let loaded = Manifest::load(dir.path(), &m.change_id).unwrap();
        assert_eq!(loaded.items[0].state, ItemState::PendingStored);
        assert_eq!(loaded.journal_seq, 2);
    }

    #[test]
    fn a_journal_left_beside_a_newer_snapshot_replays_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = manifest(dir.path());
        m.items[0].state = ItemState::Minted;
        append(&mut m, dir.path(), Some(0), false, None).unwrap();
        let journal = std::fs::read(path_for(dir.path(), &m.change_id)).unwrap();
        m.items[0].state = ItemState::Done;
        m.save(dir.path()).unwrap();
        // A crash after the snapshot, before the journal's removal.
        std::fs::write(path_for(dir.path(), &m.change_id), journal).unwrap();
        let loaded = Manifest::load(dir.path(), &m.change_id).unwrap();
        assert_eq!(loaded.items[0].state, ItemState::Done);
    }

    #[test]
    fn a_corrupt_line_or_a_foreign_item_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = manifest(dir.path());
        append(&mut m, dir.path(), Some(0), false, None).unwrap();
        let journal = path_for(dir.path(), &m.change_id);
        let good = std::fs::read_to_string(&journal).unwrap();
        std::fs::write(&journal, format!("not json\n{good}")).unwrap();
        let err = Manifest::load(dir.path(), &m.change_id)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains(".journal"), "{err}");
        let foreign = good.replace("\"index\":0", "\"index\":7");
        std::fs::write(&journal, foreign).unwrap();
        let err = Manifest::load(dir.path(), &m.change_id)
            .unwrap_err()
            .to_string();
        assert!(err.contains("item 7"), "{err}");
    }
}
