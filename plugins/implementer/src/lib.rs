//! Implementer: mints a new credential, stores it as the pending version,
//! stages the configuration that will use it, and revokes credentials the
//! orchestrator retires.
//!
//! Input: an [`ImplementTask`]; output: [`Changes`] after `mint` or
//! `stage`, [`Revocation`] after `revoke`. The value never leaves the host
//! again: the handoff carries the version number and the issuer's key, and
//! the staged `.npmrc` refers to `${NPM_TOKEN}`.
//!
//! Config (the workflow step's `input`): `issuer`, the provider (see
//! [`providers::Issuer`]; default a host-generated 40-character token);
//! `npmrc`, `.npmrc` files to stage, as `[{"root": "repos", "file":
//! "app/.npmrc"}]`; and `files`, other config files with the variable that
//! carries the secret, as `[{"root": "repos", "file": "svc/.env", "var":
//! "DATABASE_URL"}]` (see [`staging`]).

mod providers;
mod staging;

use agentward_handoff::{Changes, Check, ImplementTask, Revocation, StagedFile};
use agentward_sdk::{export_role, workspace, Report, Role, Task};
use providers::{Issuer, Rotation};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    issuer: Issuer,
    #[serde(default)]
    npmrc: Vec<StagedFile>,
    #[serde(default)]
    files: Vec<ConfigFile>,
}

fn config(value: serde_json::Value) -> Result<Config, String> {
    if value.is_null() {
        return Ok(Config::default());
    }
    serde_json::from_value(value).map_err(|e| format!("implementer config: {e}"))
}

/// A repository config file the workflow names, and the environment
/// variable that carries the secret into it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    root: String,
    file: String,
    var: String,
}

/// Proposes each file of the plan (`files`), of `npmrc` and of `files` in
/// the config as a reference to the secret (see [`staging`]); returns what
/// it staged.
fn stage(config: &Config, files: Vec<StagedFile>) -> Result<Vec<StagedFile>, String> {
    let mut targets: Vec<(StagedFile, Option<&str>)> =
        files.into_iter().map(|f| (f, None)).collect();
    for extra in &config.npmrc {
        if !targets.iter().any(|(t, _)| t == extra) {
            targets.push((extra.clone(), None));
        }
    }
    for named in &config.files {
        let staged = StagedFile {
            root: named.root.clone(),
            file: named.file.clone(),
        };
        targets.retain(|(t, _)| *t != staged);
        targets.push((staged, Some(named.var.as_str())));
    }
    let registry = config.issuer.provider().npmrc_key();
    for (target, var) in &targets {
        let current = workspace::read_file(&target.root, &target.file)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let staged = staging::reference(&target.file, &current, *var, registry.as_deref())?;
        workspace::propose_change(&target.root, &target.file, staged.as_bytes())
            .map_err(|e| format!("staging {}: {}", target.file, e.message()))?;
    }
    Ok(targets.into_iter().map(|(t, _)| t).collect())
}

fn report<T: serde::Serialize>(summary: String, output: &T) -> Result<Report, String> {
    Ok(Report {
        summary,
        output: serde_json::to_string(output).map_err(|e| e.to_string())?,
    })
}

fn mint(
    rotation: &Rotation,
    retry_since: Option<String>,
    files: Vec<StagedFile>,
    c: Config,
) -> Result<Report, String> {
    let path = rotation.path;
    let minted = c.issuer.provider().mint(rotation, retry_since.as_deref())?;
    let version = minted.version;
    agentward_sdk::info(&format!("stored version {version} of {path} as pending"));
    let changes = Changes {
        path: path.to_string(),
        version,
        credential_id: minted.credential_id,
        expires: None,
        validation: vec![Check {
            name: "stored".into(),
            passed: true,
            detail: format!("version {version} labelled pending"),
        }],
        staged: stage(&c, files)?,
    };
    report(
        format!("minted version {version} of {path} (pending)"),
        &changes,
    )
}

struct Implementer;

impl Role for Implementer {
    fn run(task: Task) -> Result<Report, String> {
        let implement: ImplementTask =
            serde_json::from_str(&task.input).map_err(|e| format!("implementer input: {e}"))?;
        match implement {
            ImplementTask::Mint {
                path,
                current_credential_id,
                retry_since,
                files,
                dry_run,
                config: c,
                ..
            } => {
                let rotation = Rotation {
                    path: &path,
                    current_credential_id: current_credential_id.as_deref(),
                    dry_run,
                };
                mint(&rotation, retry_since, files, config(c)?)
            }
            ImplementTask::Stage {
                path,
                version,
                current_credential_id,
                minted_since,
                files,
                dry_run,
                config: c,
            } => {
                let c = config(c)?;
                let rotation = Rotation {
                    path: &path,
                    current_credential_id: current_credential_id.as_deref(),
                    dry_run,
                };
                let changes = Changes {
                    path: path.clone(),
                    version,
                    credential_id: c
                        .issuer
                        .provider()
                        .identify(&rotation, minted_since.as_deref())?,
                    expires: None,
                    validation: Vec::new(),
                    staged: stage(&c, files)?,
                };
                report(
                    format!("staged files for version {version} of {path}"),
                    &changes,
                )
            }
            ImplementTask::Revoke {
                path,
                version,
                credential_id,
                dry_run,
                config: c,
            } => {
                let detail =
                    config(c)?
                        .issuer
                        .provider()
                        .revoke(&path, credential_id.as_deref(), dry_run);
                let revocation = Revocation {
                    path: path.clone(),
                    version,
                    revoked: detail.is_ok(),
                    detail: detail.unwrap_or_else(|why| why),
                };
                report(
                    format!("revocation of version {version} of {path}"),
                    &revocation,
                )
            }
        }
    }
}

export_role!(Implementer);
