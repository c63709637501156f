//! What keeps a secret file's contents secret and its document intact:
//! the keys derived from the KEK, the AES-256-GCM seals of values and data
//! keys (the secret's path, version, creation time and change id as
//! associated data), and the HMAC over the whole document.

use super::{corrupt, Authenticated, SecretFile, StoredVersion, FORMAT, NONCE_LEN, TAG_LEN};
use crate::store::{labels, Label, SecretValue, StoreError};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Keys derived from one KEK: the KEK itself is used for nothing directly.
pub(super) struct Keys {
    /// The KEK file, for error messages.
    pub(super) path: PathBuf,
    /// A public fingerprint of the KEK, recorded in each file so a store
    /// opened with the wrong key (or half-way through a rotation) says so.
    pub(super) id: String,
    pub(super) wrap: Zeroizing<[u8; 32]>,
    pub(super) mac: Zeroizing<[u8; 32]>,
}

impl Keys {
    pub(super) fn derive(path: &Path, kek: &[u8; 32]) -> Keys {
        let prf = |label: &[u8]| -> Zeroizing<[u8; 32]> {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(kek).expect("any key length");
            mac.update(label);
            Zeroizing::new(mac.finalize().into_bytes().into())
        };
        let id = prf(b"agentward store v1: key id");
        Keys {
            path: path.to_path_buf(),
            id: hex::encode(&id[..8]),
            wrap: prf(b"agentward store v1: wrap data keys"),
            mac: prf(b"agentward store v1: authenticate files"),
        }
    }

    pub(super) fn load(path: &Path) -> Result<Keys, StoreError> {
        let kek = load_kek(path)?;
        Ok(Keys::derive(path, &kek))
    }
}

/// Checks that `doc` was written by this store under `keys`, for `path`,
/// and is internally consistent. Decrypts nothing.
pub(super) fn authenticate(
    keys: &Keys,
    file: &Path,
    path: &str,
    doc: &SecretFile,
) -> Result<(), StoreError> {
    if doc.kek_id != keys.id {
        return Err(StoreError::Kek {
            path: keys.path.clone(),
            problem: format!(
                "does not open {}: the file names key id {:?}, this key's id is {}",
                file.display(),
                doc.kek_id,
                keys.id
            ),
            fix: format!(
                "open the store with the key the file was sealed under (after an interrupted \
                 rotation: open it with the old key and run rotate_kek again); if no key \
                 matches, {} is not a valid, authentic agentward secret file: restore it \
                 from backup",
                file.display()
            ),
        });
    }
    if doc.path != path {
        return Err(corrupt(
            file,
            format!(
                "it holds secret {:?} but is named for {path:?} (copied or renamed?)",
                doc.path
            ),
        ));
    }
    let matches = hex::decode(&doc.mac).is_ok_and(|mac| {
        let mut check = <HmacSha256 as Mac>::new_from_slice(&*keys.mac).expect("any key length");
        check.update(&mac_input(path, doc));
        check.verify_slice(&mac).is_ok()
    });
    if !matches {
        return Err(corrupt(
            file,
            "authentication failed: it was modified, or not written by this store",
        ));
    }
    let numbered = doc
        .versions
        .iter()
        .enumerate()
        .all(|(i, v)| v.version as usize == i + 1);
    let labels: Vec<Vec<Label>> = doc.versions.iter().map(|v| v.labels.clone()).collect();
    if !numbered || !labels::well_formed(&labels) {
        return Err(corrupt(
            file,
            "its versions are not numbered from 1, or a label is on two versions",
        ));
    }
    Ok(())
}

pub(super) fn mac_input(path: &str, doc: &SecretFile) -> Vec<u8> {
    let body = Authenticated {
        format: &doc.format,
        path,
        kek_id: &doc.kek_id,
        attributes: &doc.attributes,
        versions: &doc.versions,
    };
    let mut input = b"agentward secret file\0".to_vec();
    input.extend(serde_json::to_vec(&body).expect("serialising plain data"));
    input
}

pub(super) fn file_mac(keys: &Keys, path: &str, doc: &SecretFile) -> String {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&*keys.mac).expect("any key length");
    mac.update(&mac_input(path, doc));
    hex::encode(mac.finalize().into_bytes())
}

/// Associated data binding a seal to its secret and version.
pub(super) fn associated_data(purpose: &[u8], path: &str, version: &StoredVersion) -> Vec<u8> {
    let mut aad = Vec::new();
    let mut field = |bytes: &[u8]| {
        aad.extend((bytes.len() as u64).to_be_bytes());
        aad.extend(bytes);
    };
    field(FORMAT.as_bytes());
    field(purpose);
    field(path.as_bytes());
    field(&version.version.to_be_bytes());
    field(version.created.as_bytes());
    match &version.change_id {
        Some(id) => {
            field(b"change");
            field(id.as_bytes());
        }
        None => field(b"no change"),
    }
    aad
}

pub(super) fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
}

pub(super) fn encrypt(
    key: &[u8; 32],
    msg: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), StoreError> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let sealed = cipher(key)
        .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad })
        .map_err(|_| StoreError::Unavailable("AES-GCM refused to encrypt".into()))?;
    Ok((nonce, sealed))
}

pub(super) fn wrap_data_key(
    keys: &Keys,
    path: &str,
    version: &mut StoredVersion,
    data_key: &[u8; 32],
) -> Result<(), StoreError> {
    let aad = associated_data(b"data key", path, version);
    let (nonce, wrapped) = encrypt(&keys.wrap, data_key, &aad)?;
    version.key_nonce = BASE64.encode(nonce);
    version.wrapped_key = BASE64.encode(wrapped);
    Ok(())
}

/// Fills in `version`'s nonces, wrapped key and ciphertext.
pub(super) fn seal(
    keys: &Keys,
    path: &str,
    version: &mut StoredVersion,
    value: &SecretValue,
) -> Result<(), StoreError> {
    let data_key: Zeroizing<[u8; 32]> = Zeroizing::new(rand::random());
    let aad = associated_data(b"value", path, version);
    let (nonce, sealed) = encrypt(&data_key, value.expose().as_bytes(), &aad)?;
    version.nonce = BASE64.encode(nonce);
    version.ciphertext = BASE64.encode(sealed);
    wrap_data_key(keys, path, version, &data_key)
}

pub(super) fn decode(
    file: &Path,
    version: u32,
    what: &str,
    text: &str,
) -> Result<Vec<u8>, StoreError> {
    BASE64
        .decode(text)
        .map_err(|_| corrupt(file, format!("version {version}'s {what} is not base64")))
}

pub(super) fn decode_nonce(
    file: &Path,
    version: u32,
    what: &str,
    text: &str,
) -> Result<[u8; NONCE_LEN], StoreError> {
    decode(file, version, what, text)?.try_into().map_err(|_| {
        corrupt(
            file,
            format!("version {version}'s {what} is not {NONCE_LEN} bytes"),
        )
    })
}

pub(super) fn unwrap_data_key(
    keys: &Keys,
    file: &Path,
    path: &str,
    version: &StoredVersion,
) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let n = version.version;
    let nonce = decode_nonce(file, n, "key nonce", &version.key_nonce)?;
    let wrapped = decode(file, n, "wrapped key", &version.wrapped_key)?;
    let aad = associated_data(b"data key", path, version);
    let key = Zeroizing::new(
        cipher(&keys.wrap)
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &wrapped,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                corrupt(
                    file,
                    format!("version {n}'s data key does not authenticate for this secret"),
                )
            })?,
    );
    key.as_slice()
        .try_into()
        .map(Zeroizing::new)
        .map_err(|_| corrupt(file, format!("version {n}'s data key is not 32 bytes")))
}

pub(super) fn unseal(
    keys: &Keys,
    file: &Path,
    path: &str,
    version: &StoredVersion,
) -> Result<SecretValue, StoreError> {
    let n = version.version;
    let data_key = unwrap_data_key(keys, file, path, version)?;
    let nonce = decode_nonce(file, n, "nonce", &version.nonce)?;
    let sealed = decode(file, n, "ciphertext", &version.ciphertext)?;
    if sealed.len() < TAG_LEN {
        return Err(corrupt(
            file,
            format!("version {n}'s ciphertext is truncated"),
        ));
    }
    let aad = associated_data(b"value", path, version);
    let plain = cipher(&data_key)
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        )
        .map_err(|_| {
            corrupt(
                file,
                format!("version {n}'s value does not authenticate for this secret"),
            )
        })?;
    match String::from_utf8(plain) {
        Ok(text) => Ok(SecretValue::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(corrupt(file, format!("version {n}'s value is not UTF-8")))
        }
    }
}

/// Reads a KEK file: 64 hex digits, readable by its owner only.
pub(super) fn load_kek(path: &Path) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let kek_error = |problem: String, fix: String| StoreError::Kek {
        path: path.to_path_buf(),
        problem,
        fix,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(kek_error(
                "is missing".into(),
                format!(
                    "for a new store, create it with EmbeddedStore::create_kek({0:?}); \
                     for an existing store, restore {0} from backup: without it the \
                     secrets cannot be decrypted",
                    path.display().to_string()
                ),
            ))
        }
        Err(e) => {
            return Err(StoreError::Io {
                action: "reading key",
                file: path.to_path_buf(),
                source: e,
            })
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(kek_error(
            format!("must not be readable by group or others (mode {mode:o})"),
            format!("chmod 600 {}", path.display()),
        ));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| StoreError::Io {
            action: "reading key",
            file: path.to_path_buf(),
            source,
        })?,
    );
    let mut kek = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), &mut *kek).map_err(|_| {
        kek_error(
            "is not 64 hex digits".into(),
            "restore it from backup; a new key cannot open secrets sealed under the old one".into(),
        )
    })?;
    Ok(kek)
}
