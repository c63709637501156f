//! Transcripts for incident review: with `transcripts = true` in a role's
//! model grant, each call's prompt and completion (both scrubbed) are
//! appended to `logs/transcripts/<change>/<role>.jsonl`, and the file's
//! sha256 after the append goes into that call's audit record, so the hash
//! chain vouches for every transcript as it stood after each call.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a role's transcript of a change lives, under the project.
pub(crate) fn path(project: &Path, change_id: &str, role: &str) -> PathBuf {
    let change = if change_id.is_empty() {
        "no-change"
    } else {
        change_id
    };
    project
        .join("logs/transcripts")
        .join(change)
        .join(format!("{role}.jsonl"))
}

/// Appends `entry` as one line and returns the sha256 of the whole file.
pub(crate) fn append(file: &Path, entry: &Value) -> std::io::Result<String> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(entry).expect("a JSON value serialises");
    line.push(b'\n');
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    out.write_all(&line)?;
    out.sync_data()?;
    let contents = std::fs::read(file)?;
    Ok(hex::encode(Sha256::digest(&contents)))
}
