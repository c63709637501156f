//! Items in flight: a change's items move through the state machine in
//! parallel, up to the workflow's `concurrency` at once.
//!
//! Each item is moved by one worker from start to end, so its steps keep
//! their order and every invariant of one item's rotation holds as before;
//! items are independent (each has its own secret, pending version and
//! credential), so nothing orders one against another. A worker holds its
//! own copy of its item ([`Cursor`]) and takes the manifest's lock only to
//! write it back as a journal record; records become durable outside the
//! lock by group commit, as audit records do, so items in flight share
//! their syncs and checkpoints.
//!
//! Threads, not tokio: a role run is a synchronous wasmtime call whose
//! host calls block (the store, a TLS connection, a database), and the
//! pooling allocator bounds role instances to a few dozen, so a few dozen
//! OS threads are all a change can use. An async runtime would turn every
//! host call and the engine async for no more parallelism than that.
//!
//! When a worker must stop the change (the store or the audit log failed),
//! the others finish the step they are in, leave their items where the
//! journal says, and `resume` continues them all.

use super::journal::Journal;
use super::manifest::{Item, Manifest, ManifestError};
use super::{lock, Orchestrator, OrchestratorError};
use crate::cluster::replica::ReplicaWriter;
use agentward_handoff::{Plan, Trigger};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// The change as its workers share it.
pub(super) struct Shared<'m> {
    /// Fixed while the change is driven: read without the lock.
    pub change_id: String,
    pub plan: Plan,
    pub trigger: Trigger,
    manifest: Mutex<&'m mut Manifest>,
    dir: &'m Path,
    replica: Option<&'m Arc<ReplicaWriter>>,
    /// Opened at the first record: a dry run writes none.
    journal: OnceLock<Journal>,
    pending: Vec<usize>,
    next: AtomicUsize,
    stopping: AtomicBool,
    failure: Mutex<Option<OrchestratorError>>,
}

/// A worker's hold on the item it moves: its own copy, the authority for
/// that item until the worker lets go of it.
pub(super) struct Cursor {
    pub index: usize,
    pub item: Item,
}

impl<'m> Shared<'m> {
    fn new(
        manifest: &'m mut Manifest,
        dir: &'m Path,
        replica: Option<&'m Arc<ReplicaWriter>>,
        pending: Vec<usize>,
    ) -> Shared<'m> {
        Shared {
            change_id: manifest.change_id.clone(),
            plan: manifest.plan.clone(),
            trigger: manifest.trigger,
            manifest: Mutex::new(manifest),
            dir,
            replica,
            journal: OnceLock::new(),
            pending,
            next: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            failure: Mutex::new(None),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, &'m mut Manifest> {
        lock(&self.manifest)
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The next item no worker has taken, unless the change is stopping.
    fn take(&self) -> Option<Cursor> {
        if self.stopping() {
            return None;
        }
        let index = *self.pending.get(self.next.fetch_add(1, Ordering::SeqCst))?;
        let item = self.lock().items[index].clone();
        Some(Cursor { index, item })
    }

    /// Keeps the first failure; the other workers stop at their next step.
    fn fail(&self, error: OrchestratorError) {
        self.stopping.store(true, Ordering::SeqCst);
        lock(&self.failure).get_or_insert(error);
    }

    /// Writes the cursor's item back into the manifest; with `durable`,
    /// also as the journal's next record (holding the change's own fields
    /// when `moved` moved them), returning once that record is on disk.
    pub fn journal(
        &self,
        c: &Cursor,
        durable: bool,
        moved: impl FnOnce(&mut Manifest) -> bool,
    ) -> Result<(), ManifestError> {
        let (journal, ticket) = {
            let mut m = self.lock();
            m.items[c.index] = c.item.clone();
            let change = moved(&mut m);
            if !durable {
                return Ok(());
            }
            let journal = match self.journal.get() {
                Some(j) => j,
                None => {
                    let opened = Journal::open(self.dir, &self.change_id, self.replica)?;
                    self.journal.get_or_init(|| opened)
                }
            };
            (journal, journal.write(&mut m, Some(c.index), change)?)
        };
        journal.wait(ticket)
    }
}

impl Orchestrator<'_> {
    /// Moves the `pending` items to final states, `concurrency` at once.
    pub(super) fn move_items(
        &self,
        manifest: &mut Manifest,
        pending: Vec<usize>,
    ) -> Result<(), OrchestratorError> {
        let workers = self
            .workflow
            .concurrency
            .min(self.host.max_concurrent_roles())
            .min(pending.len());
        let shared = Shared::new(manifest, &self.manifests, self.replica(), pending);
        if workers <= 1 {
            self.work(&shared);
        } else {
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| self.work(&shared));
                }
            });
        }
        match shared
            .failure
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            None => Ok(()),
            Some(error) => Err(error),
        }
    }

    /// One worker: takes items until none is left or the change stops.
    fn work(&self, s: &Shared) {
        while let Some(mut c) = s.take() {
            match self.advance(s, &mut c) {
                Ok(true) => {
                    if let Some(held) = &self.held {
                        held.release(&c.item.path);
                    }
                    self.progress.item_finished(&c.item)
                }
                Ok(false) => return,
                Err(error) => return s.fail(error),
            }
        }
    }
}

/// A counting semaphore: at most N holders at once.
pub(super) struct Permits {
    free: Mutex<usize>,
    released: Condvar,
}

pub(super) struct Permit<'p>(&'p Permits);

impl Permits {
    pub fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n),
            released: Condvar::new(),
        }
    }

    /// Waits for a free permit.
    pub fn take(&self) -> Permit<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn permits_never_admit_more_than_n_holders() {
        let permits = Permits::new(3);
        let (holding, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        let _permit = permits.take();
                        let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        holding.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert_eq!(*lock(&permits.free), 3, "every permit came back");
    }
}
