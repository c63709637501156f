//! `secrets-write`: a new version, labelled pending — never a label move on
//! current, never a rewrite of history. Only the Implementer holds it.
//!
//! `generate` is the way to write a value no role ever holds: the host
//! draws it from the operating system's CSPRNG, stores it, and hands back
//! only a handle. A spec that would make a guessable value (under 128 bits)
//! is refused.

use super::bindings::agentward::host::secrets_write::{GenerateSpec, Generated};
use super::bindings::agentward::host::{secrets_write, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::check_path;
use super::{store_error, Capability};
use crate::audit::Args;
use crate::store::SecretValue;
use serde_json::json;

/// Larger values are refused before they reach a store.
const MAX_VALUE_BYTES: usize = 64 * 1024;

struct PutPending {
    path: String,
    value: SecretValue,
}

impl HostCall for PutPending {
    type Output = u32;
    fn call(&self) -> &'static str {
        "secrets-write.put-pending"
    }

    fn effectful(&self) -> bool {
        true
    }

    fn audit_args(&mut self, ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("path", json!(self.path));
        args.insert("value", ctx.digest(&self.value));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        check_path(binding, Capability::SecretsWrite, &self.path, || {
            format!("write a pending version of secret `{}`", self.path)
        })
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<u32, Error> {
        if self.value.expose().len() > MAX_VALUE_BYTES {
            return Err(Error::Invalid(format!(
                "secret value for `{}` is {} bytes; the limit is {MAX_VALUE_BYTES}",
                self.path,
                self.value.expose().len()
            )));
        }
        let change_id = (!ctx.caller.change_id.is_empty()).then_some(ctx.caller.change_id.as_str());
        let version = ctx
            .store
            .put_pending(&self.path, &self.value, change_id)
            .map_err(store_error)?;
        audit.insert("version", json!(version));
        Ok(version)
    }
}

/// Characters a generated value uses when the spec names none.
const DEFAULT_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The least entropy a generated value may carry.
const MIN_BITS: f64 = 128.0;
/// The longest prefix or suffix: room for a connection URL around a password.
const MAX_AFFIX_BYTES: usize = 128;

/// A spec, checked: the alphabet as distinct printable ASCII characters.
struct Spec {
    length: usize,
    alphabet: Vec<char>,
    prefix: String,
    suffix: String,
}

impl Spec {
    fn parse(spec: &GenerateSpec) -> Result<Spec, Error> {
        let invalid = |why: String| Error::Invalid(format!("generate spec: {why}"));
        let written = if spec.alphabet.is_empty() {
            DEFAULT_ALPHABET
        } else {
            &spec.alphabet
        };
        let mut alphabet: Vec<char> = written.chars().collect();
        alphabet.sort_unstable();
        alphabet.dedup();
        if alphabet.len() != written.chars().count() {
            return Err(invalid(
                "the alphabet repeats a character, which would skew the draw; list each once"
                    .into(),
            ));
        }
        if alphabet.len() < 2 || alphabet.iter().any(|c| !c.is_ascii_graphic()) {
            return Err(invalid(
                "the alphabet must be two or more printable ASCII characters without spaces".into(),
            ));
        }
        for (name, affix) in [("prefix", &spec.prefix), ("suffix", &spec.suffix)] {
            if affix.len() > MAX_AFFIX_BYTES || affix.chars().any(|c| !c.is_ascii_graphic()) {
                return Err(invalid(format!(
                    "the {name} must be at most {MAX_AFFIX_BYTES} printable ASCII characters without spaces"
                )));
            }
        }
        let length = spec.length as usize;
        let bits = length as f64 * (alphabet.len() as f64).log2();
        if bits < MIN_BITS {
            let needed = (MIN_BITS / (alphabet.len() as f64).log2()).ceil();
            return Err(invalid(format!(
                "{length} characters of a {}-character alphabet carry {bits:.0} bits; at least {MIN_BITS:.0} are needed: use length = {needed} or more",
                alphabet.len()
            )));
        }
        if spec.prefix.len() + length + spec.suffix.len() > MAX_VALUE_BYTES {
            return Err(invalid(format!(
                "the value would exceed {MAX_VALUE_BYTES} bytes"
            )));
        }
        Ok(Spec {
            length,
            alphabet,
            prefix: spec.prefix.clone(),
            suffix: spec.suffix.clone(),
        })
    }

    /// `prefix`, `length` characters each drawn uniformly, `suffix`.
    fn draw(&self) -> SecretValue {
        use rand::Rng;
        let mut rng = rand::rng();
        let mut value = self.prefix.clone();
        value.extend(
            (0..self.length).map(|_| self.alphabet[rng.random_range(0..self.alphabet.len())]),
        );
        value.push_str(&self.suffix);
        SecretValue::new(value)
    }
}

struct Generate {
    path: String,
    spec: GenerateSpec,
}

impl HostCall for Generate {
    type Output = Generated;
    fn call(&self) -> &'static str {
        "secrets-write.generate"
    }

    fn effectful(&self) -> bool {
        true
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("path", json!(self.path));
        args.insert("length", json!(self.spec.length));
        args.insert(
            "alphabet",
            json!(if self.spec.alphabet.is_empty() {
                "A-Za-z0-9"
            } else {
                &self.spec.alphabet
            }),
        );
        args.insert("prefix", json!(self.spec.prefix));
        args.insert("suffix", json!(self.spec.suffix));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        check_path(binding, Capability::SecretsWrite, &self.path, || {
            format!("write a pending version of secret `{}`", self.path)
        })
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<Generated, Error> {
        let value = Spec::parse(&self.spec)?.draw();
        ctx.remember_secret(&value);
        audit.insert("value", ctx.digest(&value));
        let change_id = (!ctx.caller.change_id.is_empty()).then_some(ctx.caller.change_id.as_str());
        let version = ctx
            .store
            .put_pending(&self.path, &value, change_id)
            .map_err(store_error)?;
        audit.insert("version", json!(version));
        let handle = super::handles::hand_out(ctx, value, self.path, audit)?;
        Ok(Generated { version, handle })
    }
}

impl secrets_write::Host for CallContext {
    fn put_pending(&mut self, path: String, value: String) -> Result<u32, Error> {
        let value = SecretValue::new(value);
        // Remembered before mediation so a denied write's value is scrubbed too.
        self.remember_secret(&value);
        mediate(self, PutPending { path, value })
    }

    fn generate(&mut self, path: String, spec: GenerateSpec) -> Result<Generated, Error> {
        mediate(self, Generate { path, spec })
    }
}
