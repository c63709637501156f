//! `agentward init DIR`: the project layout, with the default policy.

use super::Failure;
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Where to create the project; created if missing.
    dir: PathBuf,
}

const DEFAULT_POLICY: &str = include_str!("../../../policies/default.toml");
const DEFAULT_WORKFLOW: &str = include_str!("../../../policies/workflow.toml");
/// The project layout, plus `docs/` for the runbooks and mappings roles
/// consult through the `docs` capability.
const LAYOUT: [&str; 5] = ["secrets", "policies", "logs", "manifests", "docs"];

pub(crate) fn run(args: Args) -> Result<(), Failure> {
    for sub in LAYOUT {
        create_dir(&args.dir.join(sub))?;
    }
    let keys =
        agentward::audit::AuditKeys::ensure(&super::keys_dir(&args.dir), &key_name(&args.dir))
            .context("creating the audit keys")?;
    println!(
        "audit keys in {} (signing key {}; give auditors keys/{})",
        super::keys_dir(&args.dir).display(),
        keys.name(),
        agentward::audit::keys::VERIFIER_FILE
    );
    let kek = super::store_kek(&args.dir);
    if kek.exists() {
        println!("kept existing store key {}", kek.display());
    } else {
        agentward::store::EmbeddedStore::create_kek(&kek)
            .context("creating the store key-encryption key")?;
        println!(
            "store key {} (back it up: without it secrets/ cannot be decrypted)",
            kek.display()
        );
    }
    // Opening creates the store's lock file, so later commands (a dry run
    // included) find secrets/ complete and add nothing to it.
    super::open_store(&args.dir)?;
    for (name, text) in [
        ("default.toml", DEFAULT_POLICY),
        ("workflow.toml", DEFAULT_WORKFLOW),
    ] {
        let file = args.dir.join("policies").join(name);
        if file.exists() {
            println!("kept existing {}", file.display());
        } else {
            std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
            println!("wrote {}", file.display());
        }
    }
    println!(
        "project ready in {}: run `agentward --project {} check`",
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}

/// A name for the deployment's signing key: the project's directory name
/// (checkpoint origins read `agentward/<name>`) plus a random suffix, so
/// two projects never share a key name.
fn key_name(dir: &Path) -> String {
    let base: String = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let suffix = hex::encode(rand::random::<[u8; 4]>());
    if base.is_empty() {
        format!("agentward-{suffix}")
    } else {
        format!("{base}-{suffix}")
    }
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        // secrets/ and logs/ hold what an attacker wants most; nobody else
        // needs to list any of these.
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}
