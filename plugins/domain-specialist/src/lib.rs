//! Domain specialist: maps repositories to the npm scopes and registries
//! their `.npmrc` files use, so a rotation knows what it touches.
//!
//! Input: `{"root": "repos"}`; every directory under the root is a repository.

use agentward_sdk::{export_role, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    root: String,
}

/// `(scope, registry)` pairs and token-bearing registries of an `.npmrc`.
fn registries(npmrc: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut scopes = Vec::new();
    let mut authenticated = Vec::new();
    for line in npmrc.lines().map(str::trim) {
        if let Some((key, value)) = line.split_once('=') {
            if let Some(scope) = key.strip_suffix(":registry") {
                scopes.push((scope.to_string(), value.to_string()));
            } else if let Some(registry) = key.strip_suffix(":_authToken") {
                authenticated.push(registry.to_string());
            }
        }
    }
    (scopes, authenticated)
}

struct DomainSpecialist;

impl Role for DomainSpecialist {
    fn run(task: Task) -> Result<Report, String> {
        let input: Input = serde_json::from_str(&task.input)
            .map_err(|e| format!("domain-specialist input: {e}"))?;
        let repos = workspace::list_dir(&input.root, "").map_err(|e| e.message().to_string())?;
        let mut map = Vec::new();
        for repo in repos {
            let Ok(bytes) = workspace::read_file(&input.root, &format!("{repo}/.npmrc")) else {
                continue;
            };
            let (scopes, authenticated) = registries(&String::from_utf8_lossy(&bytes));
            map.push(serde_json::json!({ "repo": repo, "scopes": scopes, "token_registries": authenticated }));
        }
        Ok(Report {
            summary: format!("{} repositories use npm registries", map.len()),
            output: serde_json::json!({ "repos": map }).to_string(),
        })
    }
}

export_role!(DomainSpecialist);
