//! Test guest: runs the `sql` statements its input lists and reports each
//! outcome, taking handles for the secrets it names. Input:
//! `[{"endpoint", "user": "app" | {"handle": PATH}, "password": PATH,
//!    "text", "params": ["literal" | {"handle": PATH}]}]`.
use agentward_sdk::{export_role, handles, sql, Report, Role, Task};
use serde_json::{json, Value};

struct SqlClient;

fn handle_or_text(value: &Value) -> Result<String, String> {
    match value.get("handle").and_then(Value::as_str) {
        Some(path) => handles::acquire(path, "current").map_err(|e| e.message().to_string()),
        None => Ok(value.as_str().unwrap_or_default().to_string()),
    }
}

impl Role for SqlClient {
    fn run(task: Task) -> Result<Report, String> {
        let input: Value = serde_json::from_str(&task.input).map_err(|e| e.to_string())?;
        let mut outcomes = Vec::new();
        for s in input.as_array().into_iter().flatten() {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            // A password that is not a path is passed as it is: the host
            // must refuse it.
            let password = match s["password"].as_str() {
                Some(path) if !path.starts_with("literal:") => {
                    handle_or_text(&json!({ "handle": path }))?
                }
                Some(literal) => literal.trim_start_matches("literal:").to_string(),
                None => String::new(),
            };
            let statement = sql::Statement {
                endpoint: text("endpoint"),
                user: handle_or_text(&s["user"])?,
                password,
                text: text("text"),
                params: s["params"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(handle_or_text)
                    .collect::<Result<_, _>>()?,
            };
            outcomes.push(match sql::execute(&statement) {
                Ok(rows) => json!({
                    "columns": rows.columns,
                    "rows": rows.rows,
                    "affected": rows.affected,
                    "truncated": rows.truncated,
                }),
                Err(e) => json!({ "error": format!("{e:?}") }),
            });
        }
        Ok(Report {
            summary: format!("{} statements", outcomes.len()),
            output: Value::Array(outcomes).to_string(),
        })
    }
}

export_role!(SqlClient);
