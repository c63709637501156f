//! The embedded store's file reader on arbitrary secret files: every read
//! is a value or an error, never a panic, and every value it returns is
//! one the store itself sealed (the fixture's): no edit of a file yields a
//! value the store never wrote. Files are taken as they are, or re-sealed
//! under the store's key id and MAC first so that generated documents
//! reach the checks behind the MAC (version numbering, labels, nonces,
//! the AEAD); those also take a new pending version on top.
//!
//! Input: one byte (bit 0: re-seal the MAC; bit 1: which fixture secret's
//! file it is), then the file's bytes.
#![no_main]

use agentward::store::EmbeddedStore;
use agentward::store::{Label, SecretStore, SecretValue};
use agentward_fuzz::{keys_dir, scratch, SECRET_FILES};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::sync::OnceLock;

const LABELS: [Label; 3] = [Label::Current, Label::Pending, Label::Previous];
const WRITTEN: &str = "fuzz-pending-value";

struct Fixture {
    store: EmbeddedStore,
    /// Every value the fixture's files hold.
    values: BTreeSet<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = scratch().join("secrets");
        let store = EmbeddedStore::open(&dir, &keys_dir().join("store-kek.key"))
            .expect("the fixture store opens");
        let mut values = BTreeSet::new();
        for (path, bytes) in SECRET_FILES {
            std::fs::write(store.file_for(path).unwrap(), bytes).unwrap();
            for label in LABELS {
                if let Ok(value) = store.read(path, label) {
                    values.insert(value.expose().to_string());
                }
            }
        }
        assert!(
            values.len() >= 3,
            "the fixture holds values: {}",
            values.len()
        );
        values.insert(WRITTEN.to_string());
        Fixture { store, values }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let Fixture { store, values } = fixture();
    let (path, _) = SECRET_FILES[(mode as usize >> 1) % SECRET_FILES.len()];
    let reseal = mode & 1 == 1;
    let bytes = if reseal {
        match store.authentic_for_fuzzing(path, bytes) {
            Some(bytes) => bytes,
            None => return,
        }
    } else {
        bytes.to_vec()
    };
    let file = store.file_for(path).expect("a valid path");
    std::fs::write(&file, &bytes).expect("writing the secret file");

    let described = store.describe(path);
    if let Err(error) = &described {
        let _ = error.to_string();
    }
    for label in LABELS {
        match store.read(path, label) {
            Ok(value) => {
                assert!(
                    values.contains(value.expose()),
                    "read a value the store never sealed"
                );
                let meta = described.as_ref().expect("a readable file describes");
                assert!(meta.holder(label).is_some(), "{label:?} read but not held");
            }
            Err(error) => drop(error.to_string()),
        }
    }
    if let Ok(meta) = &described {
        for (n, version) in meta.versions.iter().enumerate() {
            assert_eq!(version.version as usize, n + 1);
        }
        for label in LABELS {
            let holders = meta.versions.iter().filter(|v| v.labels.contains(&label));
            assert!(holders.count() <= 1, "{label:?} on two versions");
        }
        assert!(store.list("").unwrap().iter().any(|p| p == path));
    }
    if reseal && described.is_ok() {
        if let Ok(version) = store.put_pending(path, &SecretValue::new(WRITTEN), None) {
            let meta = store.describe(path).expect("a file the store wrote");
            assert_eq!(meta.holder(Label::Pending), Some(version));
            let value = store
                .read(path, Label::Pending)
                .expect("the new pending value");
            assert_eq!(value.expose(), WRITTEN);
        }
    }
});
