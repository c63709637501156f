//! Tester: proves a credential works without ever seeing it.
//!
//! Input: `{"path": "npm/token", "label": "pending", "url": "http://127.0.0.1:4873/-/whoami"}`.
//! It takes a handle, sends it as a bearer token (the host substitutes the
//! value at the edge) and reports the status.

use agentward_sdk::{export_role, handles, http, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    path: String,
    #[serde(default = "default_label")]
    label: String,
    url: Option<String>,
}

const MAX_BODY_CHARS: usize = 1024;

fn default_label() -> String {
    "pending".into()
}

struct Tester;

impl Role for Tester {
    fn run(task: Task) -> Result<Report, String> {
        let input: Input =
            serde_json::from_str(&task.input).map_err(|e| format!("tester input: {e}"))?;
        let handle = handles::acquire(&input.path, &input.label)
            .map_err(|e| format!("handle for {}: {}", input.path, e.message()))?;
        let (status, body) = match &input.url {
            None => (None, None),
            Some(url) => {
                let response = http::send(&http::Request {
                    method: "GET".into(),
                    url: url.clone(),
                    headers: vec![("authorization".into(), format!("Bearer {handle}"))],
                    body: None,
                })
                .map_err(|e| format!("GET {url}: {}", e.message()))?;
                // The registry's answer (e.g. whoami's username) helps a
                // human reading the report; the host has already scrubbed
                // any secret from it.
                let body = String::from_utf8_lossy(&response.body);
                let body: String = body.chars().take(MAX_BODY_CHARS).collect();
                (Some(response.status), Some(body))
            }
        };
        handles::release(&handle);
        let passed = status.is_none_or(|s| (200..300).contains(&s));
        Ok(Report {
            summary: match status {
                Some(s) => format!("auth check on {} ({}): HTTP {s}", input.path, input.label),
                None => format!("{} ({}) exists", input.path, input.label),
            },
            output: serde_json::json!({ "passed": passed, "status": status, "body": body })
                .to_string(),
        })
    }
}

export_role!(Tester);
