//! Keyed digests in place of secret values.
//!
//! Like Vault's audit devices: `hmac-sha256:<hex>` under a deployment key, so
//! an auditor holding the key can answer "was this the value?" while the log
//! itself reveals nothing. A plain hash would let anyone brute-force short
//! secrets offline.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;
use zeroize::Zeroizing;

pub struct Redactor {
    key: Zeroizing<[u8; 32]>,
}

impl Redactor {
    pub fn new(key: [u8; 32]) -> Self {
        Redactor {
            key: Zeroizing::new(key),
        }
    }

    /// A redactor with a fresh random key: digests are comparable within
    /// one process only.
    pub fn ephemeral() -> Self {
        Self::new(rand::random())
    }

    pub fn digest(&self, value: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.key.as_slice()).expect("HMAC accepts any key size");
        mac.update(value.as_bytes());
        format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// `text` with every occurrence of each of `secrets` replaced by its
    /// digest. Guest-written text (logs, stdout, reports) passes through
    /// here, so a role that read a value cannot smuggle it into the trail.
    /// Borrows `text` when it holds no secret, the common case on every
    /// mediated call.
    pub fn scrub<'t, 'a>(
        &self,
        text: &'t str,
        secrets: impl IntoIterator<Item = &'a str>,
    ) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in secrets {
            if !secret.is_empty() && out.contains(secret) {
                out = Cow::Owned(out.replace(secret, &self.digest(secret)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_depends_on_key_and_hides_value() {
        let a = Redactor::new([1; 32]);
        let b = Redactor::new([2; 32]);
        let digest = a.digest("canary-value-123");
        assert!(digest.starts_with("hmac-sha256:"));
        assert!(!digest.contains("canary"));
        assert_eq!(digest, a.digest("canary-value-123"));
        assert_ne!(digest, b.digest("canary-value-123"));
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let r = Redactor::new([7; 32]);
        let out = r.scrub("token=s3cr3t and again s3cr3t", ["s3cr3t"]);
        assert!(!out.contains("s3cr3t"));
        assert_eq!(out.matches("hmac-sha256:").count(), 2);
    }
}
