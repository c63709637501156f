//! `agentward run ROLE --input JSON`: one role, once.

use super::Failure;
use agentward::audit::{AuditLog, Durability};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::store::{MemoryStore, SecretAttributes, SecretValue};
use anyhow::{anyhow, Context};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The role to run (planner, implementer, reviewer, tester, researcher, domain-specialist).
    role: String,
    /// The role's input, as JSON.
    #[arg(long, default_value = "{}")]
    input: String,
    /// The policy file (default: PROJECT/policies/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The change this run belongs to.
    #[arg(long, default_value = "")]
    change_id: String,
    /// Secrets to load into the in-memory store, as JSON:
    /// {"npm/token": {"value": "...", "expires": "2026-12-01T00:00:00Z"}}.
    #[arg(long)]
    seed: Option<PathBuf>,
}

#[derive(Deserialize)]
struct SeedSecret {
    value: String,
    #[serde(flatten)]
    attributes: SecretAttributes,
}

pub(crate) fn run(project: &Path, args: Args) -> Result<(), Failure> {
    let role = RoleName::parse(&args.role).ok_or_else(|| {
        let names: Vec<_> = RoleName::ALL.iter().map(|r| r.as_str()).collect();
        anyhow!(
            "unknown role `{}`; roles are: {}",
            args.role,
            names.join(", ")
        )
    })?;
    serde_json::from_str::<serde_json::Value>(&args.input).context("--input is not valid JSON")?;
    let policy = Policy::load(&super::policy_path(project, args.policy))?;
    let store = Arc::new(MemoryStore::new());
    if let Some(seed) = &args.seed {
        load_seed(&store, seed)?;
    }
    let keys = super::audit_keys(project)?;
    let log = Arc::new(AuditLog::open_dir(
        &project.join("logs"),
        Durability::GroupCommit,
    )?);
    let redactor = agentward::audit::Redactor::new(*keys.hmac);
    let host = super::host(project, log.clone(), store, redactor)?;
    let prepared = host.prepare(&policy, role)?;
    let task = Task {
        change_id: args.change_id,
        input: args.input,
    };
    let result = host.run(&prepared, &task);
    // Signed whether the run succeeded or not: a failed run's calls are
    // evidence too.
    log.checkpoint(&keys)?;
    let outcome = result.map_err(|e| Failure::Failed(e.into()))?;
    let output: serde_json::Value = serde_json::from_str(&outcome.report.output)
        .unwrap_or(serde_json::Value::String(outcome.report.output.clone()));
    let printed = serde_json::json!({
        "role": role.as_str(),
        "component": prepared.digest(),
        "summary": outcome.report.summary,
        "output": output,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "proposals": outcome.proposals,
        "fuel_used": outcome.fuel_used,
        "duration_ms": outcome.duration.as_secs_f64() * 1000.0,
    });
    println!("{}", serde_json::to_string_pretty(&printed).expect("json"));
    Ok(())
}

fn load_seed(store: &MemoryStore, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading seed {}", path.display()))?;
    let secrets: BTreeMap<String, SeedSecret> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a seed file (see `agentward run --help`)",
            path.display()
        )
    })?;
    for (secret_path, seed) in secrets {
        store.insert_current(&secret_path, SecretValue::new(seed.value), seed.attributes);
    }
    Ok(())
}
