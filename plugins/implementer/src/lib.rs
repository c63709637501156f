//! Implementer: mints a new credential, stores it as the pending version,
//! stages the configuration that will use it, and revokes credentials the
//! orchestrator retires.
//!
//! Input: an [`ImplementTask`]; output: [`Changes`] after `mint` or
//! `stage`, [`Revocation`] after `revoke`. The value never leaves the host
//! again: the handoff carries the version number, and the staged `.npmrc`
//! refers to `${NPM_TOKEN}`.
//!
//! Config (the workflow step's `input`): `length` of a generated token
//! (default 40), `prefix` (default `npm_`), and `npmrc`: the files to stage,
//! as `[{"root": "repos", "file": "app/.npmrc"}]`.

use agentward_handoff::{Changes, Check, ImplementTask, Revocation, StagedFile};
use agentward_sdk::{export_role, secrets_write, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_length")]
    length: usize,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default)]
    npmrc: Vec<StagedFile>,
}

fn default_length() -> usize {
    40
}

fn default_prefix() -> String {
    "npm_".into()
}

fn config(value: serde_json::Value) -> Result<Config, String> {
    let value = if value.is_null() {
        serde_json::json!({})
    } else {
        value
    };
    serde_json::from_value(value).map_err(|e| format!("implementer config: {e}"))
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn mint(prefix: &str, length: usize) -> Result<String, String> {
    // Bytes at or above `limit` are rejected so every character is equally
    // likely (256 is not a multiple of 62).
    let limit = (256 - 256 % ALPHABET.len()) as u8;
    let mut token = String::from(prefix);
    let mut random = [0u8; 64];
    while token.len() < prefix.len() + length {
        getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
        for byte in random
            .iter()
            .filter(|b| **b < limit)
            .take(prefix.len() + length - token.len())
        {
            token.push(ALPHABET[*byte as usize % ALPHABET.len()] as char);
        }
    }
    Ok(token)
}

/// `.npmrc` with the registry token line pointing at `${NPM_TOKEN}`.
fn stage_npmrc(current: &str) -> String {
    let mut lines: Vec<String> = current
        .lines()
        .map(|line| match line.split_once(":_authToken=") {
            Some((registry, _)) => format!("{registry}:_authToken=${{NPM_TOKEN}}"),
            None => line.to_string(),
        })
        .collect();
    if !lines.iter().any(|l| l.contains(":_authToken=")) {
        lines.push("//127.0.0.1:4873/:_authToken=${NPM_TOKEN}".to_string());
    }
    lines.join("\n") + "\n"
}

fn stage(config: &Config) -> Result<Vec<StagedFile>, String> {
    for target in &config.npmrc {
        let current = workspace::read_file(&target.root, &target.file)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        workspace::propose_change(&target.root, &target.file, stage_npmrc(&current).as_bytes())
            .map_err(|e| format!("staging {}: {}", target.file, e.message()))?;
    }
    Ok(config.npmrc.clone())
}

fn report<T: serde::Serialize>(summary: String, output: &T) -> Result<Report, String> {
    Ok(Report {
        summary,
        output: serde_json::to_string(output).map_err(|e| e.to_string())?,
    })
}

struct Implementer;

impl Role for Implementer {
    fn run(task: Task) -> Result<Report, String> {
        let implement: ImplementTask =
            serde_json::from_str(&task.input).map_err(|e| format!("implementer input: {e}"))?;
        match implement {
            ImplementTask::Mint {
                path, config: c, ..
            } => {
                let c = config(c)?;
                let token = mint(&c.prefix, c.length)?;
                let version = secrets_write::put_pending(&path, &token)
                    .map_err(|e| format!("storing pending version: {}", e.message()))?;
                agentward_sdk::info(&format!("stored version {version} of {path} as pending"));
                let staged = stage(&c)?;
                let changes = Changes {
                    path: path.clone(),
                    version,
                    credential_id: None,
                    expires: None,
                    validation: vec![Check {
                        name: "format".into(),
                        passed: token.len() == c.prefix.len() + c.length,
                        detail: format!("{} characters after the prefix", c.length),
                    }],
                    staged,
                };
                report(
                    format!("minted version {version} of {path} (pending)"),
                    &changes,
                )
            }
            ImplementTask::Stage {
                path,
                version,
                config: c,
                ..
            } => {
                let c = config(c)?;
                let changes = Changes {
                    path: path.clone(),
                    version,
                    credential_id: None,
                    expires: None,
                    validation: Vec::new(),
                    staged: stage(&c)?,
                };
                report(
                    format!("staged files for version {version} of {path}"),
                    &changes,
                )
            }
            ImplementTask::Revoke { path, version, .. } => {
                // A generated token has no issuer: retiring it is the
                // orchestrator's label move, and nothing here stays live.
                let revocation = Revocation {
                    path: path.clone(),
                    version,
                    revoked: true,
                    detail: "generated credential: no issuer holds it".into(),
                };
                report(format!("retired version {version} of {path}"), &revocation)
            }
        }
    }
}

export_role!(Implementer);
