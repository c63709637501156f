//! Planner: finds the secrets under a prefix that are due for rotation.
//!
//! Input: `{"prefix": "npm/", "due_within_days": 14, "now": "2026-11-25T00:00:00Z"}`.
//! It sees metadata only (`secrets-meta`); it can neither read nor write values.

use agentward_sdk::{export_role, secrets_meta, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    prefix: String,
    /// RFC 3339 timestamps compare correctly as strings when both are UTC `Z`.
    now: String,
    #[serde(default)]
    due_before: Option<String>,
}

struct Planner;

impl Role for Planner {
    fn run(task: Task) -> Result<Report, String> {
        let input: Input =
            serde_json::from_str(&task.input).map_err(|e| format!("planner input: {e}"))?;
        let horizon = input.due_before.unwrap_or_else(|| input.now.clone());
        let mut due = Vec::new();
        let mut not_due = Vec::new();
        for path in secrets_meta::list_paths(&input.prefix).map_err(|e| format!("{e:?}"))? {
            let info = secrets_meta::describe(&path).map_err(|e| format!("{e:?}"))?;
            let current = info
                .versions
                .iter()
                .find(|v| v.labels.iter().any(|l| l == "current"))
                .map(|v| v.version);
            let entry = serde_json::json!({
                "path": path,
                "current_version": current,
                "expires": info.expires,
            });
            match &info.expires {
                Some(expires) if expires.as_str() <= horizon.as_str() => due.push(entry),
                _ => not_due.push(entry),
            }
        }
        agentward_sdk::info(&format!("{} due, {} not due", due.len(), not_due.len()));
        Ok(Report {
            summary: format!(
                "{} of {} secrets due for rotation",
                due.len(),
                due.len() + not_due.len()
            ),
            output: serde_json::json!({ "due": due, "not_due": not_due }).to_string(),
        })
    }
}

export_role!(Planner);
