//! `secrets-read`: a secret's value, for the few roles that truly need it.
//!
//! The value is recorded only as its keyed digest, and remembered so that
//! anything the guest writes afterwards (logs, output, report) is scrubbed.

use super::bindings::agentward::host::{secrets_read, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::check_path;
use super::{parse_label, store_error, Capability};
use crate::audit::Args;
use serde_json::json;

struct Read {
    path: String,
    label: String,
}

impl HostCall for Read {
    type Output = String;
    fn call(&self) -> &'static str {
        "secrets-read.read"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("path", json!(self.path));
        args.insert("label", json!(self.label));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        check_path(binding, Capability::SecretsRead, &self.path, || {
            format!("read secret `{}` ({})", self.path, self.label)
        })
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<String, Error> {
        let label = parse_label(&self.label)?;
        let value = ctx.store.read(&self.path, label).map_err(store_error)?;
        audit.insert("value", ctx.digest(&value));
        ctx.remember_secret(&value);
        Ok(value.expose().to_string())
    }
}

impl secrets_read::Host for CallContext {
    fn read(&mut self, path: String, label: String) -> Result<String, Error> {
        mediate(self, Read { path, label })
    }
}
