//! `--store …`: which secret store a command works on.

use super::Failure;
use agentward::store::openbao::OpenBaoStore;
use agentward::store::SecretStore;
use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// The project's encrypted store in secrets/ (keys/store-kek.key).
    Embedded,
    /// An OpenBao or Vault server's KV v2 mount; every role run gets its
    /// own child token generated from the role's grants.
    Openbao,
}

#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// The OpenBao server (with --store openbao).
    #[arg(long, default_value = "http://127.0.0.1:8200")]
    openbao_addr: String,
    /// A file holding the OpenBao token that mints the role tokens; never
    /// the token itself on the command line, where every user can read it.
    /// Default: the BAO_TOKEN environment variable.
    #[arg(long)]
    openbao_token_file: Option<PathBuf>,
    /// The KV v2 mount.
    #[arg(long, default_value = "secret")]
    openbao_mount: String,
    /// Encrypt new values with this transit key before they reach KV
    /// (envelope encryption); the key must exist.
    #[arg(long)]
    openbao_transit_key: Option<String>,
}

impl StoreArgs {
    pub(crate) fn open(&self, project: &Path) -> Result<Arc<dyn SecretStore>, Failure> {
        match self.store {
            StoreKind::Embedded => Ok(super::open_store(project)?),
            StoreKind::Openbao => {
                let token = match &self.openbao_token_file {
                    Some(file) => std::fs::read_to_string(file)
                        .with_context(|| format!("reading the OpenBao token from {}", file.display()))?,
                    None => std::env::var("BAO_TOKEN").map_err(|_| {
                        anyhow!("--store openbao needs a token: pass --openbao-token-file FILE or set BAO_TOKEN")
                    })?,
                };
                let store =
                    OpenBaoStore::new(&self.openbao_addr, token.trim(), &self.openbao_mount);
                Ok(Arc::new(match &self.openbao_transit_key {
                    Some(key) => store.with_transit(key),
                    None => store,
                }))
            }
        }
    }
}
