//! `secrets-meta`: what secrets exist and their versions, labels and
//! attributes — never a value. The Planner's view of the store.

use super::bindings::agentward::host::{
    secrets_meta::{self, SecretInfo, VersionInfo},
    types::Error,
};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::check_path;
use super::{store_error, Capability};
use crate::audit::Args;
use serde_json::json;

struct ListPaths {
    prefix: String,
}

impl HostCall for ListPaths {
    type Output = Vec<String>;
    fn call(&self) -> &'static str {
        "secrets-meta.list-paths"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("prefix", json!(self.prefix));
        args
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        // Listing is filtered to the scope in `perform` rather than denied:
        // a prefix wider than the scope simply shows fewer paths.
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<Vec<String>, Error> {
        let scope = ctx.binding.path_grant(Capability::SecretsMeta).get_ref();
        let paths: Vec<String> = ctx
            .store
            .list(&self.prefix)
            .map_err(store_error)?
            .into_iter()
            .filter(|p| scope.allows(p))
            .collect();
        audit.insert("returned", json!(paths.len()));
        Ok(paths)
    }
}

struct Describe {
    path: String,
}

impl HostCall for Describe {
    type Output = SecretInfo;
    fn call(&self) -> &'static str {
        "secrets-meta.describe"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("path", json!(self.path));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        check_path(binding, Capability::SecretsMeta, &self.path, || {
            format!("describe secret `{}`", self.path)
        })
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<SecretInfo, Error> {
        let meta = ctx.store.describe(&self.path).map_err(store_error)?;
        audit.insert("versions", json!(meta.versions.len()));
        Ok(SecretInfo {
            path: meta.path,
            versions: meta
                .versions
                .into_iter()
                .map(|v| VersionInfo {
                    version: v.version,
                    labels: v.labels.iter().map(|l| l.as_str().to_string()).collect(),
                    created: v.created,
                })
                .collect(),
            owner: meta.attributes.owner,
            expires: meta.attributes.expires,
            scopes: meta.attributes.scopes,
            custom: meta.attributes.custom,
        })
    }
}

impl secrets_meta::Host for CallContext {
    fn list_paths(&mut self, prefix: String) -> Result<Vec<String>, Error> {
        mediate(self, ListPaths { prefix })
    }

    fn describe(&mut self, path: String) -> Result<SecretInfo, Error> {
        mediate(self, Describe { path })
    }
}
