//! Group commit: many writers, one `fdatasync`.
//!
//! A writer whose record must be on disk before it goes on waits here; the
//! first waiter leads and syncs everything written so far, holding no
//! writer's lock, so records keep arriving and form the next group. With N
//! writers in flight one sync covers up to N records, which is what lets a
//! change with many items in flight pay for syncs, not records. The audit
//! log and the change journal both count their records through one of
//! these. [`replace_file`] is the other half of durability here: a whole
//! file replaced so that a crash leaves the old one or the new one.

use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Replaces `dir/name` with `bytes` atomically and durably: a temporary
/// file beside it, synced, renamed over it, and the directory synced.
/// A temporary file whose write failed is removed.
pub fn replace_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

pub struct GroupCommit {
    progress: Mutex<Progress>,
    synced: Condvar,
}

struct Progress {
    /// Records before this one are written / known durable.
    written: u64,
    durable: u64,
    syncing: bool,
    /// After a failed write or sync nothing is durable any more.
    broken: Option<String>,
}

impl GroupCommit {
    /// Records before `durable` are already on disk.
    pub fn new(durable: u64) -> GroupCommit {
        GroupCommit {
            progress: Mutex::new(Progress {
                written: durable,
                durable,
                syncing: false,
                broken: None,
            }),
            synced: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records before `upto` are written. Called in write order, under the
    /// writer's own lock.
    pub fn wrote(&self, upto: u64) {
        let mut p = self.lock();
        p.written = p.written.max(upto);
    }

    /// Records before `upto` are durable without a sync of ours: synced
    /// directly, or another process's to sync.
    pub fn durable_to(&self, upto: u64) {
        let mut p = self.lock();
        p.written = p.written.max(upto);
        p.durable = p.durable.max(upto);
    }

    pub fn written(&self) -> u64 {
        self.lock().written
    }

    pub fn durable(&self) -> u64 {
        self.lock().durable
    }

    /// A write failed: every later wait fails with `reason`.
    pub fn fail(&self, reason: String) {
        self.lock().broken.get_or_insert(reason);
        self.synced.notify_all();
    }

    pub fn broken(&self) -> Option<String> {
        self.lock().broken.clone()
    }

    /// Returns once the records before `upto` are durable; `sync` makes
    /// everything written so far durable.
    pub fn wait(&self, upto: u64, sync: impl Fn() -> std::io::Result<()>) -> Result<(), String> {
        let mut p = self.lock();
        loop {
            if p.durable >= upto {
                return Ok(());
            }
            if let Some(reason) = &p.broken {
                return Err(reason.clone());
            }
            if p.syncing {
                p = self.synced.wait(p).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            p.syncing = true;
            let target = p.written;
            drop(p);
            let result = sync();
            p = self.lock();
            p.syncing = false;
            match result {
                Ok(()) => p.durable = p.durable.max(target),
                Err(e) => {
                    p.broken.get_or_insert(e.to_string());
                }
            }
            self.synced.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn concurrent_waiters_share_syncs() {
        let group = GroupCommit::new(0);
        let syncs = AtomicU32::new(0);
        let next = Mutex::new(0u64);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let upto = {
                            let mut n = next.lock().unwrap();
                            *n += 1;
                            group.wrote(*n);
                            *n
                        };
                        group
                            .wait(upto, || {
                                syncs.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(1));
                                Ok(())
                            })
                            .unwrap();
                        assert!(group.durable() >= upto);
                    }
                });
            }
        });
        assert_eq!(group.durable(), 400);
        let syncs = syncs.load(Ordering::SeqCst);
        assert!(syncs < 400, "{syncs} syncs for 400 records");
    }

    #[test]
    fn a_failed_sync_fails_every_later_wait() {
        let group = GroupCommit::new(0);
        group.wrote(1);
        let err = group
            .wait(1, || Err(std::io::Error::other("disk full")))
            .unwrap_err();
        assert!(err.contains("disk full"));
        group.wrote(2);
        assert!(group.wait(2, || Ok(())).is_err());
        assert_eq!(group.durable(), 0);
    }
}
