//! SSH signatures (`ssh-keygen -Y sign`), so an approver signs with the key
//! they already use — a FIDO security key among them.
//!
//! The format is OpenSSH's PROTOCOL.sshsig: an armored blob holding the
//! signer's public key, a namespace, a hash algorithm and a signature over
//! `"SSHSIG" ‖ namespace ‖ reserved ‖ hash algorithm ‖ H(message)`. Two key
//! types are accepted: `ssh-ed25519`, and `sk-ssh-ed25519@openssh.com`,
//! whose authenticator signs `sha256(application) ‖ flags ‖ counter ‖
//! sha256(that data)` (PROTOCOL.u2f) and must have seen the user touch it.
//! Other key types are refused by name: an approval is privileged, and
//! ed25519 is what both a plain key and a security key can give.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256, Sha512};

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";
const MAGIC: &[u8] = b"SSHSIG";
const ED25519: &str = "ssh-ed25519";
const SK_ED25519: &str = "sk-ssh-ed25519@openssh.com";
/// The authenticator's "user present" flag: the key was touched.
const USER_PRESENT: u8 = 0x01;

/// A public key an approver may sign with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SshKey {
    Ed25519([u8; 32]),
    /// A FIDO key: its ed25519 key and the application it was made for.
    SkEd25519 {
        key: [u8; 32],
        application: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SshSigError {
    #[error("not an SSH signature: {0}")]
    Malformed(&'static str),
    #[error("the signature is by a {0} key; approvals accept ssh-ed25519 and sk-ssh-ed25519@openssh.com keys (`ssh-keygen -t ed25519` or `-t ed25519-sk`)")]
    KeyType(String),
    #[error("the signature is for namespace {found:?}, not {expected:?}\n  fix: sign with `ssh-keygen -Y sign -n {expected}`")]
    Namespace { found: String, expected: String },
    #[error("the signature does not verify over this message with its key")]
    Invalid,
    #[error("the security key was not touched when it signed (its user-presence flag is clear)")]
    NotTouched,
}

impl SshKey {
    /// Parses the `TYPE BASE64` of a public key line (an `allowed_signers`
    /// entry or a `.pub` file); a trailing comment is ignored.
    pub fn parse_openssh(text: &str) -> Result<SshKey, SshSigError> {
        let mut words = text.split_whitespace();
        let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
            return Err(SshSigError::Malformed("a key is `TYPE BASE64`"));
        };
        let blob = BASE64
            .decode(blob)
            .map_err(|_| SshSigError::Malformed("the key is not base64"))?;
        let key = SshKey::from_blob(&blob)?;
        if key.kind() != kind {
            return Err(SshSigError::Malformed(
                "the key's type does not match its blob",
            ));
        }
        Ok(key)
    }

    fn from_blob(blob: &[u8]) -> Result<SshKey, SshSigError> {
        let mut r = Reader(blob);
        let kind = r.text()?;
        let key = match kind.as_str() {
            ED25519 => SshKey::Ed25519(r.key32()?),
            SK_ED25519 => SshKey::SkEd25519 {
                key: r.key32()?,
                application: r.text()?,
            },
            _ => return Err(SshSigError::KeyType(kind)),
        };
        r.end()?;
        Ok(key)
    }

    fn kind(&self) -> &'static str {
        match self {
            SshKey::Ed25519(_) => ED25519,
            SshKey::SkEd25519 { .. } => SK_ED25519,
        }
    }

    /// The key as an `allowed_signers` or `.pub` line has it: `TYPE BASE64`.
    pub fn to_openssh(&self) -> String {
        let mut blob = Vec::new();
        put(&mut blob, self.kind().as_bytes());
        match self {
            SshKey::Ed25519(key) => put(&mut blob, key),
            SshKey::SkEd25519 { key, application } => {
                put(&mut blob, key);
                put(&mut blob, application.as_bytes());
            }
        }
        format!("{} {}", self.kind(), BASE64.encode(blob))
    }

    fn verifying_key(&self) -> Result<VerifyingKey, SshSigError> {
        let (SshKey::Ed25519(key) | SshKey::SkEd25519 { key, .. }) = self;
        VerifyingKey::from_bytes(key).map_err(|_| SshSigError::Malformed("not an ed25519 key"))
    }
}

/// An armored SSH signature, parsed but not yet verified.
#[derive(Debug)]
pub struct SshSignature {
    pub key: SshKey,
    namespace: String,
    reserved: Vec<u8>,
    hash: String,
    signature: [u8; 64],
    /// The authenticator's flags and counter, for a security key.
    sk: Option<(u8, u32)>,
}

impl SshSignature {
    pub fn parse(armored: &str) -> Result<SshSignature, SshSigError> {
        let body = armored
            .trim()
            .strip_prefix(BEGIN)
            .and_then(|rest| rest.strip_suffix(END))
            .ok_or(SshSigError::Malformed(
                "it must be the armored output of `ssh-keygen -Y sign`",
            ))?;
        let body: String = body.split_whitespace().collect();
        let blob = BASE64
            .decode(body)
            .map_err(|_| SshSigError::Malformed("its body is not base64"))?;
        let rest = blob
            .strip_prefix(MAGIC)
            .ok_or(SshSigError::Malformed("it does not start with SSHSIG"))?;
        let mut r = Reader(rest);
        if r.u32()? != 1 {
            return Err(SshSigError::Malformed("only version 1 exists"));
        }
        let key = SshKey::from_blob(r.bytes()?)?;
        let namespace = r.text()?;
        let reserved = r.bytes()?.to_vec();
        let hash = r.text()?;
        let mut sig = Reader(r.bytes()?);
        r.end()?;
        let kind = sig.text()?;
        if kind != key.kind() {
            return Err(SshSigError::Malformed(
                "its signature's type differs from its key's",
            ));
        }
        let signature: [u8; 64] = sig
            .bytes()?
            .try_into()
            .map_err(|_| SshSigError::Malformed("an ed25519 signature is 64 bytes"))?;
        let sk = match key {
            SshKey::SkEd25519 { .. } => Some((sig.u8()?, sig.u32()?)),
            SshKey::Ed25519(_) => None,
        };
        sig.end()?;
        Ok(SshSignature {
            key,
            namespace,
            reserved,
            hash,
            signature,
            sk,
        })
    }

    /// Checks the signature over `message` in `namespace`, by its own key
    /// (whether that key may approve is the caller's question).
    pub fn verify(&self, namespace: &str, message: &[u8]) -> Result<(), SshSigError> {
        if self.namespace != namespace {
            return Err(SshSigError::Namespace {
                found: self.namespace.clone(),
                expected: namespace.to_string(),
            });
        }
        let digest = match self.hash.as_str() {
            "sha512" => Sha512::digest(message).to_vec(),
            "sha256" => Sha256::digest(message).to_vec(),
            _ => {
                return Err(SshSigError::Malformed(
                    "its hash is neither sha256 nor sha512",
                ))
            }
        };
        let mut signed = MAGIC.to_vec();
        put(&mut signed, self.namespace.as_bytes());
        put(&mut signed, &self.reserved);
        put(&mut signed, self.hash.as_bytes());
        put(&mut signed, &digest);
        let signed = match (&self.key, self.sk) {
            (SshKey::SkEd25519 { application, .. }, Some((flags, counter))) => {
                if flags & USER_PRESENT == 0 {
                    return Err(SshSigError::NotTouched);
                }
                let mut assertion = Sha256::digest(application.as_bytes()).to_vec();
                assertion.push(flags);
                assertion.extend_from_slice(&counter.to_be_bytes());
                assertion.extend_from_slice(&Sha256::digest(&signed));
                assertion
            }
            _ => signed,
        };
        self.key
            .verifying_key()?
            .verify_strict(&signed, &Signature::from_bytes(&self.signature))
            .map_err(|_| SshSigError::Invalid)
    }
}

/// Appends an SSH `string`: a big-endian u32 length, then the bytes.
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Reads SSH wire types; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SshSigError> {
        if self.0.len() < n {
            return Err(SshSigError::Malformed("it ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, SshSigError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, SshSigError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn bytes(&mut self) -> Result<&'a [u8], SshSigError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, SshSigError> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| SshSigError::Malformed("a name in it is not UTF-8"))
    }

    fn key32(&mut self) -> Result<[u8; 32], SshSigError> {
        self.bytes()?
            .try_into()
            .map_err(|_| SshSigError::Malformed("an ed25519 key is 32 bytes"))
    }

    fn end(&self) -> Result<(), SshSigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(SshSigError::Malformed("it has bytes after its end"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // OpenSSH's own test vectors (tests/vectors/sshsig/README.md): what
    // real OpenSSH and its software authenticator signed, checked
    // independently of any signer of ours.
    const VECTOR_NAMESPACE: &str = "unittest";
    const VECTOR_DATA: &[u8] = include_bytes!("../../../tests/vectors/sshsig/signed-data");
    const ED25519_PUB: &str = include_str!("../../../tests/vectors/sshsig/ed25519.pub");
    const ED25519_SIG: &str = include_str!("../../../tests/vectors/sshsig/ed25519.sig");
    const SK_PUB: &str = include_str!("../../../tests/vectors/sshsig/ed25519_sk.pub");
    const SK_SIG: &str = include_str!("../../../tests/vectors/sshsig/ed25519_sk.sig");

    #[test]
    fn openssh_signatures_by_plain_and_security_keys_verify() {
        for (public, armored) in [(ED25519_PUB, ED25519_SIG), (SK_PUB, SK_SIG)] {
            let signature = SshSignature::parse(armored).unwrap();
            assert_eq!(signature.key, SshKey::parse_openssh(public).unwrap());
            signature.verify(VECTOR_NAMESPACE, VECTOR_DATA).unwrap();
            assert_eq!(
                signature.verify(VECTOR_NAMESPACE, b"This is a test, this is only a tesT"),
                Err(SshSigError::Invalid)
            );
            assert!(matches!(
                signature.verify("agentward-approval", VECTOR_DATA),
                Err(SshSigError::Namespace { .. })
            ));
        }
        let sk = SshKey::parse_openssh(SK_PUB).unwrap();
        assert!(matches!(&sk, SshKey::SkEd25519 { application, .. } if application == "ssh:"));
        assert_eq!(
            sk.to_openssh(),
            SK_PUB.rsplit_once(" ED25519-SK").unwrap().0,
            "the key prints back as it was read"
        );
    }

    #[test]
    fn a_security_key_signature_altered_in_any_authenticator_field_fails() {
        let signature = SshSignature::parse(SK_SIG).unwrap();
        let (flags, counter) = signature.sk.unwrap();
        assert_ne!(flags & USER_PRESENT, 0, "the vector's key was touched");
        let mut untouched = SshSignature::parse(SK_SIG).unwrap();
        untouched.sk = Some((flags & !USER_PRESENT, counter));
        assert_eq!(
            untouched.verify(VECTOR_NAMESPACE, VECTOR_DATA),
            Err(SshSigError::NotTouched)
        );
        let mut replayed = SshSignature::parse(SK_SIG).unwrap();
        replayed.sk = Some((flags, counter + 1));
        assert_eq!(
            replayed.verify(VECTOR_NAMESPACE, VECTOR_DATA),
            Err(SshSigError::Invalid)
        );
    }

    #[test]
    fn other_key_types_and_damaged_armour_are_refused_by_name() {
        // OpenSSH's ECDSA vector's public key blob: a type approvals refuse.
        let mut blob = Vec::new();
        put(&mut blob, b"ecdsa-sha2-nistp256");
        put(&mut blob, b"nistp256");
        assert_eq!(
            SshKey::from_blob(&blob),
            Err(SshSigError::KeyType("ecdsa-sha2-nistp256".into()))
        );
        assert!(matches!(
            SshSignature::parse("not armoured"),
            Err(SshSigError::Malformed(_))
        ));
        let cut = ED25519_SIG.replace("DNg4vBWp1j1gLRiBMOF+gwYNegDg==", "DNg4");
        assert!(matches!(
            SshSignature::parse(&cut),
            Err(SshSigError::Malformed(_))
        ));
    }
}
