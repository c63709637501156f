//! Tamper evidence: the fixture's real log, edited by arbitrary byte
//! writes, insertions and deletions, verified against its own signed
//! checkpoints. The verifier must pass the log exactly when the edits left
//! it as it was: no edit, however placed, goes unnoticed.
#![no_main]

use agentward::audit::checkpoint::Checkpoint;
use agentward::audit::verify::verify_log;
use agentward_fuzz::{scratch, verifier, LOG, NOTES};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Arbitrary, Debug)]
enum Edit {
    Set {
        at: u16,
        byte: u8,
    },
    Insert {
        at: u16,
        bytes: Vec<u8>,
    },
    Delete {
        at: u16,
        len: u8,
    },
    /// Lines swapped, as a reorder would.
    Swap {
        a: u8,
        b: u8,
    },
    /// Cut at a byte offset, as a truncation would.
    Cut {
        at: u16,
    },
}

fn checkpoints() -> &'static [(PathBuf, Checkpoint)] {
    static CHECKPOINTS: OnceLock<Vec<(PathBuf, Checkpoint)>> = OnceLock::new();
    CHECKPOINTS.get_or_init(|| {
        NOTES
            .iter()
            .enumerate()
            .map(|(n, note)| {
                let checkpoint = Checkpoint::open(note, verifier()).expect("a fixture note");
                (PathBuf::from(format!("{n}.note")), checkpoint)
            })
            .collect()
    })
}

fn apply(log: &mut Vec<u8>, edit: &Edit) {
    let pos = |at: u16, len: usize| if len == 0 { 0 } else { at as usize % (len + 1) };
    match edit {
        Edit::Set { at, byte } if !log.is_empty() => {
            let i = *at as usize % log.len();
            log[i] = *byte;
        }
        Edit::Set { .. } => {}
        Edit::Insert { at, bytes } => {
            let i = pos(*at, log.len());
            log.splice(i..i, bytes.iter().copied());
        }
        Edit::Delete { at, len } => {
            let i = pos(*at, log.len());
            let end = (i + *len as usize).min(log.len());
            log.drain(i..end);
        }
        Edit::Swap { a, b } => {
            let mut lines: Vec<&[u8]> = log.split_inclusive(|b| *b == b'\n').collect();
            if lines.len() > 1 {
                let (a, b) = (*a as usize % lines.len(), *b as usize % lines.len());
                lines.swap(a, b);
            }
            *log = lines.concat();
        }
        Edit::Cut { at } => {
            let i = pos(*at, log.len());
            log.truncate(i);
        }
    }
}

fuzz_target!(|edits: Vec<Edit>| {
    let mut log = LOG.to_vec();
    for edit in edits.iter().take(8) {
        apply(&mut log, edit);
    }
    let dir = scratch().join("audit_tamper");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join("audit.jsonl");
    std::fs::write(&path, &log).expect("writing the log");
    let verdict = verify_log(&path, checkpoints());
    assert_eq!(
        verdict.is_ok(),
        log == LOG,
        "edits {edits:?} gave {verdict:?}"
    );
});
