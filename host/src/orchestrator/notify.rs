//! Telling humans: a breach, an abort, a rollback, a change waiting for
//! approval. The workflow names a command (the notice as JSON on stdin) or
//! a webhook (the notice POSTed as JSON). A notice that cannot be delivered
//! is recorded as such and never stops a rotation: the audit log and the
//! manifest remain the record.

use super::workflow::Notify;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Serialize)]
pub struct Notice<'a> {
    pub change_id: &'a str,
    /// `breach`, `approval-pending`, `aborted` or `rolled-back`.
    pub event: &'a str,
    pub paths: Vec<&'a str>,
    pub message: String,
}

const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers `notice`; `Ok` with what happened, or why it was not delivered.
pub fn send(target: &Notify, notice: &Notice<'_>) -> Result<String, String> {
    let body = serde_json::to_vec(notice).expect("a notice serialises");
    match target {
        Notify::Command(argv) => crate::external::run(
            argv,
            &body,
            &[
                ("AGENTWARD_CHANGE_ID", notice.change_id),
                ("AGENTWARD_EVENT", notice.event),
            ],
            COMMAND_TIMEOUT,
        )
        .map(|()| format!("ran {}", argv[0]))
        .map_err(|e| match e {
            crate::external::CommandError::Empty => "the notify command is empty".to_string(),
            e => e.to_string(),
        }),
        Notify::Webhook(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(WEBHOOK_TIMEOUT))
                .max_redirects(0)
                .build()
                .into();
            agent
                .post(url)
                .header("content-type", "application/json")
                .send(&body[..])
                .map(|r| format!("POST {url}: HTTP {}", r.status().as_u16()))
                .map_err(|e| format!("POST {url}: {e}"))
        }
    }
}
