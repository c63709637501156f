//! `agentward secrets …`: seed the project's embedded store, list what it holds.

use super::Failure;
use agentward::store::overlay::DryRunStore;
use agentward::store::{Label, SecretAttributes, SecretStore, SecretValue, StoreError};
use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Create each secret of a JSON seed file as version 1, labelled current:
    /// {"npm/token": {"value": "...", "expires": "2026-12-01T00:00:00Z", "owner": "..."}}.
    /// Secrets that already exist are left alone.
    Import {
        file: PathBuf,
        /// Plan only: print what would be written, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: super::store_args::StoreArgs,
    },
    /// Run a command with secrets in its environment, e.g.
    /// `secrets exec --env NPM_TOKEN=npm/bot-token -- npm install`;
    /// with --watch, keep it running and restart it when a secret changes.
    /// Values reach only the child's environment (never the terminal, a
    /// file or the log); the audit log records who used which secret.
    Exec(super::exec::ExecArgs),
    /// Paths, versions, labels and expiry of the secrets under PREFIX; never a value.
    List {
        #[arg(default_value = "")]
        prefix: String,
        #[command(flatten)]
        store: super::store_args::StoreArgs,
    },
}

#[derive(Deserialize)]
struct SeedSecret {
    value: String,
    #[serde(flatten)]
    attributes: SecretAttributes,
}

pub(crate) fn run(project: &Path, command: Command) -> Result<(), Failure> {
    match command {
        Command::Import {
            file,
            dry_run,
            store,
        } => import(store.open(project)?, &file, dry_run),
        Command::List { prefix, store } => list(&*store.open(project)?, &prefix),
        Command::Exec(args) => super::exec::run(project, &*args.store.open(project)?, args),
    }
}

fn import(real: Arc<dyn SecretStore>, file: &Path, dry_run: bool) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading seed {}", file.display()))?;
    let secrets: BTreeMap<String, SeedSecret> = serde_json::from_str(&text).map_err(|e| {
        // serde_json's message can quote the input (`invalid type: string
        // "..."`), which may be a value: report only where and what kind.
        anyhow::anyhow!(
            "{}:{}:{}: not a seed file ({:?} error); expected \
             {{\"path\": {{\"value\": \"...\", \"expires\": \"...\", \"owner\": \"...\"}}}}",
            file.display(),
            e.line(),
            e.column(),
            e.classify()
        )
    })?;
    let dry = dry_run.then(|| Arc::new(DryRunStore::new(real.clone())));
    let store: &dyn SecretStore = match &dry {
        Some(dry) => &**dry,
        None => &*real,
    };
    for (path, seed) in &secrets {
        for origin in &seed.attributes.origins {
            check_origin(file, path, origin)?;
        }
    }
    let verb = if dry_run { "would import" } else { "imported" };
    for (path, seed) in secrets {
        match store.describe(&path) {
            Ok(meta) => {
                println!(
                    "kept existing {path} ({} versions); rotate it instead of importing",
                    meta.versions.len()
                );
                continue;
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(Failure::Failed(e.into())),
        }
        let value = SecretValue::new(seed.value);
        let version = store
            .put_pending(&path, &value, None)
            .map_err(|e| Failure::Failed(e.into()))?;
        store
            .promote(&path, version, None)
            .map_err(|e| Failure::Failed(e.into()))?;
        store
            .set_attributes(&path, &seed.attributes)
            .map_err(|e| Failure::Failed(e.into()))?;
        println!("{verb} {path} as version {version}, labelled current");
    }
    if let Some(dry) = dry {
        println!("dry run: nothing was written; planned changes:");
        for change in dry.report() {
            println!("  {change}");
        }
    }
    Ok(())
}

/// A secret's `origins` entry must be an origin exactly as a grant writes
/// it, or handles to it would match nothing and fail every request.
fn check_origin(file: &Path, path: &str, origin: &str) -> Result<(), Failure> {
    let normalised = url::Url::parse(origin)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.origin().ascii_serialization());
    if normalised.as_deref() == Some(origin) {
        return Ok(());
    }
    Err(Failure::BadInput(anyhow::anyhow!(
        "{}: secret {path}: origin {origin:?} is not scheme://host[:port]\n  fix: write it as the http grant does, e.g. \"https://registry.example.com\" (no path, no trailing slash, default port omitted)",
        file.display()
    )))
}

fn list(store: &dyn SecretStore, prefix: &str) -> Result<(), Failure> {
    let mut rows = vec![[
        "PATH".to_string(),
        "VERSIONS".to_string(),
        "LABELS".to_string(),
        "EXPIRES".to_string(),
        "ORIGINS".to_string(),
    ]];
    for path in store.list(prefix)? {
        let meta = store.describe(&path)?;
        let labels: Vec<String> = Label::ALL
            .into_iter()
            .filter_map(|label| {
                meta.versions
                    .iter()
                    .find(|v| v.labels.contains(&label))
                    .map(|v| format!("{}={}", label.as_str(), v.version))
            })
            .collect();
        rows.push([
            path,
            meta.versions.len().to_string(),
            if labels.is_empty() {
                "-".to_string()
            } else {
                labels.join(" ")
            },
            meta.attributes.expires.unwrap_or_else(|| "-".to_string()),
            if meta.attributes.origins.is_empty() {
                "-".to_string()
            } else {
                meta.attributes.origins.join(" ")
            },
        ]);
    }
    let count = rows.len() - 1;
    super::check::print_table(&rows);
    println!("{count} secrets");
    Ok(())
}
