//! The deployment's audit keys: an HMAC key for redaction and an ed25519 key
//! for signed checkpoints.
//!
//! Both are created by `agentward init` under `keys/` (0700, files 0600).
//! The signing key is stored in the signed-note private key format
//! (`PRIVATE+KEY+<name>+<hash>+<base64>`), its public half in the verifier
//! format (`<name>+<hash>+<base64>`), so an auditor verifies checkpoints with
//! the public file alone, and any signed-note tool can read them.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const HMAC_FILE: &str = "audit-hmac.key";
pub const SIGNING_FILE: &str = "audit-signing.key";
pub const VERIFIER_FILE: &str = "audit-signing.pub";

/// The signed-note algorithm byte for ed25519.
const ALG_ED25519: u8 = 0x01;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "audit key {} is missing: {source}\n  fix: create the project's keys with `agentward init DIR`",
        path.display()
    )]
    Missing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit key {} is malformed: {reason}\n  fix: restore it from backup; a new key cannot verify old checkpoints", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("{} must not be readable by others (mode {mode:o})\n  fix: chmod 600 {}", path.display(), path.display())]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("writing audit key {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Checks signed-note signatures: needs only the public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    pub key: VerifyingKey,
}

impl NoteVerifier {
    /// The 4-byte key id signed notes carry: sha256(name "\n" alg pubkey)[..4].
    pub fn key_hash(&self) -> [u8; 4] {
        key_hash(&self.name, &self.key)
    }

    /// `<name>+<hex key hash>+<base64(alg || pubkey)>`.
    pub fn encode(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_hash()),
            BASE64.encode(material)
        )
    }

    pub fn parse(text: &str) -> Result<NoteVerifier, String> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("expected <name>+<hash>+<key>".into());
        };
        let material = BASE64
            .decode(material)
            .map_err(|e| format!("key is not base64: {e}"))?;
        let (alg, key) = material.split_first().ok_or("empty key")?;
        if *alg != ALG_ED25519 || key.len() != 32 {
            return Err("not an ed25519 key".into());
        }
        let key = VerifyingKey::from_bytes(key.try_into().expect("32 bytes"))
            .map_err(|e| format!("invalid ed25519 key: {e}"))?;
        let verifier = NoteVerifier {
            name: name.to_string(),
            key,
        };
        if hex::encode(verifier.key_hash()) != hash {
            return Err("the key hash does not match the name and key".into());
        }
        Ok(verifier)
    }

    pub fn load(path: &Path) -> Result<NoteVerifier, KeyError> {
        let text = read(path)?;
        NoteVerifier::parse(&text).map_err(|reason| KeyError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
    }
}

fn key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(key.as_bytes());
    hasher.finalize()[..4].try_into().expect("4 bytes")
}

/// An ed25519 key in the signed-note private key format: the audit log's
/// checkpoint key, and each approver's key.
pub struct NoteSigner {
    signing: SigningKey,
    name: String,
}

impl NoteSigner {
    pub fn generate(name: &str) -> NoteSigner {
        NoteSigner {
            signing: SigningKey::from_bytes(&rand::random()),
            name: name.to_string(),
        }
    }

    /// Reads a private key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<NoteSigner, KeyError> {
        let text = read_private(path)?;
        let (name, signing) =
            decode_signing(text.trim()).map_err(|reason| KeyError::Malformed {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(NoteSigner { signing, name })
    }

    /// Writes the private key (0600, never over an existing file) and the
    /// public key beside it.
    pub fn write(&self, private: &Path, public: &Path) -> Result<(), KeyError> {
        write_private(private, &self.encode())?;
        std::fs::write(public, self.verifier().encode() + "\n").map_err(|source| KeyError::Write {
            path: public.to_path_buf(),
            source,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.signing.verifying_key(),
        }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    fn encode(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.signing.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.verifier().key_hash()),
            BASE64.encode(material)
        )
    }
}

pub struct AuditKeys {
    pub hmac: Zeroizing<[u8; 32]>,
    signer: NoteSigner,
}

impl AuditKeys {
    /// Creates the keys in `dir` unless they exist; returns them either way.
    pub fn ensure(dir: &Path, name: &str) -> Result<AuditKeys, KeyError> {
        if dir.join(SIGNING_FILE).exists() {
            return AuditKeys::load(dir);
        }
        create_private_dir(dir)?;
        let keys = AuditKeys {
            hmac: Zeroizing::new(rand::random()),
            signer: NoteSigner::generate(name),
        };
        write_private(&dir.join(HMAC_FILE), &hex::encode(*keys.hmac))?;
        keys.signer
            .write(&dir.join(SIGNING_FILE), &dir.join(VERIFIER_FILE))?;
        Ok(keys)
    }

    pub fn load(dir: &Path) -> Result<AuditKeys, KeyError> {
        let hmac_path = dir.join(HMAC_FILE);
        let hmac_text = read_private(&hmac_path)?;
        let hmac: [u8; 32] = hex::decode(hmac_text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::Malformed {
                path: hmac_path.clone(),
                reason: "expected 64 hex digits".into(),
            })?;
        Ok(AuditKeys {
            hmac: Zeroizing::new(hmac),
            signer: NoteSigner::load(&dir.join(SIGNING_FILE))?,
        })
    }

    pub fn name(&self) -> &str {
        self.signer.name()
    }

    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signer.sign(message)
    }
}

fn decode_signing(text: &str) -> Result<(String, SigningKey), String> {
    let rest = text
        .strip_prefix("PRIVATE+KEY+")
        .ok_or("expected PRIVATE+KEY+<name>+<hash>+<key>")?;
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(_hash), Some(material)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected PRIVATE+KEY+<name>+<hash>+<key>".into());
    };
    let material = Zeroizing::new(BASE64.decode(material).map_err(|e| e.to_string())?);
    match material.split_first() {
        Some((&ALG_ED25519, seed)) if seed.len() == 32 => Ok((
            name.to_string(),
            SigningKey::from_bytes(seed.try_into().expect("32 bytes")),
        )),
        _ => Err("not an ed25519 key".into()),
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Missing {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses a private key others can read: a copied key forges checkpoints.
fn read_private(path: &Path) -> Result<String, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let text = read(path)?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(text)
}

fn write_private(path: &Path, text: &str) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()
        })
        .map_err(|source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        })
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KeyError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = AuditKeys::ensure(dir.path(), "test-log").unwrap();
        for file in [HMAC_FILE, SIGNING_FILE] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let again = AuditKeys::ensure(dir.path(), "ignored").unwrap();
        assert_eq!(*again.hmac, *keys.hmac);
        assert_eq!(again.verifier(), keys.verifier());
        let public = NoteVerifier::load(&dir.path().join(VERIFIER_FILE)).unwrap();
        assert_eq!(public, keys.verifier());
    }

    #[test]
    fn an_open_private_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        AuditKeys::ensure(dir.path(), "test-log").unwrap();
        let path = dir.path().join(SIGNING_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = AuditKeys::load(dir.path()).err().unwrap();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
