//! Providers: where credentials come from and go back to.
//!
//! A provider is one module here implementing [`Provider`], plus one
//! variant of [`Issuer`], the workflow's `issuer = { kind = "…", … }`. The
//! Implementer's flow (mint, stage, hand off, revoke) and the host's
//! orchestrator and state machine are the same for every provider; see
//! docs/providers.md for how to add one.

mod generated;
mod npm_registry;
mod postgres;

use agentward_sdk::{handles, secrets_write};
use serde::Deserialize;

/// The secret under rotation, as the orchestrator describes it.
pub struct Rotation<'a> {
    pub path: &'a str,
    /// The provider's id of the credential consumers hold now (the current
    /// version's), when one is on record.
    pub current_credential_id: Option<&'a str>,
    pub dry_run: bool,
}

/// What a provider does for a rotation.
pub trait Provider {
    /// Makes a new credential for `r.path` and stores it as its pending
    /// version. `retry_since`: an earlier attempt was cut off then; what
    /// the provider minted since is revoked first.
    fn mint(&self, r: &Rotation, retry_since: Option<&str>) -> Result<Minted, String>;

    /// After a mint that began at `since` stored a pending version and was
    /// cut off: finishes what that mint did after storing, and returns the
    /// provider's id of the pending credential.
    fn identify(&self, _r: &Rotation, _since: Option<&str>) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// Revokes the credential `credential_id` of `path`: `Ok(detail)` when
    /// it is revoked (or there is nothing to revoke), `Err` when it may
    /// still be live.
    fn revoke(
        &self,
        path: &str,
        credential_id: Option<&str>,
        dry_run: bool,
    ) -> Result<String, String>;

    /// The registry as `.npmrc` keys name it (`//host:port/`), for
    /// providers that are npm registries.
    fn npmrc_key(&self) -> Option<String> {
        None
    }
}

/// A new credential, stored as pending.
pub struct Minted {
    pub version: u32,
    /// The provider's id for it (to revoke it by), if it has one.
    pub credential_id: Option<String>,
}

/// The workflow's choice of provider.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Issuer {
    Generated(generated::Generated),
    NpmRegistry(npm_registry::NpmRegistry),
    Postgres(postgres::Postgres),
}

impl Default for Issuer {
    fn default() -> Self {
        Issuer::Generated(generated::Generated::default())
    }
}

impl Issuer {
    pub fn provider(&self) -> &dyn Provider {
        match self {
            Issuer::Generated(p) => p,
            Issuer::NpmRegistry(p) => p,
            Issuer::Postgres(p) => p,
        }
    }
}

/// Stores `value`, which `provider` minted as `credential_id`, as `path`'s
/// pending version. If the store refuses it, the credential exists at the
/// provider but not in the store: it is revoked rather than left live
/// without a record.
pub fn store_or_revoke(
    provider: &dyn Provider,
    path: &str,
    value: &str,
    credential_id: Option<String>,
    dry_run: bool,
) -> Result<Minted, String> {
    match secrets_write::put_pending(path, value) {
        Ok(version) => Ok(Minted {
            version,
            credential_id,
        }),
        Err(e) => {
            let undone = provider.revoke(path, credential_id.as_deref(), dry_run);
            Err(format!(
                "storing the pending version of {path}: {}; the new credential {}",
                e.message(),
                match undone {
                    Ok(_) => "was revoked".to_string(),
                    Err(why) => format!("could NOT be revoked: {why}"),
                }
            ))
        }
    }
}

/// A handle to `path`'s version labelled `label`.
pub fn handle(path: &str, label: &str) -> Result<String, String> {
    handles::acquire(path, label)
        .map_err(|e| format!("handle for {path} ({label}): {}", e.message()))
}
