//! Reviewing a policy. `agentward policy diff OLD NEW` lists every grant a
//! change widens or narrows ([`agentward::policy::diff`]). `agentward
//! policy pin` writes the sha256 of every component the policy names into
//! it (`component = { name = "…", sha256 = "…" }`), so that a component
//! changed after review is refused before it is compiled, with both
//! digests named; only the `component` values change, comments and layout
//! stay as the operator wrote them.

use super::Failure;
use agentward::audit::{AuditLog, CallEvent, Durability, EventSink};
use agentward::orchestrator::policy_review::{self, Review};
use agentward::orchestrator::workflow::Workflow;
use agentward::policy::Policy;
use agentward::runtime::artifacts;
use agentward::store::SecretStore;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// List every grant NEW widens or narrows against OLD (a capability,
    /// path, origin, method, limit, component or pin), in words or --json.
    Diff(DiffArgs),
    /// Write the sha256 of each role's component into the policy; a
    /// component that differs later is refused before it is compiled.
    Pin(PinArgs),
    /// Sign the policy in force as one of the approvers the workflow's
    /// [approvals.policy] names: a policy that widens a grant beyond the
    /// last approved one runs only once N of them have.
    Approve(ApproveArgs),
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["key", "ssh_signature", "print_message"])))]
pub(crate) struct ApproveArgs {
    /// The policy file (default: PROJECT/policies/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The workflow file (default: PROJECT/policies/workflow.toml).
    #[arg(long)]
    workflow: Option<PathBuf>,
    /// The approver's private key (`agentward approver new NAME`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// An SSH signature of the message --print-message prints, made with
    /// `ssh-keygen -Y sign -n agentward-approval`.
    #[arg(long, value_name = "FILE")]
    ssh_signature: Option<PathBuf>,
    /// Print the exact message an approver signs for this policy.
    #[arg(long)]
    print_message: bool,
    /// The policy hash the approver reviewed; refused if the file's differs.
    #[arg(long)]
    policy_hash: Option<String>,
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
        Command::Approve(args) => approve(project, args),
    }
}

fn approve(project: &Path, args: ApproveArgs) -> Result<(), Failure> {
    let policy = Policy::load(&super::policy_path(project, args.policy), project)?;
    let hash = policy.hash();
    let approved = policy_review::Approved::new(project);
    if args.print_message {
        let message = approved.message(&hash).map_err(anyhow::Error::from)?;
        std::io::stdout().write_all(&message)?;
        return Ok(());
    }
    let workflow = Workflow::load(&super::workflow_path(project, args.workflow))?;
    let signed_by =
        super::rotate::SignedBy::load(args.key.as_deref(), args.ssh_signature.as_deref())?;
    let signature = signed_by.signature();
    let missing = approved
        .approve(&workflow, &policy, signature, args.policy_hash.as_deref())
        .map_err(|e| Failure::BadInput(e.into()))?;
    let keys = super::audit_keys(project)?;
    let log = AuditLog::open_dir(&project.join("logs"), Durability::EachRecord)?;
    let mut record = serde_json::Map::new();
    record.insert("policy".into(), hash.clone().into());
    record.insert("missing".into(), missing.len().into());
    log.record(&CallEvent::by_host(
        "",
        "operator",
        "",
        "policy.approve",
        record,
        "ok",
    ))?;
    log.checkpoint(&keys)?;
    println!("approved policy {hash} ({})", policy.path.display());
    if missing.is_empty() {
        println!("approvals complete: the policy is in force");
    }
    for line in missing {
        println!("still missing: {line}");
    }
    Ok(())
}

/// Runs nothing under a policy that widens a grant beyond the last
/// approved one until its approvals are in. A policy that only narrows
/// takes effect now: first the narrowed roles' outstanding store
/// credentials are ended (an OpenBao child token of a run still going, or
/// of one whose process died), then it becomes the policy in force, on
/// record either way. A dry run changes neither: it only refuses what a
/// live run would.
pub(crate) fn admit(
    project: &Path,
    policy: &Policy,
    workflow: Option<&Workflow>,
    store: &dyn SecretStore,
    log: &AuditLog,
    dry_run: bool,
) -> Result<(), Failure> {
    let Some(workflow) = workflow else {
        return Ok(());
    };
    let approved = policy_review::Approved::new(project);
    let review = approved
        .review(workflow, policy)
        .map_err(anyhow::Error::from)?;
    match review {
        Review::Ungated | Review::Approved => Ok(()),
        Review::Narrowed { .. } if dry_run => Ok(()),
        Review::Narrowed { roles } => {
            let mut revoked = 0;
            for role in &roles {
                revoked += store
                    .revoke_role_credentials(role.as_str())
                    .with_context(|| {
                        format!(
                            "ending role {role}'s store credentials after the policy narrowed it"
                        )
                    })?;
            }
            let mut record = serde_json::Map::new();
            record.insert("policy".into(), policy.hash().into());
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            record.insert("roles".into(), names.into());
            record.insert("revoked".into(), revoked.into());
            log.record(&CallEvent::by_host(
                "",
                "operator",
                "",
                "policy.narrowed",
                record,
                "ok",
            ))?;
            log.sync()?;
            approved.adopt(policy).map_err(anyhow::Error::from)?;
            Ok(())
        }
        Review::Pending {
            hash,
            approved: current,
            widened,
            missing,
        } => {
            let mut message = format!("policy {} ({hash}) ", policy.path.display());
            match &current {
                Some(current) => {
                    message += &format!("widens grants beyond the approved policy {current}:")
                }
                None => message += "is not approved, and no policy of this project has been yet:",
            }
            for c in &widened {
                message += &format!(
                    "\n  {:?} {} {} {}",
                    c.direction,
                    c.role.as_str(),
                    c.field,
                    c.what
                );
            }
            for line in &missing {
                message += &format!("\n  still missing: {line}");
            }
            let review = match &current {
                Some(current) => format!(
                    "review it (`agentward policy diff {} {}`), then ",
                    approved.file_of(current).display(),
                    policy.path.display()
                ),
                None => String::new(),
            };
            message += &format!(
                "\n  fix: {review}approve it: `agentward policy approve --key KEY` or `--ssh-signature FILE` (see `--print-message`), by the approvers [approvals.policy] in {} names",
                workflow.path.display()
            );
            Err(Failure::Code(3, anyhow::anyhow!(message)))
        }
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
