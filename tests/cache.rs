//! The precompiled-component cache: keyed by content, safe to lose or corrupt.

use agentward::audit::{MemorySink, Redactor};
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{artifacts, Host, HostConfig};
use agentward::store::MemoryStore;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

fn host(project: &Path, cache: &Path) -> Host {
    let mut config = HostConfig::new(project);
    config.cache_dir = Some(cache.to_path_buf());
    Host::new(
        config,
        Arc::new(MemorySink::new()),
        Arc::new(MemoryStore::new()),
        Arc::new(Redactor::ephemeral()),
    )
    .unwrap()
}

fn cached_files(cache: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(cache)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn components_are_cached_by_content_hash_and_survive_corruption() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(
        &policy_path,
        "[roles.researcher]\ncomponent = \"researcher\"\n[roles.researcher.grants]\nlog = {}\ndocs = { dir = \"docs\" }\nmodel = {}\n",
    )
    .unwrap();
    let policy = Policy::load(&policy_path, dir.path()).unwrap();

    host(dir.path(), &cache)
        .prepare(&policy, RoleName::Researcher)
        .unwrap();
    let digest = hex::encode(Sha256::digest(
        std::fs::read(artifacts::built_component("researcher")).unwrap(),
    ));
    let files = cached_files(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&digest) && name.ends_with(".cwasm"),
        "{name}"
    );
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "native code is loaded from here: private");

    // A corrupted cache entry is recompiled, never trusted.
    std::fs::write(&files[0], b"garbage").unwrap();
    let h = host(dir.path(), &cache);
    let prepared = h.prepare(&policy, RoleName::Researcher).unwrap();
    assert_eq!(prepared.digest(), digest);
    let task = agentward::capabilities::Task {
        change_id: String::new(),
        input: r#"{"topics":["x"],"config":null}"#.into(),
    };
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    assert_eq!(
        h.run(&prepared, &task).unwrap().report.summary,
        "0 of 1 topics found in the docs: "
    );
    assert!(
        std::fs::read(&files[0]).unwrap().len() > 1000,
        "the entry was rewritten"
    );
}
