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
const LAYOUT: [&str; 4] = ["secrets", "policies", "logs", "manifests"];

pub(crate) fn run(args: Args) -> Result<(), Failure> {
    for sub in LAYOUT {
        create_dir(&args.dir.join(sub))?;
    }
    let policy = args.dir.join("policies/default.toml");
    if policy.exists() {
        println!("kept existing {}", policy.display());
    } else {
        std::fs::write(&policy, DEFAULT_POLICY)
            .with_context(|| format!("writing {}", policy.display()))?;
        println!("wrote {}", policy.display());
    }
    println!(
        "project ready in {}: run `agentward --project {} check`",
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
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
