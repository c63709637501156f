//! Sends the model requests its input lists, one after another, and
//! reports each completion or error: the guest side of tests/model.rs.
//!
//! Input: `{"requests": [{"messages": [["user", "…"]], "max_tokens": 16,
//! "schema": "{…}"?, "stop": ["…"]?}]}`.
use agentward_sdk::{export_role, model, Error, Report, Role, Task};
use serde_json::{json, Value};

struct ModelClient;

fn request(spec: &Value) -> model::Request {
    let messages = spec["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| model::Message {
                    role: m[0].as_str().unwrap_or_default().into(),
                    content: m[1].as_str().unwrap_or_default().into(),
                })
                .collect()
        })
        .unwrap_or_default();
    model::Request {
        messages,
        max_tokens: spec["max_tokens"].as_u64().unwrap_or(16) as u32,
        temperature: spec["temperature"].as_f64().unwrap_or(0.0) as f32,
        stop: spec["stop"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        json_schema: spec["schema"].as_str().map(String::from),
    }
}

pub(crate) fn outcome(result: Result<model::Completion, Error>) -> Value {
    match result {
        Ok(c) => json!({
            "text": c.text,
            "tokens_in": c.tokens_in,
            "tokens_out": c.tokens_out,
            "model": c.model,
            "finish_reason": c.finish_reason,
        }),
        Err(e) => {
            let kind = match &e {
                Error::Denied(_) => "denied",
                Error::NotFound(_) => "not-found",
                Error::Invalid(_) => "invalid",
                Error::Unavailable(_) => "unavailable",
            };
            json!({ "error": kind, "message": e.message() })
        }
    }
}

impl Role for ModelClient {
    fn run(task: Task) -> Result<Report, String> {
        let input: Value = serde_json::from_str(&task.input).map_err(|e| e.to_string())?;
        let outcomes: Vec<Value> = input["requests"]
            .as_array()
            .ok_or("input has no `requests` array")?
            .iter()
            .map(|spec| outcome(model::complete(&request(spec))))
            .collect();
        Ok(Report {
            summary: format!("{} model requests", outcomes.len()),
            output: json!({ "outcomes": outcomes }).to_string(),
        })
    }
}

export_role!(ModelClient);
