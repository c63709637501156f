//! The append-only, hash-chained audit log (`logs/audit.jsonl`).
//!
//! Each append is one `write` of one whole line, so a crash can leave at
//! most a torn last line, which [`AuditLog::open`] refuses and
//! [`recover`] cuts off (keeping the bytes for forensics). Durable modes
//! `fdatasync` before an append returns; with [`Durability::GroupCommit`],
//! concurrent appenders share one sync ([`crate::durable::GroupCommit`]).
//! Concurrent checkpoints coalesce: a caller whose records a checkpoint
//! made while it waited already covers takes that one.
//!
//! Records of calls that changed and sent nothing ([`EventSink::record_later`])
//! leave the call path: they are queued, a writer thread encodes, chains
//! and writes them in batches once enough wait, and every synchronous
//! append, sync, checkpoint and [`EventSink::flush`] writes what is queued
//! first, so the log's order is the order of the calls. A role run ends
//! with its records written, and an effect never happens before the
//! records queued ahead of its intent; a kill can lose only records of a
//! run's calls since its last effect, which changed and sent nothing.

use super::checkpoint::Checkpoint;
use super::keys::AuditKeys;
use super::record::{encode, encode_call, hex_string, split_line, write_call, HexDigest, GENESIS};
use super::{CallEvent, CallRecord, EventSink, SinkError};
use crate::durable::GroupCommit;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

pub const LOG_FILE: &str = "audit.jsonl";
pub const CHECKPOINT_DIR: &str = "checkpoints";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Written to the OS, not synced: tests and benchmarks only.
    Buffered,
    /// One `fdatasync` per record.
    EachRecord,
    /// One `fdatasync` per group of concurrent records.
    GroupCommit,
    /// Records are written at once and synced (group-committed) before
    /// every effect and checkpoint ([`EventSink::sync`]): whatever led to an
    /// effect is on disk before the effect happens. Nothing a role reads can
    /// leave the sandbox except through an effect, so no value leaves
    /// without a durable record; between effects a power cut (not a kill,
    /// which loses nothing written) may lose only records of calls that
    /// changed and sent nothing.
    BeforeEffects,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "audit log {} ends with a torn record: {bytes} bytes after offset {offset} with no newline (a crash during an append)\n  fix: `agentward audit recover` keeps those bytes in a side file and cuts them off",
        path.display()
    )]
    TornTail {
        path: PathBuf,
        offset: u64,
        bytes: u64,
    },
    #[error(
        "audit log {}: the last record is corrupt ({reason})\n  fix: run `agentward audit verify` to find the first bad record",
        path.display()
    )]
    CorruptTail { path: PathBuf, reason: String },
    #[error(transparent)]
    Unwitnessed(#[from] super::witness::WitnessError),
}

/// The log; cheap to share (the writer thread holds the other end).
pub struct AuditLog {
    log: Arc<Log>,
    writer: OnceLock<std::thread::JoinHandle<()>>,
}

/// Queued records past this many are written by the caller that queues
/// the next one: memory stays bounded whatever a role does.
const LATER_BOUND: usize = 4096;

/// The writer thread is woken when this many records wait: a run with
/// fewer calls writes them all in one batch when it ends, with no thread
/// handoff at all.
const LATER_BATCH: usize = 64;

struct Log {
    path: PathBuf,
    durability: Durability,
    state: Mutex<State>,
    group: GroupCommit,
    /// A second handle, so a group-commit leader syncs without the lock.
    sync_handle: File,
    /// The last checkpoint this process made; held while one is made, so
    /// checkpoints reach the witnesses in order.
    last_checkpoint: Mutex<Option<Checkpoint>>,
    /// Who else is handed each checkpoint.
    witnessing: Option<super::witness::Witnessing>,
    /// Records to be written, in call order, ahead of any later one.
    later: Mutex<Vec<CallRecord>>,
    queued: Condvar,
    closing: AtomicBool,
}

struct State {
    file: File,
    next_seq: u64,
    prev: String,
    len: u64,
}

impl AuditLog {
    /// Opens (or creates) `audit.jsonl` in `logs_dir`, creating the
    /// directory (0700) if needed.
    pub fn open_dir(logs_dir: &Path, durability: Durability) -> Result<AuditLog, AuditError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(logs_dir)
            .map_err(|source| AuditError::Io {
                path: logs_dir.to_path_buf(),
                source,
            })?;
        AuditLog::open(&logs_dir.join(LOG_FILE), durability)
    }

    pub fn open(path: &Path, durability: Durability) -> Result<AuditLog, AuditError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let tail = read_tail(path, &mut file)?;
        let sync_handle = file.try_clone().map_err(io)?;
        let log = Log {
            path: path.to_path_buf(),
            durability,
            state: Mutex::new(State {
                file,
                next_seq: tail.next_seq,
                prev: tail.prev,
                len: tail.len,
            }),
            group: GroupCommit::new(tail.next_seq),
            sync_handle,
            last_checkpoint: Mutex::new(None),
            witnessing: None,
            later: Mutex::new(Vec::new()),
            queued: Condvar::new(),
            closing: AtomicBool::new(false),
        };
        Ok(AuditLog {
            log: Arc::new(log),
            writer: OnceLock::new(),
        })
    }

    /// Hands every checkpoint from now on to `witnessing`'s witnesses too.
    pub fn with_witnessing(mut self, witnessing: super::witness::Witnessing) -> Self {
        Arc::get_mut(&mut self.log)
            .expect("witnessing is set before the log is shared")
            .witnessing = Some(witnessing);
        self
    }

    pub fn path(&self) -> &Path {
        &self.log.path
    }

    /// Appends `event` as the next record; returns its seq once it is as
    /// durable as the log's [`Durability`] promises.
    pub fn append(&self, event: &CallEvent) -> Result<u64, SinkError> {
        self.log.append(event)
    }

    /// A signed checkpoint covering every record so far ([`Log::checkpoint`]).
    pub fn checkpoint(&self, keys: &AuditKeys) -> Result<Checkpoint, AuditError> {
        self.log.checkpoint(keys)
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.log.closing.store(true, Ordering::SeqCst);
        self.log.queued.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let _ = self.log.flush();
    }
}

impl Log {
    /// The writer thread: writes queued records until the log closes.
    fn write_queued(&self) {
        loop {
            {
                let mut later = lock(&self.later);
                while later.is_empty() && !self.closing.load(Ordering::SeqCst) {
                    later = self.queued.wait(later).unwrap_or_else(|p| p.into_inner());
                }
                if later.is_empty() {
                    return;
                }
            }
            // A failure breaks the log; the next synchronous record says so.
            let _ = self.flush();
        }
    }

    /// Writes what is queued.
    fn flush(&self) -> Result<(), SinkError> {
        if lock(&self.later).is_empty() {
            return Ok(());
        }
        let mut state = self.lock();
        let _exclusive = FileLock::take(&self.sync_handle).map_err(|e| self.error(e))?;
        self.follow(&mut state)?;
        self.write_later(&mut state)
    }

    /// Writes the queued records as one batch, under the state and file
    /// locks, after [`Log::follow`].
    fn write_later(&self, state: &mut State) -> Result<(), SinkError> {
        let queued = std::mem::take(&mut *lock(&self.later));
        if queued.is_empty() {
            return Ok(());
        }
        if let Some(reason) = self.group.broken() {
            return Err(self.error(std::io::Error::other(format!(
                "an earlier append failed ({reason}); {} records were not written",
                queued.len()
            ))));
        }
        let mut batch = Vec::with_capacity(queued.len() * 512);
        let mut seq = state.next_seq;
        let mut prev: HexDigest = state.prev.as_bytes().try_into().expect("a record's hash");
        for call in &queued {
            let after = std::str::from_utf8(&prev).expect("hex is ASCII");
            prev = write_call(&mut batch, after, seq, call);
            seq += 1;
        }
        self.write_line(state, &batch, seq, hex_string(&prev))
    }

    /// Writes `bytes` (whole lines) ending the chain at `next_seq`, `prev`.
    fn write_line(
        &self,
        state: &mut State,
        bytes: &[u8],
        next_seq: u64,
        prev: String,
    ) -> Result<(), SinkError> {
        if let Err(e) = state.file.write_all(bytes) {
            // Cut a partial line so the log stays well formed on disk.
            let _ = state.file.set_len(state.len);
            self.group.fail(e.to_string());
            return Err(self.error(e));
        }
        state.len += bytes.len() as u64;
        state.next_seq = next_seq;
        state.prev = prev;
        self.group.wrote(state.next_seq);
        if self.durability == Durability::EachRecord {
            if let Err(e) = state.file.sync_data() {
                self.group.fail(e.to_string());
                return Err(self.error(e));
            }
            self.group.durable_to(state.next_seq);
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn error(&self, source: std::io::Error) -> SinkError {
        SinkError {
            target: self.path.display().to_string(),
            source,
        }
    }

    /// Appends `event` as the next record; returns its seq once it is as
    /// durable as the log's [`Durability`] promises.
    pub fn append(&self, event: &CallEvent) -> Result<u64, SinkError> {
        self.append_line(|prev, seq| encode(prev, seq, event))
    }

    /// Appends the line `encode` makes of the next record after `prev`.
    fn append_line(
        &self,
        encode: impl FnOnce(&str, u64) -> (Vec<u8>, String),
    ) -> Result<u64, SinkError> {
        let seq = {
            let mut state = self.lock();
            if let Some(reason) = self.group.broken() {
                return Err(self.error(std::io::Error::other(format!(
                    "an earlier append failed ({reason}); the log accepts nothing more in this process"
                ))));
            }
            let _exclusive = FileLock::take(&self.sync_handle).map_err(|e| self.error(e))?;
            self.follow(&mut state)?;
            self.write_later(&mut state)?;
            let seq = state.next_seq;
            let (line, hash) = encode(&state.prev, seq);
            self.write_line(&mut state, &line, seq + 1, hash)?;
            seq
        };
        if self.durability == Durability::GroupCommit {
            self.wait_durable(seq + 1)?;
        }
        Ok(seq)
    }

    /// Returns once the records before `upto` are on disk.
    fn wait_durable(&self, upto: u64) -> Result<(), SinkError> {
        self.group
            .wait(upto, || self.sync_handle.sync_data())
            .map_err(|reason| self.error(std::io::Error::other(reason)))
    }

    /// Syncs the log and writes a signed checkpoint covering every record
    /// appended before the call into `logs/checkpoints/`, then hands it to
    /// the witnesses. A checkpoint made while this call waited may already
    /// cover them: then that one is the answer.
    pub fn checkpoint(&self, keys: &AuditKeys) -> Result<Checkpoint, AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let sink = |e: SinkError| io(e.source);
        self.flush().map_err(sink)?;
        let wanted = self.lock().next_seq;
        let mut last = lock(&self.last_checkpoint);
        if let Some(done) = last.as_ref().filter(|c| c.size >= wanted) {
            return Ok(done.clone());
        }
        let checkpoint = {
            let mut state = self.lock();
            let _exclusive = FileLock::take(&self.sync_handle).map_err(io)?;
            self.follow(&mut state).map_err(sink)?;
            Checkpoint {
                origin: origin(keys),
                size: state.next_seq,
                root: state.prev.clone(),
            }
        };
        // Every record it covers, this process's or another's, is on disk
        // before the checkpoint names it.
        self.sync_handle.sync_data().map_err(io)?;
        self.group.durable_to(checkpoint.size);
        let dir = self
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(CHECKPOINT_DIR);
        let note = checkpoint.sign(keys);
        crate::durable::replace_file(
            &dir,
            &checkpoint_file_name(checkpoint.size),
            note.as_bytes(),
        )
        .map_err(|source| AuditError::Io { path: dir, source })?;
        if let Some(witnessing) = &self.witnessing {
            witnessing.hand(&note, &checkpoint)?;
        }
        *last = Some(checkpoint.clone());
        Ok(checkpoint)
    }
}

impl Log {
    /// Another process (a `secrets exec --watch` supervisor beside a
    /// `rotate`) may have appended since this one last did: the chain goes
    /// on from the last record on disk, not from this process's memory.
    /// Called under the file lock.
    fn follow(&self, state: &mut State) -> Result<(), SinkError> {
        let len = state.file.metadata().map_err(|e| self.error(e))?.len();
        if len == state.len {
            return Ok(());
        }
        let tail = read_tail(&self.path, &mut state.file)
            .map_err(|e| self.error(std::io::Error::other(e.to_string())))?;
        state.next_seq = tail.next_seq;
        state.prev = tail.prev;
        state.len = tail.len;
        // The other process's records are its own to make durable; this
        // one waits only for the records it appends from here on.
        self.group.durable_to(tail.next_seq);
        Ok(())
    }
}

/// An exclusive `flock(2)` on the log, held while a record is appended or
/// a checkpoint taken, so processes sharing a project extend one chain.
/// Taken on the log's second handle: the same open file, so the same lock.
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn take(file: &'a File) -> std::io::Result<FileLock<'a>> {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this File owns for its lifetime.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(FileLock(file))
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `take`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

impl EventSink for AuditLog {
    fn record(&self, event: &CallEvent) -> Result<(), SinkError> {
        self.log.append(event).map(|_| ())
    }

    fn record_call(&self, call: &CallRecord) -> Result<(), SinkError> {
        self.log
            .append_line(|prev, seq| encode_call(prev, seq, call))
            .map(|_| ())
    }

    fn record_later(&self, call: CallRecord) -> Result<(), SinkError> {
        let queued = {
            let mut later = lock(&self.log.later);
            later.push(call);
            later.len()
        };
        if queued >= LATER_BOUND {
            return self.log.flush();
        }
        if queued == LATER_BATCH {
            let log = self.log.clone();
            self.writer
                .get_or_init(|| std::thread::spawn(move || log.write_queued()));
            self.log.queued.notify_one();
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), SinkError> {
        self.log.flush()
    }

    fn sync(&self) -> Result<(), SinkError> {
        self.log.flush()?;
        if self.log.durability == Durability::Buffered {
            return Ok(());
        }
        self.log.wait_durable(self.log.group.written())
    }
}

/// A lock whose holder panicked still guards whole data: every critical
/// section here leaves it consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The origin line of this deployment's checkpoints.
pub fn origin(keys: &AuditKeys) -> String {
    format!("agentward/{}", keys.name())
}

/// Zero-padded so a directory listing sorts checkpoints by size.
pub fn checkpoint_file_name(size: u64) -> String {
    format!("{size:020}.note")
}

struct Tail {
    next_seq: u64,
    prev: String,
    len: u64,
}

/// Finds the last record without reading the whole log.
fn read_tail(path: &Path, file: &mut File) -> Result<Tail, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(Tail {
            next_seq: 0,
            prev: GENESIS.to_string(),
            len,
        });
    }
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        let mut bytes = Vec::with_capacity((len - start) as usize);
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.take(len - start).read_to_end(&mut bytes).map_err(io)?;
        if bytes.last() != Some(&b'\n') {
            let offset = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(start, |i| start + i as u64 + 1);
            if offset == start && start > 0 {
                window *= 4;
                continue;
            }
            return Err(AuditError::TornTail {
                path: path.to_path_buf(),
                offset,
                bytes: len - offset,
            });
        }
        let body = &bytes[..bytes.len() - 1];
        let line_start = match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if start > 0 => {
                window *= 4;
                continue;
            }
            None => 0,
        };
        let corrupt = |reason: &str| AuditError::CorruptTail {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let raw = split_line(&body[line_start..]).map_err(corrupt)?;
        if raw.body_hash != raw.claimed_hash {
            return Err(corrupt("its hash does not match its contents"));
        }
        return Ok(Tail {
            next_seq: raw.seq + 1,
            prev: String::from_utf8_lossy(&raw.claimed_hash).into_owned(),
            len,
        });
    }
}

/// What [`recover`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Recovery {
    pub cut_bytes: u64,
    pub saved_to: PathBuf,
}

/// Cuts a torn last line (saving it beside the log); `None` if there was none.
pub fn recover(path: &Path) -> Result<Option<Recovery>, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let (offset, bytes) = match read_tail(path, &mut file) {
        Ok(_) => return Ok(None),
        Err(AuditError::TornTail { offset, bytes, .. }) => (offset, bytes),
        Err(other) => return Err(other),
    };
    let mut torn = Vec::new();
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    file.read_to_end(&mut torn).map_err(io)?;
    let saved_to = path.with_extension(format!("torn-at-{offset}"));
    std::fs::write(&saved_to, &torn).map_err(io)?;
    file.set_len(offset).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(Some(Recovery {
        cut_bytes: bytes,
        saved_to,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_effects_syncs_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let log =
            AuditLog::open(&dir.path().join("audit.jsonl"), Durability::BeforeEffects).unwrap();
        let event = CallEvent {
            ts: "2026-11-25T00:00:00Z".into(),
            change_id: String::new(),
            role: "planner".into(),
            component: "00".into(),
            call: "log.log".into(),
            args: Default::default(),
            decision: crate::audit::Decision::Allow,
            outcome: "ok".into(),
            duration_us: 0,
        };
        for _ in 0..3 {
            log.append(&event).unwrap();
        }
        assert_eq!(log.log.group.durable(), 0, "appends alone do not sync");
        log.sync().unwrap();
        assert_eq!(log.log.group.durable(), 3);
    }
}
