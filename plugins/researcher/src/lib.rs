//! Researcher: picks the notes relevant to a topic, so the other roles act
//! on what is written down rather than on guesses.
//!
//! Input: `{"topic": "npm", "notes": [{"title": "...", "text": "..."}]}`.

use agentward_sdk::{export_role, Report, Role, Task};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    topic: String,
    notes: Vec<Note>,
}

#[derive(Deserialize, Serialize)]
struct Note {
    title: String,
    text: String,
}

struct Researcher;

impl Role for Researcher {
    fn run(task: Task) -> Result<Report, String> {
        let input: Input =
            serde_json::from_str(&task.input).map_err(|e| format!("researcher input: {e}"))?;
        let topic = input.topic.to_lowercase();
        let relevant: Vec<&Note> = input
            .notes
            .iter()
            .filter(|n| {
                n.title.to_lowercase().contains(&topic) || n.text.to_lowercase().contains(&topic)
            })
            .collect();
        agentward_sdk::info(&format!(
            "{} of {} notes mention {}",
            relevant.len(),
            input.notes.len(),
            input.topic
        ));
        Ok(Report {
            summary: format!("{} notes on {}", relevant.len(), input.topic),
            output: serde_json::json!({ "notes": relevant }).to_string(),
        })
    }
}

export_role!(Researcher);
