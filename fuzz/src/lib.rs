//! What several fuzz targets share: the fixture project's keys and store,
//! written once per process into a private temporary directory.
//!
//! The fixtures (fuzz/fixtures/) come from a throwaway project made with
//! `agentward init` and the hello-agent steps: its audit log and signed
//! checkpoints, its key files and two sealed secret files. The keys sign
//! and seal nothing but these fixtures.

use agentward::audit::keys::NoteVerifier;
use agentward::audit::AuditKeys;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const LOG: &[u8] = include_bytes!("../fixtures/logs/audit.jsonl");
pub const NOTES: [&str; 4] = [
    include_str!("../fixtures/logs/checkpoints/00000000000000000005.note"),
    include_str!("../fixtures/logs/checkpoints/00000000000000000009.note"),
    include_str!("../fixtures/logs/checkpoints/00000000000000000016.note"),
    include_str!("../fixtures/logs/checkpoints/00000000000000000018.note"),
];
pub const VERIFIER: &str = include_str!("../fixtures/keys/audit-signing.pub");
/// The fixture store's files, by the secret path each holds.
pub const SECRET_FILES: [(&str, &[u8]); 2] = [
    (
        "npm/registry-token",
        include_bytes!("../fixtures/secrets/6e706d2f72656769737472792d746f6b656e.secret"),
    ),
    (
        "npm/publish-token",
        include_bytes!("../fixtures/secrets/6e706d2f7075626c6973682d746f6b656e.secret"),
    ),
];

const KEY_FILES: [(&str, &str); 3] = [
    (
        "audit-hmac.key",
        include_str!("../fixtures/keys/audit-hmac.key"),
    ),
    (
        "audit-signing.key",
        include_str!("../fixtures/keys/audit-signing.key"),
    ),
    (
        "store-kek.key",
        include_str!("../fixtures/keys/store-kek.key"),
    ),
];

/// A scratch directory for this process, in memory where the machine has
/// /dev/shm: targets that write files write them here.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        };
        dir.expect("a temporary directory")
    })
    .path()
}

/// The fixture's key directory (files 0600, as `agentward init` leaves them).
pub fn keys_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("keys");
        std::fs::create_dir_all(&dir).expect("the key directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod the key directory");
        for (name, text) in KEY_FILES {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("a key file");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod a key file");
        }
        dir
    })
}

pub fn audit_keys() -> &'static AuditKeys {
    static KEYS: OnceLock<AuditKeys> = OnceLock::new();
    KEYS.get_or_init(|| AuditKeys::load(keys_dir()).expect("the fixture's audit keys"))
}

pub fn verifier() -> &'static NoteVerifier {
    static VERIFIER_KEY: OnceLock<NoteVerifier> = OnceLock::new();
    VERIFIER_KEY.get_or_init(|| NoteVerifier::parse(VERIFIER).expect("the fixture's public key"))
}
