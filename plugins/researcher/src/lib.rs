//! Researcher: looks up what the docs say before anyone acts.
//!
//! Input: a [`ResearchTask`]; output: a [`Briefing`]. For each topic it
//! searches the docs (`docs.search`, BM25 in the host) and reads the best
//! match, handing on the path, title, digest and text, so the Planner and
//! the Domain specialist work from the current documents without holding
//! `docs` themselves, and the manifest records which versions they used.
//! Config: `topics` replaces the task's topics; `excerpt_chars` (default
//! 4000) bounds each document's text; `model_summary = true` asks the
//! role's model to summarise what it read into the briefing's `summary`
//! (advice: the excerpts, not the summary, are what later roles act on).

use agentward_handoff::{Advice, Briefing, DocNote, ResearchTask};
use agentward_sdk::{advise, docs, export_role, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    excerpt_chars: Option<usize>,
    #[serde(default)]
    model_summary: bool,
    /// The longest summary asked of the model.
    #[serde(default)]
    summary_tokens: Option<u32>,
}

const DEFAULT_SUMMARY_TOKENS: u32 = 160;

const SUMMARY_INSTRUCTION: &str = "You brief an engineer who is about to rotate a credential. \
Summarise, in at most five short sentences, what the documents below say they must do or \
avoid. Say only what the documents say.";

/// How much of the documents the model is shown, in all: small models
/// have small context windows, and a summary needs only the gist.
const SUMMARY_PROMPT_CHARS: usize = 3000;

/// The documents as the model sees them: each title, then the start of its
/// excerpt, every document getting an equal share of the prompt.
fn summary_prompt(documents: &[DocNote]) -> String {
    let share = SUMMARY_PROMPT_CHARS / documents.len().max(1);
    documents
        .iter()
        .map(|d| {
            let text: String = d.excerpt.chars().take(share).collect();
            format!("# {} ({})\n{text}\n", d.title, d.path)
        })
        .collect()
}

const DEFAULT_EXCERPT_CHARS: usize = 4000;

struct Researcher;

impl Role for Researcher {
    fn run(task: Task) -> Result<Report, String> {
        let research: ResearchTask =
            serde_json::from_str(&task.input).map_err(|e| format!("researcher input: {e}"))?;
        let config: Config = if research.config.is_null() {
            Config::default()
        } else {
            serde_json::from_value(research.config)
                .map_err(|e| format!("researcher config: {e}"))?
        };
        let topics = if config.topics.is_empty() {
            research.topics
        } else {
            config.topics
        };
        let limit = config.excerpt_chars.unwrap_or(DEFAULT_EXCERPT_CHARS);
        let mut briefing = Briefing::default();
        let mut missing = Vec::new();
        for topic in &topics {
            let hits =
                docs::search(topic, 1).map_err(|e| format!("search {topic:?}: {}", e.message()))?;
            let Some(best) = hits.first() else {
                missing.push(topic.clone());
                continue;
            };
            let doc = docs::read(&best.path)
                .map_err(|e| format!("read {}: {}", best.path, e.message()))?;
            briefing.documents.push(DocNote {
                topic: topic.clone(),
                path: doc.path,
                title: doc.title,
                digest: doc.digest,
                excerpt: doc.text.chars().take(limit).collect(),
            });
        }
        if !missing.is_empty() {
            agentward_sdk::info(&format!("no document found for: {}", missing.join(", ")));
        }
        if config.model_summary && !briefing.documents.is_empty() {
            let (model, text) = advise(
                SUMMARY_INSTRUCTION,
                &summary_prompt(&briefing.documents),
                config.summary_tokens.unwrap_or(DEFAULT_SUMMARY_TOKENS),
            );
            briefing.summary = Some(Advice { model, text });
        }
        let summary = format!(
            "{} of {} topics found in the docs: {}",
            briefing.documents.len(),
            topics.len(),
            briefing
                .documents
                .iter()
                .map(|d| d.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Report {
            summary,
            output: serde_json::to_string(&briefing).map_err(|e| e.to_string())?,
        })
    }
}

export_role!(Researcher);
