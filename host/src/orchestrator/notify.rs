//! Telling humans: a breach, an abort, a rollback, a change waiting for
//! approval. The workflow names a command (the notice as JSON on stdin) or
//! a webhook (the notice POSTed as JSON). A notice that cannot be delivered
//! is recorded as such and never stops a rotation: the audit log and the
//! manifest remain the record.

use super::workflow::Notify;
use serde::Serialize;
use std::io::Write;
use std::process::{Command, Stdio};
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
        Notify::Command(argv) => {
            let (program, args) = argv.split_first().ok_or("the notify command is empty")?;
            let mut child = Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .env("AGENTWARD_CHANGE_ID", notice.change_id)
                .env("AGENTWARD_EVENT", notice.event)
                .spawn()
                .map_err(|e| format!("cannot run {program}: {e}"))?;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(&body);
            }
            // A notifier that hangs must not hold a rotation hostage.
            let deadline = std::time::Instant::now() + COMMAND_TIMEOUT;
            loop {
                match child.try_wait().map_err(|e| e.to_string())? {
                    Some(status) if status.success() => return Ok(format!("ran {program}")),
                    Some(status) => return Err(format!("{program} exited with {status}")),
                    None if std::time::Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!(
                            "{program} did not finish within {} s and was killed",
                            COMMAND_TIMEOUT.as_secs()
                        ));
                    }
                    None => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
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
