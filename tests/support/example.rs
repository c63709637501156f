//! Runs an example's run.sh as a user would, with the binary under test.

use std::path::Path;
use std::process::Command;

/// Runs `examples/NAME/run.sh --keep DIR` and returns the kept directory
/// and what the script printed, or panics with all of its output.
pub fn run(name: &str) -> (tempfile::TempDir, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let keep = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(root.join("examples").join(name).join("run.sh"))
        .arg("--keep")
        .arg(keep.path())
        .env("AGENTWARD_BIN", env!("CARGO_BIN_EXE_agentward"))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (keep, stdout)
}
