//! Reviewer: checks a change's staged files before anything is tested.
//!
//! Input: a [`ReviewTask`]; output: a [`SignOff`]. It refuses a change that
//! commits a plaintext credential, touches a file outside the allowed names
//! (config `allowed_files`, file-name suffixes, default `[".npmrc"]`), or
//! hands off a version other than the one under review. It reads the
//! current files through `workspace` to say what changed.

use agentward_handoff::{Finding, ReviewTask, SignOff};
use agentward_sdk::{export_role, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_allowed")]
    allowed_files: Vec<String>,
}

fn default_allowed() -> Vec<String> {
    vec![".npmrc".into()]
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
        let review: ReviewTask =
            serde_json::from_str(&task.input).map_err(|e| format!("reviewer input: {e}"))?;
        let config_value = if review.config.is_null() {
            serde_json::json!({})
        } else {
            review.config.clone()
        };
        let config: Config =
            serde_json::from_value(config_value).map_err(|e| format!("reviewer config: {e}"))?;
        let mut findings = Vec::new();
        let mut finding = |file: Option<&str>, message: String| {
            findings.push(Finding {
                file: file.map(str::to_string),
                message,
            })
        };
        if review.changes.path != review.path || review.changes.version != review.version {
            finding(
                None,
                format!(
                    "the changes are for {} version {}, not {} version {}",
                    review.changes.path, review.changes.version, review.path, review.version
                ),
            );
        }
        if review.proposed.len() != review.changes.staged.len() {
            finding(
                None,
                "the staged files and their proposed contents do not match".into(),
            );
        }
        let mut changed = 0;
        for (staged, proposed) in review.changes.staged.iter().zip(&review.proposed) {
            let file = staged.file.as_str();
            if !config
                .allowed_files
                .iter()
                .any(|suffix| file.ends_with(suffix.as_str()))
            {
                finding(
                    Some(file),
                    format!("not an allowed file (allowed: {:?})", config.allowed_files),
                );
            }
            for line in plaintext_tokens(proposed) {
                finding(
                    Some(file),
                    format!("line {line} holds a plaintext credential"),
                );
            }
            // A new file does not exist yet; any other refusal means the
            // change cannot be reviewed, and an unreviewed file is a finding.
            let before = match workspace::read_file(&staged.root, file) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(agentward_sdk::Error::NotFound(_)) => String::new(),
                Err(e) => {
                    finding(
                        Some(file),
                        format!("cannot be read for review: {}", e.message()),
                    );
                    continue;
                }
            };
            if before != *proposed {
                changed += 1;
            }
        }
        let approved = findings.is_empty();
        let summary = if approved {
            format!(
                "approved version {} of {}: {changed} files change, no plaintext credentials",
                review.version, review.path
            )
        } else {
            format!(
                "rejected version {} of {}: {} findings",
                review.version,
                review.path,
                findings.len()
            )
        };
        let sign_off = SignOff {
            path: review.path,
            version: review.version,
            approved,
            findings,
        };
        Ok(Report {
            summary,
            output: serde_json::to_string(&sign_off).map_err(|e| e.to_string())?,
        })
    }
}

export_role!(Reviewer);
