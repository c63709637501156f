//! Keyed digests in place of secret values.
//!
//! Like Vault's audit devices: `hmac-sha256:<hex>` under a deployment key, so
//! an auditor holding the key can answer "was this the value?" while the log
//! itself reveals nothing. A plain hash would let anyone brute-force short
//! secrets offline.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;
use std::ops::Range;
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
    /// digest: as it is, and hex-, base64- or URL-encoded (see
    /// [`encoded`](super::encoded)). Guest-written text (logs, stdout,
    /// reports) passes through here, so a role that read a value cannot
    /// smuggle it into the trail, plainly or re-encoded. Borrows `text`
    /// when it holds no secret, the common case on every mediated call.
    pub fn scrub<'t, 'a>(
        &self,
        text: &'t str,
        secrets: impl IntoIterator<Item = &'a str>,
    ) -> Cow<'t, str> {
        let secrets: Vec<&str> = secrets.into_iter().collect();
        let Some(mut out) = self.scrub_once(text, &secrets) else {
            return Cow::Borrowed(text);
        };
        // A digest may complete a value with the text beside it: a role
        // that prints a value less its last character, `h`, and then the
        // value gets `…hmac-sha256:…`. Scrubbing the result again takes
        // that out too; a value is never made of digests, so it settles.
        for _ in 1..MAX_PASSES {
            match self.scrub_once(&out, &secrets) {
                Some(again) => out = again,
                None => break,
            }
        }
        Cow::Owned(out)
    }

    /// One pass of [`Redactor::scrub`], `None` when there is nothing to
    /// replace. Places that overlap (a value inside another, two encodings
    /// of one) are replaced as one, by the digests of every value there, so
    /// no part of either is left behind.
    fn scrub_once(&self, text: &str, secrets: &[&str]) -> Option<String> {
        let mut found: Vec<(Range<usize>, &str)> = Vec::new();
        for secret in secrets {
            found.extend(
                super::encoded::occurrences(text, secret.as_bytes())
                    .into_iter()
                    .map(|o| (o.range, *secret)),
            );
        }
        if found.is_empty() {
            return None;
        }
        found.sort_by_key(|(range, _)| (range.start, range.end));
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut i = 0;
        while i < found.len() {
            let start = found[i].0.start;
            let mut end = found[i].0.end;
            let mut values: Vec<&str> = Vec::new();
            while i < found.len() && found[i].0.start < end {
                end = end.max(found[i].0.end);
                if !values.contains(&found[i].1) {
                    values.push(found[i].1);
                }
                i += 1;
            }
            out.push_str(&text[copied..start]);
            for value in values {
                out.push_str(&self.digest(value));
            }
            copied = end;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

/// How many times [`Redactor::scrub`] goes over its own output at most.
const MAX_PASSES: usize = 4;

#[cfg(test)]
mod properties;

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

    // Why scrub goes over its own output: the digest's leading `h`
    // completes a value cut short just before it.
    #[test]
    fn a_value_cut_short_beside_itself_is_not_completed_by_the_digest() {
        let r = Redactor::new([7; 32]);
        let glued = r.scrub("s3cr3t-ts3cr3t-th", ["s3cr3t-th"]);
        assert!(!glued.contains("s3cr3t-th"), "{glued}");
    }

    #[test]
    fn overlapping_values_leave_no_part_of_either() {
        let r = Redactor::new([7; 32]);
        let out = r.scrub("xx npm_abcdefgh12345678 yy", ["npm_abcdefgh", "gh12345678"]);
        assert_eq!(
            out,
            format!(
                "xx {}{} yy",
                r.digest("npm_abcdefgh"),
                r.digest("gh12345678")
            )
        );
    }

    // Found by `properties`: scrub replaced the value only as it is, so a
    // role could print it hex- or base64-encoded into its stdout.
    #[test]
    fn a_value_is_scrubbed_in_every_encoding_too() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        use base64::Engine;
        let r = Redactor::new([7; 32]);
        let value = "Aa0=+=Aa?";
        for text in [
            hex::encode(value),
            hex::encode_upper(value),
            STANDARD.encode(value),
            URL_SAFE_NO_PAD.encode(format!("token={value}")),
            "Aa0%3D%2B%3DAa%3f".to_string(),
        ] {
            let out = r.scrub(&text, [value]);
            assert!(out.ends_with(&r.digest(value)), "{text}: {out}");
            assert!(!out.contains(&text[text.len() - 8..]), "{text}: {out}");
        }
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let r = Redactor::new([7; 32]);
        let out = r.scrub("token=s3cr3t and again s3cr3t", ["s3cr3t"]);
        assert!(!out.contains("s3cr3t"));
        assert_eq!(out.matches("hmac-sha256:").count(), 2);
    }
}
