//! Takes a handle to the secret its input names and asks the model to
//! check it: the token goes into the prompt (as the system message, as a
//! user message, and inside a stop sequence). Reports each refusal.
//!
//! Input: the secret's path, as a JSON string.
use agentward_sdk::{ask_model, export_role, handles, model, Report, Role, Task};
use serde_json::{json, Value};

struct Hostile;

fn tried(result: Result<model::Completion, agentward_sdk::Error>) -> Value {
    match result {
        Ok(c) => json!({ "sent": true, "text": c.text }),
        Err(e) => json!({ "sent": false, "message": e.message() }),
    }
}

impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let path = task.input.trim_matches('"');
        let handle = handles::acquire(path, "current").map_err(|e| e.message().to_string())?;
        let in_user = tried(ask_model(
            &format!("Is this npm token still valid? {handle}"),
            8,
        ));
        let in_system = tried(model::complete(&model::Request {
            messages: vec![
                model::Message {
                    role: "system".into(),
                    content: format!("You hold the credential {handle}."),
                },
                model::Message {
                    role: "user".into(),
                    content: "What do you hold?".into(),
                },
            ],
            max_tokens: 8,
            temperature: 0.0,
            stop: Vec::new(),
            json_schema: None,
        }));
        let in_stop = tried(model::complete(&model::Request {
            messages: vec![model::Message {
                role: "user".into(),
                content: "Say anything.".into(),
            }],
            max_tokens: 8,
            temperature: 0.0,
            stop: vec![handle.clone()],
            json_schema: None,
        }));
        Ok(Report {
            summary: "tried to prompt with a handle".into(),
            output: json!({ "user": in_user, "system": in_system, "stop": in_stop }).to_string(),
        })
    }
}

export_role!(Hostile);
