//! The audit verifier on an arbitrary log and checkpoints: a verdict, never
//! a panic. A log it passes is whole (every record newline-terminated and
//! counted), and its verdict agrees with checkpoints made from the log
//! itself: one at its head passes, one past its end is a truncation, one
//! with another root is a rewrite.
//!
//! Input: the log's bytes, then, after each NUL byte, one signed note
//! (those that do not open under the fixture's key are dropped, as
//! `audit verify` would refuse them before reading the log).
#![no_main]

use agentward::audit::checkpoint::Checkpoint;
use agentward::audit::record::split_line;
use agentward::audit::verify::{verify_log, Tamper};
use agentward_fuzz::{scratch, verifier};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

fn verify(log: &Path, checkpoints: &[(PathBuf, Checkpoint)]) -> Result<u64, Tamper> {
    let result = verify_log(log, checkpoints);
    if let Err(tamper) = &result {
        let _ = (tamper.to_string(), tamper.exit_code());
    }
    result.map(|verified| verified.records)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let log_bytes = parts.next().unwrap_or_default();
    let mut checkpoints: Vec<(PathBuf, Checkpoint)> = parts
        .filter_map(|note| std::str::from_utf8(note).ok())
        .filter_map(|note| Checkpoint::open(note, verifier()).ok())
        .map(|c| (PathBuf::from(format!("{}.note", c.size)), c))
        .collect();
    checkpoints.sort_by_key(|(_, c)| c.size);

    let dir = scratch().join("audit_verify");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let log = dir.join("audit.jsonl");
    std::fs::write(&log, log_bytes).expect("writing the log");

    let Ok(records) = verify(&log, &checkpoints) else {
        return;
    };
    let lines = log_bytes.iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(records, lines, "a passing log's records are its lines");
    assert!(log_bytes.is_empty() || log_bytes.ends_with(b"\n"));
    if let Some((_, last)) = checkpoints.last() {
        assert!(last.size <= records, "a passing log holds what was signed");
    }
    let Some(head) = log_bytes.strip_suffix(b"\n") else {
        return;
    };
    let last_line = head.rsplit(|b| *b == b'\n').next().unwrap_or(head);
    let root = String::from_utf8(
        split_line(last_line)
            .expect("it passed")
            .claimed_hash
            .to_vec(),
    )
    .expect("hex");
    let at = |size: u64, root: &str| {
        vec![(
            PathBuf::from("made.note"),
            Checkpoint {
                origin: "fuzz".into(),
                size,
                root: root.to_string(),
            },
        )]
    };
    assert_eq!(verify(&log, &at(records, &root)), Ok(records));
    let other_root = if root.starts_with('0') { "1" } else { "0" }.repeat(64);
    assert!(matches!(
        verify(&log, &at(records, &other_root)),
        Err(Tamper::Rewritten { .. })
    ));
    assert!(matches!(
        verify(&log, &at(records + 1, &root)),
        Err(Tamper::Truncated { .. })
    ));
});
