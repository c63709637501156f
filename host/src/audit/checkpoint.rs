//! Signed checkpoints: "this log had N records, and the last one's hash was R".
//!
//! The text is a C2SP tlog checkpoint (origin, size, base64 root) and the
//! envelope a C2SP signed note (`— <key name> <base64(key hash || sig)>`).
//! The root is the hash of record N−1, which commits to every record before
//! it through the chain; an empty log's root is all zeros. Whoever holds
//! only the public key can check that a log still contains what was signed.

use super::keys::{AuditKeys, NoteVerifier};
use super::record::GENESIS;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use ed25519_dalek::Signature;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    /// Number of records covered.
    pub size: u64,
    /// Hash of record `size - 1`, hex; [`GENESIS`] when `size` is 0.
    pub root: String,
}

/// Why a signed note does not check out.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("not a signed checkpoint: {0}")]
    Malformed(String),
    #[error("signed by key `{found}`, not by the key given (`{expected}`)")]
    WrongKey { found: String, expected: String },
    #[error("the signature does not match the checkpoint text (forged or altered)")]
    BadSignature,
}

impl Checkpoint {
    fn text(&self) -> Result<String, NoteError> {
        let root =
            hex::decode(&self.root).map_err(|_| NoteError::Malformed("root is not hex".into()))?;
        Ok(format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(root)
        ))
    }

    /// The signed note, ready to store.
    pub fn sign(&self, keys: &AuditKeys) -> String {
        let text = self.text().expect("roots we produce are hex");
        let mut blob = keys.verifier().key_hash().to_vec();
        blob.extend_from_slice(&keys.sign(text.as_bytes()));
        format!("{text}\n\u{2014} {} {}\n", keys.name(), BASE64.encode(blob))
    }

    /// Parses `note` and checks its signature against `verifier`.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let malformed = |why: &str| NoteError::Malformed(why.to_string());
        let (text, signatures) = note
            .split_once("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let text = format!("{text}\n");
        let mut lines = text.lines();
        let (Some(origin), Some(size), Some(root), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("expected origin, size and root"));
        };
        let size: u64 = size
            .parse()
            .map_err(|_| malformed("size is not a number"))?;
        let root = BASE64
            .decode(root)
            .ok()
            .filter(|r| r.len() == 32)
            .ok_or_else(|| malformed("root is not 32 base64 bytes"))?;
        let mut names = Vec::new();
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(malformed("a signature line must start with an em dash"));
            };
            let (name, blob) = rest
                .split_once(' ')
                .ok_or_else(|| malformed("signature line without a signature"))?;
            let blob = BASE64
                .decode(blob)
                .map_err(|_| malformed("signature is not base64"))?;
            if blob.len() != 4 + 64 {
                return Err(malformed("signature has the wrong length"));
            }
            if name != verifier.name || blob[..4] != verifier.key_hash() {
                names.push(name.to_string());
                continue;
            }
            let signature = Signature::from_bytes(blob[4..].try_into().expect("64 bytes"));
            verifier
                .key
                .verify_strict(text.as_bytes(), &signature)
                .map_err(|_| NoteError::BadSignature)?;
            return Ok(Checkpoint {
                origin: origin.to_string(),
                size,
                root: hex::encode(root),
            });
        }
        Err(NoteError::WrongKey {
            found: names.join(", "),
            expected: verifier.name.clone(),
        })
    }

    pub fn empty(origin: &str) -> Checkpoint {
        Checkpoint {
            origin: origin.to_string(),
            size: 0,
            root: GENESIS.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(name: &str) -> (tempfile::TempDir, AuditKeys) {
        let dir = tempfile::tempdir().unwrap();
        let keys = AuditKeys::ensure(dir.path(), name).unwrap();
        (dir, keys)
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "agentward/test".into(),
            size: 3,
            root: "ab".repeat(32),
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_the_public_key() {
        let (_d, k) = keys("log-a");
        let note = checkpoint().sign(&k);
        assert!(note.starts_with("agentward/test\n3\n"), "{note}");
        assert!(note.contains("\n\n\u{2014} log-a "), "{note}");
        assert_eq!(
            Checkpoint::open(&note, &k.verifier()).unwrap(),
            checkpoint()
        );
    }

    #[test]
    fn an_altered_size_is_a_bad_signature() {
        let (_d, k) = keys("log-a");
        let note = checkpoint().sign(&k).replacen("\n3\n", "\n4\n", 1);
        assert_eq!(
            Checkpoint::open(&note, &k.verifier()),
            Err(NoteError::BadSignature)
        );
    }

    #[test]
    fn another_key_is_named() {
        let (_d, a) = keys("log-a");
        let (_e, b) = keys("log-b");
        let note = checkpoint().sign(&a);
        assert_eq!(
            Checkpoint::open(&note, &b.verifier()),
            Err(NoteError::WrongKey {
                found: "log-a".into(),
                expected: "log-b".into()
            })
        );
    }

    #[test]
    fn same_name_other_key_is_a_wrong_key() {
        let (_d, a) = keys("log");
        let (_e, b) = keys("log");
        let note = checkpoint().sign(&a);
        assert!(matches!(
            Checkpoint::open(&note, &b.verifier()),
            Err(NoteError::WrongKey { .. })
        ));
    }
}
