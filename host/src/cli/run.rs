//! `agentward run ROLE --input JSON`: one role, once.

use super::Failure;
use agentward::audit::{AuditLog, Durability};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::store::overlay::DryRunStore;
use agentward::store::SecretStore;
use anyhow::{anyhow, Context};
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
    /// Let the role run against the project's secrets, but keep its writes
    /// in memory: nothing reaches secrets/. The planned changes are printed
    /// as the report's "dry_run" array.
    #[arg(long)]
    dry_run: bool,
    /// When the role traps or overflows its stack, print where: the
    /// guest's wasm backtrace (the error itself is one line).
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    store: super::store_args::StoreArgs,
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
    let policy = Policy::load(&super::policy_path(project, args.policy), project)?;
    // By default the project's embedded store (`agentward secrets import`
    // fills it); `--store openbao` a server.
    let real_store: Arc<dyn SecretStore> = args.store.open(project)?;
    let dry = args
        .dry_run
        .then(|| Arc::new(DryRunStore::new(real_store.clone())));
    let store: Arc<dyn SecretStore> = match &dry {
        Some(dry) => dry.clone(),
        None => real_store.clone(),
    };
    let keys = super::audit_keys(project)?;
    let log = Arc::new(AuditLog::open_dir(
        &project.join("logs"),
        Durability::BeforeEffects,
    )?);
    let workflow_file = super::workflow_path(project, None);
    let workflow = match workflow_file.exists() {
        true => Some(agentward::orchestrator::workflow::Workflow::load(
            &workflow_file,
        )?),
        false => None,
    };
    super::policy::admit(
        project,
        &policy,
        workflow.as_ref(),
        real_store.as_ref(),
        &log,
        dry.is_some(),
    )?;
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
    let planned: Option<Vec<String>> = dry
        .as_ref()
        .map(|dry| dry.report().iter().map(ToString::to_string).collect());
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            // A failed dry run may still have planned writes: show them.
            for line in planned.iter().flatten() {
                eprintln!("dry run: {line}");
            }
            if let Some(backtrace) = e.backtrace().filter(|_| args.verbose) {
                eprintln!("{backtrace}");
            }
            return Err(Failure::Failed(e.into()));
        }
    };
    let output: serde_json::Value = serde_json::from_str(&outcome.report.output)
        .unwrap_or(serde_json::Value::String(outcome.report.output.clone()));
    let mut printed = serde_json::json!({
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
    if let Some(planned) = planned {
        printed["dry_run"] = serde_json::json!(planned);
    }
    println!("{}", serde_json::to_string_pretty(&printed).expect("json"));
    Ok(())
}
