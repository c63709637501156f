//! Domain specialist: maps repositories to the secrets they authenticate
//! with, so a rotation knows which files it touches.
//!
//! Input: a [`MapTask`]; output: a [`ScopeMap`]. Every directory under the
//! workspace root (config `root`, default `repos`) is a repository; its
//! `.npmrc` names registries (`//host/:_authToken=…`) and the scopes routed
//! to them (`@scope:registry=…`). Which secret serves which registry comes
//! from the scope-mapping table in the Researcher's briefing: rows
//! `| registry | scopes | secret |`. A token line for a registry the table
//! does not map is reported, not guessed at.

use agentward_handoff::{Briefing, MapTask, ScopeMap, StagedFile, Usage};
use agentward_sdk::{export_role, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_root")]
    root: String,
}

fn default_root() -> String {
    "repos".into()
}

/// `//host[:port]/path/`: how `.npmrc` keys name a registry.
fn registry_key(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let trimmed = without_scheme.trim_start_matches('/');
    let with_slash = if trimmed.ends_with('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/")
    };
    format!("//{with_slash}")
}

/// `(registry key, secret)` rows of the scope-mapping tables in the briefing.
fn mappings(briefing: &Briefing) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for doc in &briefing.documents {
        for line in doc.excerpt.lines() {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            if let [registry, _scopes, secret] = cells.as_slice() {
                if registry.contains("//") && !secret.is_empty() && !secret.starts_with('-') {
                    rows.push((registry_key(registry), secret.trim_matches('`').to_string()));
                }
            }
        }
    }
    rows
}

struct DomainSpecialist;

impl Role for DomainSpecialist {
    fn run(task: Task) -> Result<Report, String> {
        let map_task: MapTask = serde_json::from_str(&task.input)
            .map_err(|e| format!("domain-specialist input: {e}"))?;
        let config: Config = if map_task.config.is_null() {
            Config {
                root: default_root(),
            }
        } else {
            serde_json::from_value(map_task.config)
                .map_err(|e| format!("domain-specialist config: {e}"))?
        };
        let table = mappings(&map_task.briefing);
        let repos = workspace::list_dir(&config.root, "").map_err(|e| e.message().to_string())?;
        let mut map = ScopeMap::default();
        let mut unmapped = Vec::new();
        for repo in repos {
            let file = format!("{repo}/.npmrc");
            let Ok(bytes) = workspace::read_file(&config.root, &file) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            let mut scopes: Vec<(String, String)> = Vec::new();
            let mut tokens: Vec<(String, bool)> = Vec::new();
            for line in text.lines().map(str::trim) {
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                if let Some(scope) = key.strip_suffix(":registry") {
                    scopes.push((scope.to_string(), registry_key(value.trim())));
                } else if let Some(registry) = key.strip_suffix(":_authToken") {
                    tokens.push((registry_key(registry), value.trim().starts_with("${")));
                }
            }
            for (registry, uses_env) in tokens {
                let Some((_, secret)) = table.iter().find(|(r, _)| *r == registry) else {
                    unmapped.push(format!("{file} ({registry})"));
                    continue;
                };
                if !map_task
                    .prefixes
                    .iter()
                    .any(|p| secret.starts_with(p.as_str()))
                {
                    continue;
                }
                map.usages.push(Usage {
                    secret: secret.clone(),
                    scopes: scopes
                        .iter()
                        .filter(|(_, r)| *r == registry)
                        .map(|(s, _)| s.clone())
                        .collect(),
                    registry,
                    file: StagedFile {
                        root: config.root.clone(),
                        file: file.clone(),
                    },
                    uses_env,
                });
            }
        }
        if !unmapped.is_empty() {
            agentward_sdk::info(&format!(
                "token lines with no mapped secret: {}",
                unmapped.join(", ")
            ));
        }
        Ok(Report {
            summary: format!(
                "{} repository files use the rotated secrets; {} unmapped",
                map.usages.len(),
                unmapped.len()
            ),
            output: serde_json::to_string(&map).map_err(|e| e.to_string())?,
        })
    }
}

export_role!(DomainSpecialist);
