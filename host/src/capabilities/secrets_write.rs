//! `secrets-write`: a new version, labelled pending — never a label move on
//! current, never a rewrite of history. Only the Implementer holds it.

use super::bindings::agentward::host::{secrets_write, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::check_path;
use super::{store_error, Capability};
use crate::store::SecretValue;
use serde_json::{json, Map, Value};

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

    fn audit_args(&self, ctx: &CallContext) -> Map<String, Value> {
        let mut args = Map::new();
        args.insert("path".into(), json!(self.path));
        args.insert("value".into(), ctx.digest(&self.value));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        check_path(binding, Capability::SecretsWrite, &self.path, || {
            format!("write a pending version of secret `{}`", self.path)
        })
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Map<String, Value>) -> Result<u32, Error> {
        if self.value.expose().len() > MAX_VALUE_BYTES {
            return Err(Error::Invalid(format!(
                "secret value for `{}` is {} bytes; the limit is {MAX_VALUE_BYTES}",
                self.path,
                self.value.expose().len()
            )));
        }
        let change_id = (!ctx.change_id.is_empty()).then_some(ctx.change_id.as_str());
        let version = ctx
            .store
            .put_pending(&self.path, &self.value, change_id)
            .map_err(store_error)?;
        audit.insert("version".into(), json!(version));
        Ok(version)
    }
}

impl secrets_write::Host for CallContext {
    fn put_pending(&mut self, path: String, value: String) -> Result<u32, Error> {
        let value = SecretValue::new(value);
        // Remembered before mediation so a denied write's value is scrubbed too.
        self.remember_secret(&value);
        mediate(self, PutPending { path, value })
    }
}
