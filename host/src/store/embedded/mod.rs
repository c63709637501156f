//! The default [`SecretStore`]: a directory of encrypted files, no server.
//!
//! One file per secret, named by the hex of its path (so no path can name a
//! file outside the directory, and `list` reads names, not files). A file is
//! a JSON document: attributes, then every version with its labels, its
//! value sealed with AES-256-GCM under a fresh data key, and that data key
//! wrapped with AES-256-GCM under the key-encryption key (KEK). The KEK is a
//! 32-byte key file kept outside the store directory (`keys/store-kek.key`),
//! so a copy of `secrets/` alone reveals nothing.
//!
//! Both seals take the secret's path, the version number, its creation time
//! and change id as associated data: a ciphertext moved to another secret or
//! version does not decrypt. The whole document is also authenticated with
//! an HMAC under a key derived from the KEK, so labels and attributes cannot
//! be edited either. What this cannot stop is replaying an older copy of a
//! whole file (a rollback); backups of the directory are such copies.
//!
//! Writes take an exclusive lock on `.lock`, write a temporary file beside
//! the target, fsync it, rename it over the target and fsync the directory.
//! Reads take no lock: a rename is atomic, so a reader sees the old file or
//! the new one. Opening a store reads no secret file at all, so it costs the
//! same with ten secrets or ten thousand.
//!
//! The keys, seals and MAC are in `sealing`; this module is the files.

mod sealing;

use super::{
    labels, Label, LabelChange, SecretAttributes, SecretMeta, SecretStore, SecretValue, StoreError,
    VersionMeta,
};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use zeroize::Zeroizing;

use sealing::{authenticate, file_mac, seal, unseal, unwrap_data_key, wrap_data_key, Keys};

/// The `format` field of every secret file.
const FORMAT: &str = "agentward-secret/1";
const SUFFIX: &str = ".secret";
/// In-flight writes; any left at open were interrupted and are removed.
const TEMP_PREFIX: &str = ".tmp-";
const LOCK_FILE: &str = ".lock";
/// Hex doubles a path's length; 120 bytes keep file names under 255.
pub const MAX_PATH_BYTES: usize = 120;
/// Larger than any honest secret file; refused before it is read.
const MAX_FILE_BYTES: u64 = 16 << 20;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A secret store in a directory, encrypted under a KEK kept elsewhere.
pub struct EmbeddedStore {
    dir: PathBuf,
    keys: RwLock<Keys>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretFile {
    format: String,
    path: String,
    kek_id: String,
    attributes: StoredAttributes,
    versions: Vec<StoredVersion>,
    /// Hex HMAC-SHA256 over everything above and the file's own path.
    mac: String,
}

/// What the file MAC covers: the document less the MAC itself.
#[derive(Serialize)]
struct Authenticated<'a> {
    format: &'a str,
    path: &'a str,
    kek_id: &'a str,
    attributes: &'a StoredAttributes,
    versions: &'a [StoredVersion],
}

/// [`SecretAttributes`] as stored: every field required and no other
/// allowed, so that any edit to the file changes what the MAC covers.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredAttributes {
    #[serde(deserialize_with = "required")]
    owner: Option<String>,
    #[serde(deserialize_with = "required")]
    expires: Option<String>,
    scopes: Vec<String>,
    /// Added after the first format: absent in older files.
    #[serde(default)]
    origins: Vec<String>,
    custom: Vec<(String, String)>,
}

impl From<SecretAttributes> for StoredAttributes {
    fn from(a: SecretAttributes) -> Self {
        StoredAttributes {
            owner: a.owner,
            expires: a.expires,
            scopes: a.scopes,
            origins: a.origins,
            custom: a.custom,
        }
    }
}

impl From<StoredAttributes> for SecretAttributes {
    fn from(a: StoredAttributes) -> Self {
        SecretAttributes {
            owner: a.owner,
            expires: a.expires,
            scopes: a.scopes,
            origins: a.origins,
            custom: a.custom,
        }
    }
}

/// Fields are all required (`Option`s too: serde would default a missing
/// one) and unknown ones refused, for the same reason.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredVersion {
    version: u32,
    labels: Vec<Label>,
    created: String,
    #[serde(deserialize_with = "required")]
    change_id: Option<String>,
    /// Base64: the value's nonce, the data key's nonce, the wrapped data
    /// key and the sealed value (each with its GCM tag).
    nonce: String,
    key_nonce: String,
    wrapped_key: String,
    ciphertext: String,
}

impl EmbeddedStore {
    /// Creates a new KEK file: 32 random bytes as hex, mode 0600, never
    /// over an existing file. Creates its directory (0700) if missing.
    pub fn create_kek(path: &Path) -> Result<(), StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| StoreError::Io {
                    action: "creating key directory",
                    file: parent.to_path_buf(),
                    source,
                })?;
        }
        let kek: Zeroizing<[u8; 32]> = Zeroizing::new(rand::random());
        let text = Zeroizing::new(hex::encode(*kek) + "\n");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| match source.kind() {
                ErrorKind::AlreadyExists => StoreError::Kek {
                    path: path.to_path_buf(),
                    problem: "already exists".into(),
                    fix: "keep using it, or choose another path: never overwrite the key a \
                          store is sealed under"
                        .into(),
                },
                _ => StoreError::Io {
                    action: "creating key",
                    file: path.to_path_buf(),
                    source,
                },
            })?;
        (&file)
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| StoreError::Io {
                action: "writing key",
                file: path.to_path_buf(),
                source,
            })?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Opens (creating if missing, mode 0700) the store in `dir` with the
    /// KEK in `kek_path`. Reads no secret file; removes temporary files
    /// left by interrupted writes.
    pub fn open(dir: &Path, kek_path: &Path) -> Result<EmbeddedStore, StoreError> {
        let keys = Keys::load(kek_path)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::Io {
                action: "creating store directory",
                file: dir.to_path_buf(),
                source,
            })?;
        let store = EmbeddedStore {
            dir: dir.to_path_buf(),
            keys: RwLock::new(keys),
        };
        store.check_kek_outside(kek_path)?;
        let _lock = store.lock(Scope::Store)?;
        store.remove_temp_files()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `path`'s versions (whether or not it exists yet).
    pub fn file_for(&self, path: &str) -> Result<PathBuf, StoreError> {
        check_path(path)?;
        Ok(self.dir.join(hex::encode(path.as_bytes()) + SUFFIX))
    }

    /// For the fuzz target of the file reader (fuzz/): `bytes` re-sealed
    /// as `path`'s file under this store's key id and MAC, so generated
    /// documents reach the checks behind the MAC. `None` when `bytes` is
    /// not a secret file document at all. Encrypts nothing.
    #[doc(hidden)]
    pub fn authentic_for_fuzzing(&self, path: &str, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut doc: SecretFile = serde_json::from_slice(bytes).ok()?;
        let keys = self.keys();
        doc.kek_id = keys.id.clone();
        doc.mac = file_mac(&keys, path, &doc);
        serde_json::to_vec(&doc).ok()
    }

    /// Rewraps every data key under the KEK in `new_kek_path` (create it
    /// first with [`EmbeddedStore::create_kek`]) and uses it from then on.
    /// Value ciphertexts are not touched. Returns how many files were
    /// rewritten.
    ///
    /// Each file is rewritten atomically, the store as a whole is not: if
    /// this is interrupted, open the store with the old key and run it
    /// again; files already under the new key are skipped. Keep the old key
    /// until it returns, then delete it.
    pub fn rotate_kek(&self, new_kek_path: &Path) -> Result<usize, StoreError> {
        let new = Keys::load(new_kek_path)?;
        self.check_kek_outside(new_kek_path)?;
        let mut keys = self.keys_mut();
        if new.id == keys.id {
            return Err(StoreError::Kek {
                path: new_kek_path.to_path_buf(),
                problem: format!(
                    "is the key the store already uses ({})",
                    keys.path.display()
                ),
                fix: "create a new key with EmbeddedStore::create_kek and rotate to that".into(),
            });
        }
        let _lock = self.lock(Scope::Store)?;
        let mut rotated = 0;
        for path in self.paths("")? {
            let file = self.file_for(&path)?;
            let Some(bytes) = read_file(&file)? else {
                continue;
            };
            let mut doc = parse(&file, &bytes)?;
            if doc.kek_id == new.id {
                authenticate(&new, &file, &path, &doc)?;
                continue;
            }
            authenticate(&keys, &file, &path, &doc)?;
            for version in &mut doc.versions {
                let data_key = unwrap_data_key(&keys, &file, &path, version)?;
                wrap_data_key(&new, &path, version, &data_key)?;
            }
            self.write(&new, &file, &mut doc)?;
            rotated += 1;
        }
        *keys = new;
        Ok(rotated)
    }

    fn keys(&self) -> RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    fn keys_mut(&self) -> RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|p| p.into_inner())
    }

    fn check_kek_outside(&self, kek_path: &Path) -> Result<(), StoreError> {
        let (Ok(dir), Ok(kek)) = (self.dir.canonicalize(), kek_path.canonicalize()) else {
            return Ok(());
        };
        if kek.starts_with(&dir) {
            return Err(StoreError::Kek {
                path: kek_path.to_path_buf(),
                problem: format!(
                    "is inside the store directory {}: a copy of the store would carry its key",
                    self.dir.display()
                ),
                fix: "keep the key outside the store, e.g. keys/store-kek.key".into(),
            });
        }
        Ok(())
    }

    /// Serialises the writers of `scope`, across threads and processes:
    /// an open-file-description lock on one byte of the lock file per
    /// secret (a byte its path's digest picks), or on the whole file for
    /// the whole store. Writers of different secrets go on at once, which
    /// is what lets a change's items in flight write together; two paths
    /// that pick the same byte only wait for each other. The lock goes
    /// when the returned file closes.
    fn lock(&self, scope: Scope) -> Result<File, StoreError> {
        use std::os::fd::AsRawFd;
        let path = self.dir.join(LOCK_FILE);
        let io = |source| StoreError::Io {
            action: "locking store",
            file: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        // SAFETY: a zeroed `flock` is a valid value; the fields the call
        // reads are set below.
        let mut range: libc::flock = unsafe { std::mem::zeroed() };
        range.l_type = libc::F_WRLCK as libc::c_short;
        range.l_whence = libc::SEEK_SET as libc::c_short;
        (range.l_start, range.l_len) = match scope {
            // From byte 0 to the end, however far: every secret's byte.
            Scope::Store => (0, 0),
            Scope::Secret(path) => {
                let digest = <sha2::Sha256 as sha2::Digest>::digest(path.as_bytes());
                let pick = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
                (1 + libc::off_t::from(pick % (1 << 24)), 1)
            }
        };
        loop {
            // SAFETY: fcntl on a descriptor `file` owns, with a valid flock.
            if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLKW, &range) } == 0 {
                return Ok(file);
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(io(error));
            }
        }
    }

    fn remove_temp_files(&self) -> Result<(), StoreError> {
        for entry in read_dir(&self.dir)? {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                tracing::warn!(file = %path.display(), "removing a write interrupted earlier");
                std::fs::remove_file(&path).map_err(|source| StoreError::Io {
                    action: "removing interrupted write",
                    file: path,
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Secret paths from file names, sorted. Reads no file.
    fn paths(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut paths = Vec::new();
        for entry in read_dir(&self.dir)? {
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            match hex::decode(stem)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            {
                Some(path) if path.starts_with(prefix) => paths.push(path),
                Some(_) => {}
                None => tracing::warn!(
                    file = %entry.path().display(),
                    "ignoring a file whose name is not a hex secret path"
                ),
            }
        }
        paths.sort();
        Ok(paths)
    }

    /// The authenticated document for `path`, or `None` if it has none.
    fn load(&self, keys: &Keys, path: &str) -> Result<Option<(PathBuf, SecretFile)>, StoreError> {
        let file = self.file_for(path)?;
        let Some(bytes) = read_file(&file)? else {
            return Ok(None);
        };
        let doc = parse(&file, &bytes)?;
        authenticate(keys, &file, path, &doc)?;
        Ok(Some((file, doc)))
    }

    fn load_existing(&self, keys: &Keys, path: &str) -> Result<(PathBuf, SecretFile), StoreError> {
        self.load(keys, path)?.ok_or_else(|| StoreError::NotFound {
            path: path.to_string(),
        })
    }

    /// Seals `doc` under `keys` and replaces `file` with it atomically.
    fn write(&self, keys: &Keys, file: &Path, doc: &mut SecretFile) -> Result<(), StoreError> {
        doc.kek_id = keys.id.clone();
        doc.mac = file_mac(keys, &doc.path, doc);
        let bytes = serde_json::to_vec_pretty(doc)
            .map_err(|e| StoreError::Unavailable(format!("encoding {}: {e}", file.display())))?;
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{}",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        let io = |action, file: &Path| {
            let file = file.to_path_buf();
            move |source| StoreError::Io {
                action,
                file,
                source,
            }
        };
        let result = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.write_all(b"\n")?;
                f.sync_all()
            })
            .map_err(io("writing", &temp))
            .and_then(|()| std::fs::rename(&temp, file).map_err(io("replacing", file)));
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result?;
        sync_dir(&self.dir)
    }

    /// Loads (or, with `create`, starts) `path`'s document under the write
    /// lock, lets `change` edit it, and writes it back.
    fn update<T>(
        &self,
        path: &str,
        create: bool,
        change: impl FnOnce(&Keys, &mut SecretFile) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        check_path(path)?;
        let keys = self.keys();
        let _lock = self.lock(Scope::Secret(path))?;
        let (file, mut doc) = match self.load(&keys, path)? {
            Some(found) => found,
            None if create => (
                self.file_for(path)?,
                SecretFile {
                    format: FORMAT.to_string(),
                    path: path.to_string(),
                    kek_id: keys.id.clone(),
                    attributes: StoredAttributes::default(),
                    versions: Vec::new(),
                    mac: String::new(),
                },
            ),
            None => {
                return Err(StoreError::NotFound {
                    path: path.to_string(),
                })
            }
        };
        let out = change(&keys, &mut doc)?;
        self.write(&keys, &file, &mut doc)?;
        Ok(out)
    }
}

impl SecretStore for EmbeddedStore {
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.paths(prefix)
    }

    fn describe(&self, path: &str) -> Result<SecretMeta, StoreError> {
        let keys = self.keys();
        let (_, doc) = self.load_existing(&keys, path)?;
        Ok(SecretMeta {
            path: path.to_string(),
            versions: doc
                .versions
                .iter()
                .map(|v| VersionMeta {
                    version: v.version,
                    labels: v.labels.clone(),
                    created: v.created.clone(),
                    change_id: v.change_id.clone(),
                })
                .collect(),
            attributes: doc.attributes.into(),
        })
    }

    fn read(&self, path: &str, label: Label) -> Result<SecretValue, StoreError> {
        let keys = self.keys();
        let (file, doc) = self.load_existing(&keys, path)?;
        let version = doc
            .versions
            .iter()
            .find(|v| v.labels.contains(&label))
            .ok_or_else(|| StoreError::NoSuchLabel {
                path: path.to_string(),
                label,
            })?;
        unseal(&keys, &file, path, version)
    }

    fn put_pending(
        &self,
        path: &str,
        value: &SecretValue,
        change_id: Option<&str>,
    ) -> Result<u32, StoreError> {
        self.update(path, true, |keys, doc| {
            let mut labels: Vec<Vec<Label>> =
                doc.versions.iter().map(|v| v.labels.clone()).collect();
            let number = labels::push_pending(&mut labels);
            let mut version = StoredVersion {
                version: number,
                labels: Vec::new(),
                created: crate::time::now_rfc3339(),
                change_id: change_id.map(str::to_string),
                nonce: String::new(),
                key_nonce: String::new(),
                wrapped_key: String::new(),
                ciphertext: String::new(),
            };
            seal(keys, path, &mut version, value)?;
            doc.versions.push(version);
            for (version, l) in doc.versions.iter_mut().zip(labels) {
                version.labels = l;
            }
            Ok(number)
        })
    }

    fn set_attributes(&self, path: &str, attributes: &SecretAttributes) -> Result<(), StoreError> {
        self.update(path, false, |_, doc| {
            doc.attributes = attributes.clone().into();
            Ok(())
        })
    }

    fn relabel(&self, path: &str, change: &mut LabelChange<'_>) -> Result<(), StoreError> {
        self.update(path, false, |_, doc| {
            let mut labels: Vec<Vec<Label>> =
                doc.versions.iter().map(|v| v.labels.clone()).collect();
            change(&mut labels)?;
            for (version, l) in doc.versions.iter_mut().zip(labels) {
                version.labels = l;
            }
            Ok(())
        })
    }
}

/// Deserialises an `Option` that must be present (as `null` if empty).
fn required<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

fn check_path(path: &str) -> Result<(), StoreError> {
    let reason = if path.is_empty() {
        "it is empty".to_string()
    } else if path.len() > MAX_PATH_BYTES {
        format!(
            "it is {} bytes long; the embedded store takes at most {MAX_PATH_BYTES}",
            path.len()
        )
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidPath {
        path: path.to_string(),
        reason,
    })
}

fn corrupt(file: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        file: file.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, StoreError> {
    let io = |source| StoreError::Io {
        action: "reading store directory",
        file: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)
}

/// What a writer locks: one secret, or the whole store (a KEK rotation).
enum Scope<'a> {
    Secret(&'a str),
    Store,
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            action: "syncing directory",
            file: dir.to_path_buf(),
            source,
        })
}

/// The file's bytes, `None` if it does not exist.
fn read_file(file: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    use std::io::Read;
    let io = |source| StoreError::Io {
        action: "reading",
        file: file.to_path_buf(),
        source,
    };
    let handle = match File::open(file) {
        Ok(handle) => handle,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    handle
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(corrupt(
            file,
            format!("it is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(Some(bytes))
}

fn parse(file: &Path, bytes: &[u8]) -> Result<SecretFile, StoreError> {
    let doc: SecretFile = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(file, format!("it does not parse ({e})")))?;
    if doc.format != FORMAT {
        return Err(corrupt(
            file,
            format!("its format is {:?}, not {FORMAT:?}", doc.format),
        ));
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store() -> (tempfile::TempDir, EmbeddedStore) {
        let root = tempfile::tempdir().unwrap();
        let kek = root.path().join("keys/store-kek.key");
        EmbeddedStore::create_kek(&kek).unwrap();
        let store = EmbeddedStore::open(&root.path().join("secrets"), &kek).unwrap();
        (root, store)
    }

    #[test]
    fn writers_of_different_secrets_do_not_wait_for_each_other_but_a_store_lock_waits_for_all() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (_root, store) = store();
        let held = store.lock(Scope::Secret("npm/a")).unwrap();
        let (done, got_store) = (std::sync::mpsc::channel(), AtomicBool::new(false));
        std::thread::scope(|scope| {
            let tx = done.0.clone();
            let other = &store;
            scope.spawn(move || {
                let _b = other.lock(Scope::Secret("npm/b")).unwrap();
                tx.send(()).unwrap();
            });
            done.1
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("npm/b was not held up by npm/a");
            scope.spawn(|| {
                let _all = store.lock(Scope::Store).unwrap();
                got_store.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            assert!(
                !got_store.load(Ordering::SeqCst),
                "the store lock was taken while a secret was locked"
            );
            drop(held);
        });
        assert!(got_store.load(Ordering::SeqCst));
    }

    #[test]
    fn kek_files_are_private_and_never_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let kek = root.path().join("keys/store-kek.key");
        EmbeddedStore::create_kek(&kek).unwrap();
        let mode = std::fs::metadata(&kek).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let err = EmbeddedStore::create_kek(&kek).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = EmbeddedStore::open(&root.path().join("secrets"), &kek)
            .err()
            .unwrap();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_kek_inside_the_store_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let kek = root.path().join("secrets/kek.key");
        EmbeddedStore::create_kek(&kek).unwrap();
        let err = EmbeddedStore::open(&root.path().join("secrets"), &kek)
            .err()
            .unwrap();
        assert!(err.to_string().contains("inside the store"), "{err}");
    }

    #[test]
    fn long_and_empty_paths_are_refused() {
        let (_root, store) = store();
        let long = "a".repeat(MAX_PATH_BYTES + 1);
        for path in ["", long.as_str()] {
            let err = store
                .put_pending(path, &SecretValue::new("x"), None)
                .unwrap_err();
            assert!(matches!(err, StoreError::InvalidPath { .. }), "{err}");
        }
        let ok = "a".repeat(MAX_PATH_BYTES);
        store
            .put_pending(&ok, &SecretValue::new("x"), None)
            .unwrap();
        assert_eq!(store.list("").unwrap(), vec![ok]);
    }

    #[test]
    fn paths_cannot_escape_the_directory() {
        let (root, store) = store();
        store
            .put_pending("../../etc/passwd", &SecretValue::new("x"), None)
            .unwrap();
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(SUFFIX))
            .collect();
        assert_eq!(names, vec![hex::encode("../../etc/passwd") + SUFFIX]);
        assert!(!root.path().join("etc").exists());
        assert_eq!(store.list("../").unwrap(), vec!["../../etc/passwd"]);
    }

    #[test]
    fn a_label_edited_in_the_file_fails_authentication() {
        let (_root, store) = store();
        store
            .put_pending("a", &SecretValue::new("v1"), None)
            .unwrap();
        store.promote("a", 1, None).unwrap();
        store
            .put_pending("a", &SecretValue::new("v2"), None)
            .unwrap();
        let file = store.file_for("a").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        // Swap the labels: rolls current forward without a promote.
        let edited = text
            .replacen("\"current\"", "\"@@\"", 1)
            .replacen("\"pending\"", "\"current\"", 1)
            .replacen("\"@@\"", "\"pending\"", 1);
        assert_ne!(edited, text);
        std::fs::write(&file, edited).unwrap();
        let err = store.read("a", Label::Current).unwrap_err();
        assert!(err.to_string().contains("authentication failed"), "{err}");
    }

    #[test]
    fn a_ciphertext_moved_to_another_secret_or_version_does_not_decrypt() {
        // Past the file MAC (as a key holder, or a bug, could be), the
        // AEAD's associated data still binds each seal to its place.
        let (_root, store) = store();
        store
            .put_pending("a", &SecretValue::new("value-a1"), None)
            .unwrap();
        store
            .put_pending("a", &SecretValue::new("value-a2"), Some("chg"))
            .unwrap();
        store
            .put_pending("b", &SecretValue::new("value-b"), None)
            .unwrap();
        let keys = store.keys();
        let (fa, a) = store.load(&keys, "a").unwrap().unwrap();
        let (fb, mut b) = store.load(&keys, "b").unwrap().unwrap();
        assert_eq!(
            unseal(&keys, &fa, "a", &a.versions[0]).unwrap().expose(),
            "value-a1"
        );

        let mut moved = a.versions[0].clone();
        moved.labels = b.versions[0].labels.clone();
        b.versions[0] = moved;
        b.mac = file_mac(&keys, "b", &b);
        authenticate(&keys, &fb, "b", &b).unwrap();
        let err = unseal(&keys, &fb, "b", &b.versions[0]).unwrap_err();
        assert!(err.to_string().contains("does not authenticate"), "{err}");

        let mut renumbered = a.versions[1].clone();
        renumbered.version = 1;
        assert!(unseal(&keys, &fa, "a", &renumbered).is_err());
        let mut redated = a.versions[0].clone();
        redated.created = "2000-01-01T00:00:00Z".into();
        assert!(unseal(&keys, &fa, "a", &redated).is_err());
        let mut reattributed = a.versions[1].clone();
        reattributed.change_id = Some("other".into());
        assert!(unseal(&keys, &fa, "a", &reattributed).is_err());
        // The value ciphertext under another version's (valid) data key.
        let mut swapped = a.versions[0].clone();
        swapped.ciphertext = a.versions[1].ciphertext.clone();
        swapped.nonce = a.versions[1].nonce.clone();
        assert!(unseal(&keys, &fa, "a", &swapped).is_err());
    }
}
