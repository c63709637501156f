//! The dry-run overlay against a real [`EmbeddedStore`] on disk, and the
//! embedded store when its disk is full.

use agentward::store::overlay::DryRunStore;
use agentward::store::{EmbeddedStore, Label, SecretStore, SecretValue, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CANARY: &str = "overlay_CANARY_3b9f70";

/// Every file under `dir` (recursively) with its exact bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn embedded(root: &Path) -> Arc<EmbeddedStore> {
    let kek = root.join("keys/store-kek.key");
    EmbeddedStore::create_kek(&kek).unwrap();
    Arc::new(EmbeddedStore::open(&root.join("secrets"), &kek).unwrap())
}

#[test]
fn a_dry_run_rotation_leaves_the_embedded_store_byte_for_byte_unchanged() {
    let root = tempfile::tempdir().unwrap();
    let real = embedded(root.path());
    for _ in 0..6 {
        let v = real
            .put_pending("npm/registry-token", &SecretValue::new("old"), None)
            .unwrap();
        let current = v.checked_sub(1).filter(|c| *c > 0);
        real.promote("npm/registry-token", v, current).unwrap();
    }
    let secrets = root.path().join("secrets");
    let before = snapshot(&secrets);
    assert!(
        before.len() >= 2,
        "the store has files: {:?}",
        before.keys()
    );

    let dry = DryRunStore::new(real.clone());
    let meta = dry.describe("npm/registry-token").unwrap();
    let current = meta
        .versions
        .iter()
        .find(|v| v.labels.contains(&Label::Current))
        .map(|v| v.version);
    assert_eq!(current, Some(6));
    let v = dry
        .put_pending(
            "npm/registry-token",
            &SecretValue::new(CANARY),
            Some("01JDRYRUN"),
        )
        .unwrap();
    assert_eq!(v, 7);
    dry.promote("npm/registry-token", v, current).unwrap();
    assert_eq!(
        dry.read("npm/registry-token", Label::Current)
            .unwrap()
            .expose(),
        CANARY
    );
    assert_eq!(
        dry.read("npm/registry-token", Label::Previous)
            .unwrap()
            .expose(),
        "old"
    );
    dry.put_pending("npm/new-token", &SecretValue::new(CANARY), None)
        .unwrap();
    assert_eq!(
        dry.list("npm/").unwrap(),
        ["npm/new-token", "npm/registry-token"]
    );

    let report: Vec<String> = dry.report().iter().map(ToString::to_string).collect();
    assert_eq!(
        report,
        [
            "would create version 7 of npm/registry-token labelled pending (change 01JDRYRUN)",
            "would move label current of npm/registry-token from version 6 to 7",
            "would move label previous of npm/registry-token from version 5 to 6",
            "would remove label pending of npm/registry-token from version 7",
            "would create version 1 of npm/new-token labelled pending",
        ]
    );
    assert_eq!(snapshot(&secrets), before, "the dry run wrote to secrets/");
    // The real store still answers as before.
    assert_eq!(
        real.read("npm/registry-token", Label::Current)
            .unwrap()
            .expose(),
        "old"
    );
    assert_eq!(
        real.describe("npm/registry-token").unwrap().versions.len(),
        6
    );
    assert!(matches!(
        real.describe("npm/new-token"),
        Err(StoreError::NotFound { .. })
    ));
    let printed = format!("{dry:?} {:?} {report:?}", dry.report());
    assert!(!printed.contains(CANARY), "{printed}");
}

/// A tmpfs mounted on a directory for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Writes `file` until the filesystem refuses with ENOSPC.
fn fill(file: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", file.display()),
        }
    }
    // And byte by byte, for a last partial page.
    while f.write(&[0]).is_ok_and(|n| n == 1) {}
}

#[test]
fn a_full_disk_fails_the_write_cleanly_and_leaves_the_secret_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let secrets = root.path().join("secrets");
    let _mounted = match Tmpfs::mount(&secrets, "64k") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("SKIPPED: cannot mount a tmpfs here ({e})");
            return;
        }
    };
    let kek = root.path().join("keys/store-kek.key");
    EmbeddedStore::create_kek(&kek).unwrap();
    let store = EmbeddedStore::open(&secrets, &kek).unwrap();
    let value = SecretValue::new("x".repeat(4000));
    store.put_pending("npm/token", &value, None).unwrap();
    store.promote("npm/token", 1, None).unwrap();
    let file = store.file_for("npm/token").unwrap();
    let before = std::fs::read(&file).unwrap();

    let filler = secrets.join("filler");
    fill(&filler);
    let err = store
        .put_pending("npm/token", &SecretValue::new(CANARY.repeat(100)), None)
        .unwrap_err();
    let text = err.to_string();
    match &err {
        StoreError::Io { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(28), "ENOSPC: {text}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(text.contains("No space left on device"), "{text}");
    assert!(!text.contains(CANARY), "{text}");
    // No partial state: the file as it was, no temp file, no version 2.
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(&secrets)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let meta = store.describe("npm/token").unwrap();
    assert_eq!(meta.versions.len(), 1);
    assert_eq!(meta.versions[0].labels, [Label::Current]);
    assert_eq!(
        store.read("npm/token", Label::Current).unwrap().expose(),
        value.expose()
    );
    // A label move (a rewrite of the same file) fails the same way.
    assert!(matches!(
        store.move_label("npm/token", Label::Previous, 1, None),
        Err(StoreError::Io { .. })
    ));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // With space again, the same write succeeds.
    std::fs::remove_file(&filler).unwrap();
    let v = store
        .put_pending("npm/token", &SecretValue::new(CANARY), None)
        .unwrap();
    assert_eq!(v, 2);
}
