//! `--store …`: which secret store a command works on.

use super::Failure;
use agentward::net::tls::{load_ca_file, TlsClient};
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
    #[command(flatten)]
    pub(crate) openbao: OpenBaoArgs,
    /// Encrypt new values with this transit key before they reach KV
    /// (envelope encryption); the key must exist.
    #[arg(long)]
    openbao_transit_key: Option<String>,
}

/// How to reach an OpenBao server: the store's, or the audit witness's.
#[derive(clap::Args)]
pub(crate) struct OpenBaoArgs {
    /// The OpenBao server (with --store openbao, or an openbao witness):
    /// https://… (plain http only on loopback). For an HA cluster, every
    /// node's address, separated by commas: requests go to the next node
    /// when one is down, sealed or without an active node.
    #[arg(long, default_value = "http://127.0.0.1:8200")]
    openbao_addr: String,
    /// A PEM file of the CA that signed the OpenBao server's certificate,
    /// trusted on top of the public roots. Default: the BAO_CACERT or
    /// VAULT_CACERT environment variable.
    #[arg(long, value_name = "FILE")]
    openbao_ca_cert: Option<PathBuf>,
    /// A file holding the OpenBao token that mints the role tokens; never
    /// the token itself on the command line, where every user can read it.
    /// Default: the BAO_TOKEN environment variable.
    #[arg(long)]
    openbao_token_file: Option<PathBuf>,
    /// The KV v2 mount.
    #[arg(long, default_value = "secret")]
    openbao_mount: String,
}

/// Plain http to OpenBao would carry its token and every value in clear,
/// so it is refused off loopback, as `http` grants are.
fn check_addr(addr: &str) -> Result<(), Failure> {
    let url = url::Url::parse(addr).map_err(|e| {
        anyhow!("--openbao-addr {addr:?} is not a URL ({e})\n  fix: pass e.g. https://bao.internal:8200")
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Failure::BadInput(anyhow!(
            "--openbao-addr {addr}: plain http would send the token and secret values unencrypted\n  \
             fix: serve OpenBao over TLS and pass https://…, with --openbao-ca-cert FILE if an internal CA signed its certificate"
        ))),
    }
}

impl OpenBaoArgs {
    /// A client of the server with the token of --openbao-token-file or
    /// BAO_TOKEN; `needs` says what for, in the error when there is none.
    pub(crate) fn connect(&self, needs: &str) -> Result<OpenBaoStore, Failure> {
        let token = match &self.openbao_token_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("reading the OpenBao token from {}", file.display()))?,
            None => std::env::var("BAO_TOKEN").map_err(|_| {
                anyhow!("{needs} needs a token: pass --openbao-token-file FILE or set BAO_TOKEN")
            })?,
        };
        for addr in self.openbao_addr.split(',').map(str::trim) {
            check_addr(addr)?;
        }
        Ok(
            OpenBaoStore::new(&self.openbao_addr, token.trim(), &self.openbao_mount)
                .with_tls(&self.tls()?),
        )
    }

    /// The trust for the OpenBao server: the public roots, plus the CA of
    /// --openbao-ca-cert, BAO_CACERT or VAULT_CACERT (in that order).
    fn tls(&self) -> Result<TlsClient, Failure> {
        let named = match &self.openbao_ca_cert {
            Some(file) => Some(("--openbao-ca-cert", file.clone())),
            None => ["BAO_CACERT", "VAULT_CACERT"].into_iter().find_map(|var| {
                std::env::var_os(var)
                    .filter(|v| !v.is_empty())
                    .map(|v| (var, PathBuf::from(v)))
            }),
        };
        let Some((source, file)) = named else {
            return Ok(TlsClient::default());
        };
        let certs = load_ca_file(&file).map_err(|e| {
            Failure::BadInput(anyhow!(
                "{source}: {e}\n  fix: point {source} at the PEM certificate of the CA that signed OpenBao's certificate (`bao server -dev-tls` writes it as bao-ca.pem)"
            ))
        })?;
        Ok(TlsClient::new(certs))
    }
}

impl StoreArgs {
    pub(crate) fn open(&self, project: &Path) -> Result<Arc<dyn SecretStore>, Failure> {
        match self.store {
            StoreKind::Embedded => Ok(super::open_store(project)?),
            StoreKind::Openbao => {
                let store = self.openbao.connect("--store openbao")?;
                Ok(Arc::new(match &self.openbao_transit_key {
                    Some(key) => store.with_transit(key),
                    None => store,
                }))
            }
        }
    }
}
