//! `agentward check`: every role's imports against its grants, and the
//! workflow against the policy.

use super::Failure;
use agentward::audit::{MemorySink, Redactor};
use agentward::policy::Policy;
use agentward::runtime::artifacts;
use agentward::store::MemoryStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file (default: PROJECT/policies/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The workflow file (default: PROJECT/policies/workflow.toml, if it exists).
    #[arg(long, conflicts_with = "no_workflow")]
    workflow: Option<PathBuf>,
    /// Check the policy alone, e.g. one that grants a single role for
    /// `agentward run` and is never used for a rotation.
    #[arg(long)]
    no_workflow: bool,
}

pub(crate) fn run(project: &Path, args: Args) -> Result<(), Failure> {
    let policy = Policy::load(&super::policy_path(project, args.policy), project)?;
    // Nothing runs, so nothing is recorded and no audit key is needed.
    let host = super::host(
        project,
        Arc::new(MemorySink::new()),
        Arc::new(MemoryStore::new()),
        Redactor::ephemeral(),
    )?;
    println!("policy {}", policy.path.display());
    let mut problems = Vec::new();
    let mut digests = Vec::new();
    let mut rows = vec![[
        "ROLE".to_string(),
        "IMPORTS".to_string(),
        "GRANTED".to_string(),
        "STATUS".to_string(),
    ]];
    for (role, role_policy) in &policy.roles {
        let (imports, status) = match host.inspect(role_policy) {
            Err(e) => ("?".to_string(), Err(e.to_string())),
            Ok(report) => {
                digests.push(report.digest.clone());
                let used = report.capabilities_used();
                let names = used.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
                // `prepare` applies every link-time rule the run would.
                let status = host
                    .prepare(&policy, *role)
                    .map(|_| {
                        let unused: Vec<_> = report
                            .granted
                            .iter()
                            .filter(|c| !used.contains(c))
                            .map(|c| c.name())
                            .collect();
                        if unused.is_empty() {
                            "ok".to_string()
                        } else {
                            format!("ok (granted, not imported: {})", unused.join(", "))
                        }
                    })
                    .map_err(|e| e.to_string());
                (
                    format!("{names} [{}]", artifacts::display(&report.component)),
                    status,
                )
            }
        };
        let granted = role_policy
            .grants
            .granted()
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ");
        let status = match status {
            Ok(status) => status,
            Err(message) => {
                problems.push(message);
                "MISMATCH".to_string()
            }
        };
        rows.push([role.to_string(), imports, granted, status]);
    }
    print_table(&rows);
    print_cache(&host, &digests);
    let workflow = args.workflow.or_else(|| {
        Some(project.join("policies/workflow.toml")).filter(|p| !args.no_workflow && p.exists())
    });
    let role_problems = problems.len();
    let mut summary = Vec::new();
    if role_problems > 0 {
        summary.push(format!(
            "{role_problems} of {} roles do not match {}",
            policy.roles.len(),
            policy.path.display()
        ));
    }
    if let Some(path) = workflow {
        let workflow = agentward::orchestrator::workflow::Workflow::load(&path)?;
        match workflow.check_against(&policy) {
            Ok(()) => println!("workflow {} fits the policy", path.display()),
            Err(problem) => {
                summary.push(format!("workflow {} does not fit it", path.display()));
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        println!("all {} roles match their grants", policy.roles.len());
        return Ok(());
    }
    for problem in &problems {
        eprintln!("\n{problem}");
    }
    Err(Failure::Failed(anyhow::anyhow!("{}", summary.join("; "))))
}

/// Names the cache files that are no use here: stale (the policy names no
/// such component any more) or foreign (another engine compiled them, so
/// they are never loaded and every run compiles again).
fn print_cache(host: &agentward::runtime::Host, digests: &[String]) {
    use agentward::runtime::CacheState;
    let entries = host.survey_cache(digests);
    let current = entries
        .iter()
        .filter(|e| e.state == CacheState::Current)
        .count();
    println!(
        "component cache: {current} of {} roles' components precompiled for this engine",
        digests.len()
    );
    for entry in entries.iter().filter(|e| e.state != CacheState::Current) {
        let why = match entry.state {
            // The cache is per user, so another project's policy may still
            // use it: name it, and leave the deleting to the operator.
            CacheState::Stale => "stale: no component of this policy has this digest (an older build, or another policy's)",
            _ => "foreign: compiled by another engine (wasmtime version, settings or CPU); it is never loaded, run `agentward precompile` on this machine",
        };
        println!("  {}: {why}", entry.file.display());
    }
}

pub(crate) fn print_table<const N: usize>(rows: &[[String; N]]) {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}
