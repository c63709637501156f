//! The `agentward` binary as a test runs it: one project, its own
//! component cache, output captured.

use std::path::Path;
use std::process::{Command, Output};

pub fn agentward(project: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentward"))
        .arg("--project")
        .arg(project)
        .args(args)
        .env("AGENTWARD_CACHE_DIR", project.join(".cache"))
        .output()
        .expect("agentward runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new project made by `agentward init`.
pub fn init() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = agentward(dir.path(), &["init", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}
