//! `agentward precompile [--out DIR]`: compiles every role's component for
//! this machine's engine into the component cache, named as the cache
//! names them (sha256 of the component, the engine's compatibility hash),
//! so a CI runner that restores the directory pays no compile. The Python
//! and JavaScript roles take seconds each to compile.

use super::Failure;
use agentward::audit::{MemorySink, Redactor};
use agentward::policy::Policy;
use agentward::runtime::{artifacts, Host, HostConfig};
use agentward::store::MemoryStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file (default: PROJECT/policies/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The cache directory to fill (default: the one agentward uses,
    /// `AGENTWARD_CACHE_DIR` or `$XDG_CACHE_HOME/agentward`); point
    /// `AGENTWARD_CACHE_DIR` at it when running.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn run(project: &Path, args: Args) -> Result<(), Failure> {
    let policy = Policy::load(&super::policy_path(project, args.policy), project)?;
    let Some(dir) = args.out.or_else(super::cache_dir) else {
        return Err(Failure::BadInput(anyhow::anyhow!(
            "no cache directory: pass --out DIR or set AGENTWARD_CACHE_DIR"
        )));
    };
    let mut config = HostConfig::new(project);
    config.cache_dir = Some(dir.clone());
    let host = Host::new(
        config,
        Arc::new(MemorySink::new()),
        Arc::new(MemoryStore::new()),
        Arc::new(Redactor::ephemeral()),
    )?;
    let mut rows = vec![[
        "ROLE".to_string(),
        "COMPONENT".to_string(),
        "CACHE FILE".to_string(),
        "STATUS".to_string(),
    ]];
    for (role, role_policy) in &policy.roles {
        let started = Instant::now();
        let loaded = host.precompile(role_policy)?;
        let status = if loaded.compiled {
            format!("compiled in {} ms", started.elapsed().as_millis())
        } else {
            "already cached".to_string()
        };
        let file = loaded
            .cache_file
            .map(|f| {
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_else(|| "(not written: see the warning above)".to_string());
        rows.push([
            role.to_string(),
            artifacts::display(&loaded.component),
            file,
            status,
        ]);
    }
    super::check::print_table(&rows);
    println!("cache {}", dir.display());
    Ok(())
}
