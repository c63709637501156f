//! Implementer: mints a new credential, stores it as the pending version and
//! stages the configuration change that will use it.
//!
//! Input: `{"path": "npm/token", "length": 40, "npmrc": {"root": "repos", "file": "app/.npmrc"}}`.
//! The value never leaves the host again: the report carries only the
//! version number, and the staged `.npmrc` refers to `${NPM_TOKEN}`.

use agentward_sdk::{export_role, secrets_write, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    path: String,
    #[serde(default = "default_length")]
    length: usize,
    npmrc: Option<NpmrcTarget>,
}

#[derive(Deserialize)]
struct NpmrcTarget {
    root: String,
    file: String,
}

fn default_length() -> usize {
    40
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn mint(length: usize) -> Result<String, String> {
    // Bytes at or above `limit` are rejected so every character is equally
    // likely (256 is not a multiple of 62).
    let limit = (256 - 256 % ALPHABET.len()) as u8;
    let mut token = String::from("npm_");
    let mut random = [0u8; 64];
    while token.len() < length + 4 {
        getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
        for byte in random
            .iter()
            .filter(|b| **b < limit)
            .take(length + 4 - token.len())
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

struct Implementer;

impl Role for Implementer {
    fn run(task: Task) -> Result<Report, String> {
        let input: Input =
            serde_json::from_str(&task.input).map_err(|e| format!("implementer input: {e}"))?;
        let token = mint(input.length)?;
        let version = secrets_write::put_pending(&input.path, &token)
            .map_err(|e| format!("storing pending version: {}", e.message()))?;
        let mut staged = Vec::new();
        if let Some(target) = input.npmrc {
            let current = workspace::read_file(&target.root, &target.file)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            workspace::propose_change(&target.root, &target.file, stage_npmrc(&current).as_bytes())
                .map_err(|e| format!("staging {}: {}", target.file, e.message()))?;
            staged.push(target.file);
        }
        agentward_sdk::info(&format!(
            "stored version {version} of {} as pending",
            input.path
        ));
        Ok(Report {
            summary: format!("minted version {version} of {} (pending)", input.path),
            output: serde_json::json!({ "path": input.path, "version": version, "staged": staged })
                .to_string(),
        })
    }
}

export_role!(Implementer);
