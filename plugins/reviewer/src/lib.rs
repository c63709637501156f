//! Reviewer: checks staged configuration for plaintext credentials.
//!
//! Input: `{"root": "repos", "files": ["app/.npmrc"]}`. A token line must
//! refer to an environment variable (`${NPM_TOKEN}`), never hold a literal.

use agentward_sdk::{export_role, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    root: String,
    files: Vec<String>,
}

/// Lines of `text` that carry a literal credential.
fn plaintext_tokens(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let (_, value) = line
                .split_once("_authToken=")
                .or_else(|| line.split_once("_password="))?;
            let value = value.trim();
            let is_reference = value.starts_with("${") && value.ends_with('}');
            (!value.is_empty() && !is_reference).then_some(i + 1)
        })
        .collect()
}

struct Reviewer;

impl Role for Reviewer {
    fn run(task: Task) -> Result<Report, String> {
        let input: Input =
            serde_json::from_str(&task.input).map_err(|e| format!("reviewer input: {e}"))?;
        let mut findings = Vec::new();
        for file in &input.files {
            let bytes = workspace::read_file(&input.root, file)
                .map_err(|e| format!("reading {file}: {}", e.message()))?;
            for line in plaintext_tokens(&String::from_utf8_lossy(&bytes)) {
                findings.push(serde_json::json!({ "file": file, "line": line, "problem": "plaintext credential" }));
            }
        }
        let approved = findings.is_empty();
        Ok(Report {
            summary: if approved {
                format!(
                    "approved: {} files, no plaintext credentials",
                    input.files.len()
                )
            } else {
                format!("rejected: {} plaintext credentials", findings.len())
            },
            output: serde_json::json!({ "approved": approved, "findings": findings }).to_string(),
        })
    }
}

export_role!(Reviewer);
