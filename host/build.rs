//! Builds the guest components (plugins/, tests/hostile/, tests/guests/) for
//! wasm32-wasip2, the way wasmtime's test-programs artifacts crate does, and
//! tells the host where they are through `AGENTWARD_BUILT_COMPONENTS`.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let plugins = root.join("plugins");
    let target_dir = plugins.join("target");
    let out = target_dir.join(TARGET).join("release");
    println!(
        "cargo:rustc-env=AGENTWARD_BUILT_COMPONENTS={}",
        out.display()
    );
    for watched in watched_paths(&root) {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    println!("cargo:rerun-if-env-changed=AGENTWARD_SKIP_GUEST_BUILD");
    if std::env::var_os("AGENTWARD_SKIP_GUEST_BUILD").is_some() {
        return;
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args(["build", "--release", "--workspace", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags are for the host target, not the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("running cargo for the guest components");
    if !status.success() {
        panic!(
            "building the guest components failed ({status}).\n\
             fix: install the target with `rustup target add {TARGET}` (the Makefile's `setup` does this)"
        );
    }
}

/// Sources of every guest: a change to any of them rebuilds the guests.
/// `plugins/target` is left out, or each build would trigger the next.
fn watched_paths(root: &Path) -> Vec<PathBuf> {
    // The test guests' directories hold no build output: watched whole,
    // a guest added there is built too.
    let mut paths = vec![
        root.join("wit"),
        root.join("plugins/Cargo.toml"),
        root.join("tests/hostile"),
        root.join("tests/guests"),
    ];
    for dir in ["plugins"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
                paths.push(path);
            }
        }
    }
    paths
}
