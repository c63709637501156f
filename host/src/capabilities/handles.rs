//! `handles`: use a credential without seeing it.
//!
//! `acquire` returns an opaque token; the host swaps it for the value only
//! where the value leaves for its destination (an outbound header, a file
//! proposed in a workspace) and scrubs the value from whatever comes back.
//! A Tester proves a token works without ever holding it. Each handle keeps
//! its secret's path and `origins` attribute, so `http` can refuse to send
//! it anywhere its secret and grant do not allow.

use super::bindings::agentward::host::{handles, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::check_path;
use super::{parse_label, store_error, Capability};
use crate::audit::Args;
use crate::store::SecretValue;
use serde_json::json;
use std::collections::HashMap;

const TOKEN_PREFIX: &str = "{{agentward:handle:";

/// The handles of one run. They die with the run.
#[derive(Default)]
pub struct HandleTable {
    values: HashMap<String, Held>,
}

/// What a handle stands for, and where its value may be sent.
struct Held {
    value: SecretValue,
    path: String,
    /// The secret's `origins` attribute when it was acquired; empty: any
    /// origin the grant allows.
    origins: Vec<String>,
}

/// A live handle found in some text.
pub(crate) struct HandleUse<'t> {
    pub path: &'t str,
    pub origins: &'t [String],
}

impl HandleUse<'_> {
    /// Whether the value may be sent to `origin` (already within the grant).
    pub(crate) fn may_go_to(&self, origin: &str) -> bool {
        self.origins.is_empty() || self.origins.iter().any(|o| o == origin)
    }
}

impl HandleTable {
    /// `text` with every live handle replaced by its value. Only for text
    /// that leaves the host for the handle's destination.
    pub(crate) fn substitute(&self, text: &str) -> String {
        if !text.contains(TOKEN_PREFIX) {
            return text.to_string();
        }
        self.values
            .iter()
            .fold(text.to_string(), |out, (token, held)| {
                out.replace(token, held.value.expose())
            })
    }

    /// A new handle to `value`, the secret at `path` whose `origins`
    /// attribute is `origins`.
    pub(crate) fn insert(
        &mut self,
        value: SecretValue,
        path: String,
        origins: Vec<String>,
    ) -> String {
        let token = format!(
            "{TOKEN_PREFIX}{}}}}}",
            hex::encode(rand::random::<[u8; 12]>())
        );
        self.values.insert(
            token.clone(),
            Held {
                value,
                path,
                origins,
            },
        );
        token
    }

    /// The value and secret path of the live handle `token`.
    pub(crate) fn lookup(&self, token: &str) -> Option<(&SecretValue, &str)> {
        self.values
            .get(token)
            .map(|held| (&held.value, held.path.as_str()))
    }

    /// The `origins` attribute of the secret behind the live handle
    /// `token` (empty: not bound to any service).
    pub(crate) fn origins_of(&self, token: &str) -> &[String] {
        self.values
            .get(token)
            .map_or(&[][..], |held| held.origins.as_slice())
    }

    /// Every live handle: its token and its secret's path.
    pub(crate) fn live(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .map(|(token, held)| (token.as_str(), held.path.as_str()))
    }

    /// The live handles that occur in `text`.
    pub(crate) fn found_in(&self, text: &str) -> Vec<HandleUse<'_>> {
        if !text.contains(TOKEN_PREFIX) {
            return Vec::new();
        }
        self.values
            .iter()
            .filter(|(token, _)| text.contains(token.as_str()))
            .map(|(_, held)| HandleUse {
                path: &held.path,
                origins: &held.origins,
            })
            .collect()
    }
}

struct Acquire {
    path: String,
    label: String,
}

impl HostCall for Acquire {
    type Output = String;
    fn call(&self) -> &'static str {
        "handles.acquire"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("path", json!(self.path));
        args.insert("label", json!(self.label));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        check_path(binding, Capability::Handles, &self.path, || {
            format!("take a handle to secret `{}` ({})", self.path, self.label)
        })
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<String, Error> {
        let label = parse_label(&self.label)?;
        let value = ctx.store.read(&self.path, label).map_err(store_error)?;
        audit.insert("value", ctx.digest(&value));
        hand_out(ctx, value, self.path, audit)
    }
}

/// A new handle to `value`, the secret at `path`, bound to the secret's
/// `origins`; the value is remembered for scrubbing and the handle (and
/// any origins) recorded.
pub(crate) fn hand_out(
    ctx: &mut CallContext,
    value: SecretValue,
    path: String,
    audit: &mut Args,
) -> Result<String, Error> {
    let origins = ctx
        .store
        .describe(&path)
        .map_err(store_error)?
        .attributes
        .origins;
    if !origins.is_empty() {
        audit.insert("origins", json!(origins));
    }
    ctx.remember_secret(&value);
    let token = ctx.handles.insert(value, path, origins);
    audit.insert("handle", json!(token));
    Ok(token)
}

struct Release {
    handle: String,
}

impl HostCall for Release {
    type Output = ();
    fn call(&self) -> &'static str {
        "handles.release"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("handle", json!(self.handle));
        args
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, _audit: &mut Args) -> Result<(), Error> {
        ctx.handles
            .values
            .remove(&self.handle)
            .map(|_| ())
            .ok_or_else(|| Error::NotFound(format!("no live handle {}", self.handle)))
    }
}

impl handles::Host for CallContext {
    fn acquire(&mut self, path: String, label: String) -> Result<String, Error> {
        mediate(self, Acquire { path, label })
    }

    fn release(&mut self, handle: String) {
        let _ = mediate(self, Release { handle });
    }
}
