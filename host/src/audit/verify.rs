//! `agentward audit verify`: is the log still what was written and signed?
//!
//! One streaming pass: every record's hash against its bytes, its `prev`
//! against the record before, its `seq` against its position, and, at each
//! signed checkpoint's size, the chain head against the signed root. The
//! first problem is named by line and seq, with an exit code per kind so a
//! script can tell an edit from a truncation from a forged checkpoint.
//!
//! A model transcript (`logs/transcripts/…`) is vouched for by the digest
//! its last call's record holds: after the chain checks out, each
//! transcript the log names is hashed and compared with it.

use super::checkpoint::{Checkpoint, NoteError};
use super::keys::NoteVerifier;
use super::log::CHECKPOINT_DIR;
use super::record::{split_line, HexDigest, GENESIS};
use sha2::Digest;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A log that checks out.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub checkpoints: usize,
    /// Size of the largest signed checkpoint.
    pub signed_size: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    #[error("line {line}: not a well-formed audit record ({reason})")]
    Malformed { line: u64, reason: String },
    #[error("line {line} (seq {seq}): the record's contents do not match its hash: it was edited")]
    Edited { line: u64, seq: u64 },
    #[error("line {line}: seq {found} where {expected} was expected: {} record(s) before it were deleted", found - expected)]
    Deleted {
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error("line {line}: seq {found} where {expected} was expected: records {expected} and {found} were swapped or reordered")]
    Reordered {
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error("line {line} (seq {seq}): its prev hash does not match the record before it: the chain is broken")]
    BrokenChain { line: u64, seq: u64 },
    #[error("the log ends with a torn record after line {line} ({bytes} bytes, no newline): a crash during an append; `agentward audit recover` cuts it")]
    TornTail { line: u64, bytes: u64 },
    #[error("the log has {records} records but checkpoint {} signed {signed}: records {records}..{} were removed from the end", checkpoint.display(), signed - 1)]
    Truncated {
        records: u64,
        signed: u64,
        checkpoint: PathBuf,
    },
    #[error("record {seq} is not the one checkpoint {} signed: the log was rewritten", checkpoint.display())]
    Rewritten { seq: u64, checkpoint: PathBuf },
    #[error("checkpoint {}: {source}", path.display())]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: NoteError,
    },
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("transcript {}: {problem} (its digest is in record {seq})", file.display())]
    Transcript {
        file: PathBuf,
        seq: u64,
        problem: String,
    },
}

impl Tamper {
    /// Exit codes for scripts: 1x the records, 2x the checkpoints, 2 input.
    pub fn exit_code(&self) -> u8 {
        match self {
            Tamper::Unreadable { .. } => 2,
            Tamper::Edited { .. } | Tamper::Malformed { .. } => 10,
            Tamper::Deleted { .. } => 11,
            Tamper::Reordered { .. } | Tamper::BrokenChain { .. } => 12,
            Tamper::Truncated { .. } | Tamper::Rewritten { .. } => 13,
            Tamper::TornTail { .. } => 14,
            Tamper::Transcript { .. } => 15,
            Tamper::Checkpoint {
                source: NoteError::WrongKey { .. },
                ..
            } => 21,
            Tamper::Checkpoint { .. } => 20,
        }
    }
}

/// Verifies `logs_dir/audit.jsonl` against every checkpoint in
/// `logs_dir/checkpoints/`, checking signatures with `verifier`.
pub fn verify_dir(logs_dir: &Path, verifier: &NoteVerifier) -> Result<Verified, Tamper> {
    let checkpoints = load_checkpoints(&logs_dir.join(CHECKPOINT_DIR), verifier)?;
    verify_log(&logs_dir.join(super::log::LOG_FILE), &checkpoints)
}

/// [`verify_dir`], and against the checkpoint a witness holds (`note`,
/// from the witness named `witness`): the log must still hold the records
/// it signed, with the same root.
pub fn verify_witnessed(
    logs_dir: &Path,
    verifier: &NoteVerifier,
    witness: &str,
    note: &str,
) -> Result<Verified, Tamper> {
    let mut checkpoints = load_checkpoints(&logs_dir.join(CHECKPOINT_DIR), verifier)?;
    let path = PathBuf::from(format!("held by witness {witness}"));
    let held = Checkpoint::open(note, verifier).map_err(|source| Tamper::Checkpoint {
        path: path.clone(),
        source,
    })?;
    checkpoints.push((path, held));
    checkpoints.sort_by_key(|(_, c)| c.size);
    verify_log(&logs_dir.join(super::log::LOG_FILE), &checkpoints)
}

/// The transcript a model call's record names (its path below
/// `transcripts/`) and the digest it recorded.
fn transcript_of(record: &[u8]) -> Option<(String, String)> {
    let record: serde_json::Value = serde_json::from_slice(record).ok()?;
    let args = record.get("args")?;
    let path = args.get("transcript")?.as_str()?;
    let digest = args.get("transcript_sha256")?.as_str()?;
    let (_, below) = path.rsplit_once("/transcripts/")?;
    let clean = below
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..");
    clean.then(|| (below.to_string(), digest.to_string()))
}

fn load_checkpoints(
    dir: &Path,
    verifier: &NoteVerifier,
) -> Result<Vec<(PathBuf, Checkpoint)>, Tamper> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "note"))
        .collect();
    paths.sort();
    let mut checkpoints = Vec::new();
    for path in paths {
        let note = std::fs::read_to_string(&path).map_err(|e| Tamper::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        match Checkpoint::open(&note, verifier) {
            Ok(checkpoint) => checkpoints.push((path, checkpoint)),
            Err(source) => return Err(Tamper::Checkpoint { path, source }),
        }
    }
    checkpoints.sort_by_key(|(_, c)| c.size);
    Ok(checkpoints)
}

pub fn verify_log(log: &Path, checkpoints: &[(PathBuf, Checkpoint)]) -> Result<Verified, Tamper> {
    let file = File::open(log).map_err(|e| Tamper::Unreadable {
        path: log.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut pending = checkpoints.iter().filter(|(_, c)| c.size > 0).peekable();
    let mut prev: HexDigest = GENESIS.as_bytes().try_into().expect("64 hex digits");
    let mut line = Vec::with_capacity(1024);
    let mut count = 0u64;
    let vouching = memchr::memmem::Finder::new(b"\"transcript_sha256\"");
    // Per transcript (its path under transcripts/): the last record's seq
    // and digest.
    let mut transcripts: std::collections::BTreeMap<String, (u64, String)> = Default::default();
    let read = |reader: &mut BufReader<File>, line: &mut Vec<u8>| {
        line.clear();
        reader
            .read_until(b'\n', line)
            .map_err(|e| Tamper::Unreadable {
                path: log.to_path_buf(),
                reason: e.to_string(),
            })
    };
    while read(&mut reader, &mut line)? > 0 {
        let number = count + 1;
        let Some(complete) = line.strip_suffix(b"\n") else {
            return Err(Tamper::TornTail {
                line: count,
                bytes: line.len() as u64,
            });
        };
        let raw = split_line(complete).map_err(|reason| Tamper::Malformed {
            line: number,
            reason: reason.to_string(),
        })?;
        if raw.seq != count {
            let (expected, found) = (count, raw.seq);
            if found < expected {
                return Err(Tamper::Reordered {
                    line: number,
                    expected,
                    found,
                });
            }
            // Swapped if the next record is the one expected here.
            let swapped = read(&mut reader, &mut line)? > 0
                && split_line(line.strip_suffix(b"\n").unwrap_or(&line))
                    .is_ok_and(|next| next.seq == expected);
            return Err(if swapped {
                Tamper::Reordered {
                    line: number,
                    expected,
                    found,
                }
            } else {
                Tamper::Deleted {
                    line: number,
                    expected,
                    found,
                }
            });
        }
        if raw.body_hash != raw.claimed_hash {
            return Err(Tamper::Edited {
                line: number,
                seq: raw.seq,
            });
        }
        if raw.prev != prev {
            return Err(Tamper::BrokenChain {
                line: number,
                seq: raw.seq,
            });
        }
        if vouching.find(complete).is_some() {
            if let Some((file, digest)) = transcript_of(complete) {
                transcripts.insert(file, (raw.seq, digest));
            }
        }
        prev = raw.claimed_hash;
        count += 1;
        while let Some((path, checkpoint)) = pending.next_if(|(_, c)| c.size == count) {
            if checkpoint.root.as_bytes() != prev {
                return Err(Tamper::Rewritten {
                    seq: count - 1,
                    checkpoint: path.clone(),
                });
            }
        }
    }
    if let Some((path, checkpoint)) = checkpoints.last().filter(|(_, c)| c.size > count) {
        return Err(Tamper::Truncated {
            records: count,
            signed: checkpoint.size,
            checkpoint: path.clone(),
        });
    }
    let dir = log.parent().unwrap_or(Path::new(".")).join("transcripts");
    for (file, (seq, digest)) in transcripts {
        let file = dir.join(file);
        let problem = match std::fs::read(&file) {
            Ok(bytes) if hex::encode(sha2::Sha256::digest(&bytes)) == digest => continue,
            Ok(_) => "it is not what the log recorded: edited, cut or extended since".to_string(),
            Err(e) => format!("cannot be read ({e}): deleted or moved"),
        };
        return Err(Tamper::Transcript { file, seq, problem });
    }
    Ok(Verified {
        records: count,
        checkpoints: checkpoints.len(),
        signed_size: checkpoints.last().map_or(0, |(_, c)| c.size),
    })
}
