//! The Rust SDK for agentward roles.
//!
//! A role is a type that implements [`Role`], exported with [`export_role!`]:
//!
//! ```ignore
//! struct Hello;
//! impl agentward_sdk::Role for Hello {
//!     fn run(task: agentward_sdk::Task) -> Result<agentward_sdk::Report, String> {
//!         agentward_sdk::log::log(agentward_sdk::log::Level::Info, "hello");
//!         Ok(agentward_sdk::Report { summary: "said hello".into(), output: "{}".into() })
//!     }
//! }
//! agentward_sdk::export_role!(Hello);
//! ```
//!
//! The bindings cover every capability of `agentward:host@0.1.1`, but a built
//! component imports only the interfaces it calls, so the host's link-time
//! check sees exactly what the role uses.

wit_bindgen::generate!({
    path: "../../wit",
    world: "full",
    pub_export_macro: true,
    export_macro_name: "export_role",
    default_bindings_module: "agentward_sdk",
});

pub use agentward::host::{
    docs, handles, http, log, model, secrets_meta, secrets_read, secrets_write, sql, types,
    workspace,
};
pub use exports::agentward::host::agent::{Guest as Role, Report, Task};
pub use types::Error;

/// A one-message prompt to the role's model: the completion's text.
pub fn ask_model(prompt: &str, max_tokens: u32) -> Result<model::Completion, Error> {
    model::complete(&model::Request {
        messages: vec![model::Message {
            role: "user".into(),
            content: prompt.into(),
        }],
        max_tokens,
        temperature: 0.0,
        stop: Vec::new(),
        json_schema: None,
    })
}

/// Advice from the role's model on `material`, under `instruction` (the
/// system message): the model's name and its text. A model is advisory, so
/// no answer is not a failure: when none came (the grant names no endpoint,
/// a budget is spent, the server is down) the model is `None` and the text
/// says why, in the host's words.
pub fn advise(instruction: &str, material: &str, max_tokens: u32) -> (Option<String>, String) {
    let request = model::Request {
        messages: vec![
            model::Message {
                role: "system".into(),
                content: instruction.into(),
            },
            model::Message {
                role: "user".into(),
                content: material.into(),
            },
        ],
        max_tokens,
        temperature: 0.0,
        stop: Vec::new(),
        json_schema: None,
    };
    match model::complete(&request) {
        Ok(completion) => (Some(completion.model), completion.text.trim().to_string()),
        Err(e) => {
            let why = format!("no advice: {}", e.message());
            log::log(log::Level::Warn, &why);
            (None, why)
        }
    }
}

/// Formats and logs one line at `info` level.
pub fn info(message: &str) {
    log::log(log::Level::Info, message);
}

impl Error {
    /// The host's explanation, without the variant name: for a denial it
    /// names the policy line that would allow the call.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m) | Error::NotFound(m) | Error::Invalid(m) | Error::Unavailable(m) => m,
        }
    }
}
