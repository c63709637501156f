//! Providers: where credentials come from and go back to.
//!
//! A provider is one module here implementing [`Provider`], plus one
//! variant of [`Issuer`], the workflow's `issuer = { kind = "…", … }`. The
//! Implementer's flow (mint, stage, hand off, revoke) and the host's
//! orchestrator and state machine are the same for every provider; see
//! docs/providers.md for how to add one.

mod generated;
mod npm_registry;

use agentward_sdk::secrets_write;
use serde::Deserialize;

/// What a provider does for a rotation.
pub trait Provider {
    /// Makes a new credential for `path` and stores it as `path`'s pending
    /// version. `retry_since`: an earlier attempt was cut off then; what
    /// the provider minted since is revoked first.
    fn mint(&self, path: &str, retry_since: Option<&str>, dry_run: bool) -> Result<Minted, String>;

    /// The provider's id of the credential an interrupted mint that began
    /// at `since` stored as `path`'s pending version.
    fn identify(
        &self,
        _path: &str,
        _since: Option<&str>,
        _dry_run: bool,
    ) -> Result<Option<String>, String> {
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
