//! Subcommands, one module each.

mod audit;
mod check;
mod completions;
mod exec;
mod init;
mod new;
mod policy;
mod precompile;
mod report;
mod rotate;
mod run;
mod secrets;
mod store_args;
mod witness;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "agentward",
    version,
    about = "Runs AI-agent roles as capability-scoped WebAssembly components"
)]
struct Cli {
    /// The project directory (secrets/, policies/, logs/, manifests/).
    #[arg(long, global = true, default_value = ".")]
    project: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a project: secrets/, policies/ (with the default policy), logs/,
    /// manifests/, and keys/ (audit signing key, store key-encryption key).
    Init(init::Args),
    /// List, per role, what its component imports against what the policy grants.
    Check(check::Args),
    /// Run one role once and print its report as JSON.
    Run(run::Args),
    /// Import secrets into the project's store, or list them (never their values).
    #[command(subcommand)]
    Secrets(secrets::Command),
    /// Verify the audit log, render its timeline, or recover it after a crash.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Plan and run a rotation of what is due by cadence, or of one secret
    /// on a suspected breach (exit 3: waiting for approvals or the window).
    Rotate(rotate::RotateArgs),
    /// Continue a change after a crash, an approval or the window opening.
    Resume(rotate::ResumeArgs),
    /// Sign a change's plan hash as an approver.
    Approve(rotate::ApproveArgs),
    /// Print a change's plan, approvals and per-secret states.
    Show(rotate::ShowArgs),
    /// Start a new role from a template (`new role NAME --lang rust|python|javascript`).
    #[command(subcommand)]
    New(new::Command),
    /// Manage approver keys.
    #[command(subcommand)]
    Approver(rotate::ApproverCommand),
    /// Review a policy: what a change to it widens or narrows (`diff`), pin
    /// the components it names to their sha256 (`pin`), sign it as an
    /// approver (`approve`).
    #[command(subcommand)]
    Policy(policy::Command),
    /// Compile every role's component for this machine into the component
    /// cache (or --out DIR), so a CI runner that restores it compiles nothing.
    Precompile(precompile::Args),
    /// Print the shell completion script for SHELL, e.g.
    /// `agentward completions bash > /etc/bash_completion.d/agentward`.
    Completions(completions::CompletionsArgs),
    /// Write the man pages (`make install` does it for you).
    Man(completions::ManArgs),
}

/// A failure and the exit code it maps to.
pub(crate) enum Failure {
    /// A role, a check or an effect failed: exit 1.
    Failed(anyhow::Error),
    /// The input was wrong (policy, flags, files): exit 2.
    BadInput(anyhow::Error),
    /// A failure with its own documented exit code (`audit verify`).
    Code(u8, anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::BadInput(error.into())
    }
}

pub(crate) fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("AGENTWARD_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Check(args) => check::run(&cli.project, args),
        Command::Run(args) => run::run(&cli.project, args),
        Command::Secrets(command) => secrets::run(&cli.project, command),
        Command::Audit(command) => audit::run(&cli.project, command),
        Command::Rotate(args) => rotate::rotate(&cli.project, args),
        Command::Resume(args) => rotate::resume(&cli.project, args),
        Command::Approve(args) => rotate::approve(&cli.project, args),
        Command::Show(args) => rotate::show(&cli.project, args),
        Command::Approver(command) => rotate::approver(command),
        Command::Policy(command) => policy::run(&cli.project, command),
        Command::New(command) => new::run(&cli.project, command),
        Command::Precompile(args) => precompile::run(&cli.project, args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Failed(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::BadInput(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Code(code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

/// The policy to use: `--policy`, or the project's default.
pub(crate) fn policy_path(project: &std::path::Path, policy: Option<PathBuf>) -> PathBuf {
    policy.unwrap_or_else(|| project.join("policies/default.toml"))
}

pub(crate) fn workflow_path(project: &std::path::Path, workflow: Option<PathBuf>) -> PathBuf {
    workflow.unwrap_or_else(|| project.join("policies/workflow.toml"))
}

/// A host for CLI commands: precompiled components cached per user, secret
/// values redacted under the deployment's audit key.
pub(crate) fn host(
    project: &std::path::Path,
    sink: std::sync::Arc<dyn agentward::audit::EventSink>,
    store: std::sync::Arc<dyn agentward::store::SecretStore>,
    redactor: agentward::audit::Redactor,
) -> Result<agentward::runtime::Host, Failure> {
    host_for(project, sink, store, redactor, None)
}

/// [`host`], with room for `roles` role instances at once if that is more
/// than the default (a rotation's items in flight).
pub(crate) fn host_for(
    project: &std::path::Path,
    sink: std::sync::Arc<dyn agentward::audit::EventSink>,
    store: std::sync::Arc<dyn agentward::store::SecretStore>,
    redactor: agentward::audit::Redactor,
    roles: Option<usize>,
) -> Result<agentward::runtime::Host, Failure> {
    let mut config = agentward::runtime::HostConfig::new(project);
    config.cache_dir = cache_dir();
    if let Some(roles) = roles {
        config.max_concurrent_roles = config.max_concurrent_roles.max(roles as u32);
    }
    Ok(agentward::runtime::Host::new(
        config,
        sink,
        store,
        std::sync::Arc::new(redactor),
    )?)
}

/// Where `agentward init` puts the audit keys.
pub(crate) fn keys_dir(project: &std::path::Path) -> PathBuf {
    project.join("keys")
}

/// The key-encryption key of the project's embedded secret store.
pub(crate) fn store_kek(project: &std::path::Path) -> PathBuf {
    keys_dir(project).join("store-kek.key")
}

/// The project's embedded secret store: PROJECT/secrets/, sealed under
/// PROJECT/keys/store-kek.key. A missing or too-open key is bad input
/// (exit 2), with the store's own fix.
pub(crate) fn open_store(
    project: &std::path::Path,
) -> Result<std::sync::Arc<agentward::store::EmbeddedStore>, Failure> {
    let kek = store_kek(project);
    let dir = project.join("secrets");
    agentward::store::EmbeddedStore::open(&dir, &kek)
        .map(std::sync::Arc::new)
        .map_err(|e| {
            let hint = if kek.exists() {
                String::new()
            } else {
                format!(
                    " (for a new project, `agentward init {}` creates the key)",
                    project.display()
                )
            };
            Failure::BadInput(anyhow::Error::new(e).context(format!(
                "opening the secret store in {}{hint}",
                dir.display()
            )))
        })
}

pub(crate) fn audit_keys(
    project: &std::path::Path,
) -> Result<agentward::audit::AuditKeys, Failure> {
    Ok(agentward::audit::AuditKeys::load(&keys_dir(project))?)
}

pub(crate) fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AGENTWARD_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("agentward/components"))
}
