//! Reviewing a policy. `agentward policy diff OLD NEW` lists every grant a
//! change widens or narrows ([`agentward::policy::diff`]). `agentward
//! policy pin` writes the sha256 of every component the policy names into
//! it (`component = { name = "…", sha256 = "…" }`), so that a component
//! changed after review is refused before it is compiled, with both
//! digests named; only the `component` values change, comments and layout
//! stay as the operator wrote them.

use super::Failure;
use agentward::policy::Policy;
use agentward::runtime::artifacts;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// List every grant NEW widens or narrows against OLD (a capability,
    /// path, origin, method, limit, component or pin), in words or --json.
    Diff(DiffArgs),
    /// Write the sha256 of each role's component into the policy; a
    /// component that differs later is refused before it is compiled.
    Pin(PinArgs),
}

#[derive(clap::Args)]
pub(crate) struct DiffArgs {
    /// The policy as it was (reviewed and approved).
    old: PathBuf,
    /// The policy as it would be.
    new: PathBuf,
    /// One JSON array of changes: role, direction (widened, narrowed,
    /// changed), field, what.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub(crate) struct PinArgs {
    /// The policy file (default: PROJECT/policies/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
}

pub(crate) fn run(project: &Path, command: Command) -> Result<(), Failure> {
    match command {
        Command::Diff(args) => diff(project, args),
        Command::Pin(args) => pin(project, args),
    }
}

fn diff(project: &Path, args: DiffArgs) -> Result<(), Failure> {
    use agentward::policy::diff::Direction;
    let old = Policy::load(&args.old, project)?;
    let new = Policy::load(&args.new, project)?;
    let changes = agentward::policy::diff::diff(&old, &new);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&changes).expect("changes serialise")
        );
        return Ok(());
    }
    for c in &changes {
        let direction = match c.direction {
            Direction::Widened => "WIDENED",
            Direction::Narrowed => "narrowed",
            Direction::Changed => "CHANGED",
        };
        println!(
            "{direction:<9} {:<18} {} {}",
            c.role.as_str(),
            c.field,
            c.what
        );
    }
    let count = |d| changes.iter().filter(|c| c.direction == d).count();
    println!(
        "{} widened, {} narrowed, {} changed",
        count(Direction::Widened),
        count(Direction::Narrowed),
        count(Direction::Changed)
    );
    Ok(())
}

fn pin(project: &Path, args: PinArgs) -> Result<(), Failure> {
    let path = super::policy_path(project, args.policy);
    let policy = Policy::load(&path, project)?;
    let mut text = policy.source.to_string();
    // From the end of the file back, so earlier spans stay where they are.
    let mut roles: Vec<_> = policy.roles.values().collect();
    roles.sort_by_key(|r| std::cmp::Reverse(r.component_span.start));
    let mut lines = Vec::new();
    for role in roles {
        let file = artifacts::resolve(&role.component, project);
        let bytes = std::fs::read(&file).with_context(|| {
            format!(
                "role {}: component {} cannot be read\n  fix: build the role components or correct `component = …` in {}",
                role.role,
                artifacts::display(&file),
                path.display()
            )
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let name = toml::Value::String(role.component.clone()).to_string();
        text.replace_range(
            role.component_span.clone(),
            &format!("{{ name = {name}, sha256 = \"{digest}\" }}"),
        );
        let was = match role.sha256.as_deref() {
            None => "newly pinned".to_string(),
            Some(old) if old == digest => "unchanged".to_string(),
            Some(old) => format!("was {old}"),
        };
        lines.push(format!(
            "{:<18} {} sha256:{digest} ({was})",
            role.role.as_str(),
            artifacts::display(&file)
        ));
    }
    // What is written must read back as the same policy, pinned.
    Policy::parse(&path, &text, project)?;
    let Some(name) = path.file_name() else {
        return Err(anyhow::anyhow!("{} is not a file path", path.display()).into());
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = name.to_string_lossy();
    agentward::durable::replace_file(dir, &name, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    for line in lines.iter().rev() {
        println!("{line}");
    }
    println!("pinned {} components in {}", lines.len(), path.display());
    Ok(())
}
