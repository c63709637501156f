//! Calls the model in a loop, far past any budget, and reports how many
//! calls were answered and the error that stopped it.
//!
//! Input: `{"max_tokens": N}` (per call).
use agentward_sdk::{ask_model, export_role, Report, Role, Task};
use serde_json::{json, Value};

struct Hostile;

impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let input: Value = serde_json::from_str(&task.input).map_err(|e| e.to_string())?;
        let max_tokens = input["max_tokens"].as_u64().unwrap_or(4) as u32;
        let mut answered = 0u32;
        for _ in 0..10_000 {
            match ask_model("Say yes.", max_tokens) {
                Ok(_) => answered += 1,
                Err(e) => {
                    return Ok(Report {
                        summary: format!("stopped after {answered} answers"),
                        output: json!({ "answered": answered, "stopped_by": e.message() })
                            .to_string(),
                    })
                }
            }
        }
        Ok(Report {
            summary: "never stopped".into(),
            output: json!({ "answered": answered, "stopped_by": null }).to_string(),
        })
    }
}

export_role!(Hostile);
