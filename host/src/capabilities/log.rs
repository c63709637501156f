//! `log`: diagnostics from the guest, into the audit trail.
//!
//! Messages are scrubbed of every secret value the run has touched, capped
//! in size and in number per run, so a role cannot use its log to leak a
//! credential or flood the trail: past `max_messages` each call is a denial,
//! and the mediation point records only the first of those.

use super::bindings::agentward::host::{log, types::Error};
use super::mediation::{mediate, truncate, CallContext, HostCall, RoleBinding};
use crate::audit::Args;
use serde::Deserialize;
use serde_json::json;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGrant {
    /// Longer messages are truncated (on a char boundary) before recording.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Messages recorded per run; later ones are refused.
    #[serde(default = "default_max_messages")]
    pub max_messages: u64,
}

fn default_max_message_bytes() -> usize {
    4096
}

/// The in-tree roles log a few lines a run; a thousand is room for a role
/// that logs per item and bounds a looping one to a few MiB of records.
fn default_max_messages() -> u64 {
    1000
}

impl LogGrant {
    fn render(&self, max_messages: u64) -> String {
        format!(
            "log = {{ max_message_bytes = {}, max_messages = {max_messages} }}",
            self.max_message_bytes
        )
    }
}

/// What a run has logged.
#[derive(Default)]
pub struct LogUsage {
    messages: u64,
}

struct Log {
    level: log::Level,
    message: String,
}

impl HostCall for Log {
    type Output = ();
    fn call(&self) -> &'static str {
        "log.log"
    }

    fn audit_args(&mut self, ctx: &CallContext) -> Args {
        let max = ctx
            .binding
            .grants
            .log
            .as_ref()
            .map_or(0, |g| g.get_ref().max_message_bytes);
        // Scrubbed before truncation, so a cut cannot split a secret in two
        // and leave a recognisable half behind. (The recorded event is
        // scrubbed again as a whole; that second pass finds nothing.) The
        // message goes on record and nowhere else: it is taken, not copied.
        let taken = std::mem::take(&mut self.message);
        let scrubbed = match ctx.scrub_cow(&taken) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(scrubbed) => Some(scrubbed),
        };
        let mut message = scrubbed.unwrap_or(taken);
        truncate(&mut message, max);
        Args::from([
            ("level", json!(level_name(self.level))),
            ("message", json!(message)),
        ])
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        // Linked only when granted; a granted log accepts every level.
        Ok(())
    }

    fn admit(&mut self, ctx: &CallContext, _audit: &mut Args) -> Result<(), Error> {
        let grant = ctx
            .binding
            .grants
            .log
            .as_ref()
            .expect("linked only when granted");
        let max = grant.get_ref().max_messages;
        if ctx.log.messages < max {
            return Ok(());
        }
        Err(ctx.binding.deny(
            grant,
            format!("log more than {max} messages in one run (max_messages = {max})"),
            grant.get_ref().render(ctx.log.messages + 1),
        ))
    }

    fn perform(self, ctx: &mut CallContext, _audit: &mut Args) -> Result<(), Error> {
        ctx.log.messages += 1;
        Ok(())
    }
}

fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Trace => "trace",
        log::Level::Debug => "debug",
        log::Level::Info => "info",
        log::Level::Warn => "warn",
        log::Level::Error => "error",
    }
}

impl log::Host for CallContext {
    fn log(&mut self, level: log::Level, message: String) {
        // `log` has no error channel; a sink failure still fails the run.
        let _ = mediate(self, Log { level, message });
    }
}
