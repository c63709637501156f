//! Runs the `agentward` binary under benchmark, as a user would.

use std::path::Path;
use std::process::{Command, Output};

/// `agentward --project PROJECT ARGS…` with its component cache in
/// `cache`; panics with the command's stderr if it fails.
pub fn run(project: &Path, cache: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_agentward"))
        .arg("--project")
        .arg(project)
        .args(args)
        .env("AGENTWARD_CACHE_DIR", cache)
        .output()
        .expect("agentward runs");
    assert!(
        out.status.success(),
        "agentward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
