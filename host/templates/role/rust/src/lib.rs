//! The {{name}} role: an agentward component for the `{{slot}}` slot.
//!
//! `run` receives the task (the change it belongs to and its input as JSON)
//! and returns a report: one line for humans and a JSON output for the next
//! step. Every host call goes through agentward's policy and lands in its
//! audit log.

wit_bindgen::generate!({ path: "wit", world: "role", generate_all });

use agentward::host::log::{log, Level};
use exports::agentward::host::agent::{Guest, Report, Task};

struct Role;

impl Guest for Role {
    fn run(task: Task) -> Result<Report, String> {
        let change = if task.change_id.is_empty() {
            "outside a change"
        } else {
            task.change_id.as_str()
        };
        log(Level::Info, &format!("{{name}}: hello, {change}"));
        Ok(Report {
            summary: format!("{{name}} read {} bytes of input", task.input.len()),
            output: format!(
                "{{\"role\":\"{{name}}\",\"input_bytes\":{}}}",
                task.input.len()
            ),
        })
    }
}

export!(Role);
