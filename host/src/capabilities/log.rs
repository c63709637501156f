//! `log`: diagnostics from the guest, into the audit trail.
//!
//! Messages are scrubbed of every secret value the run has touched and capped
//! in size, so a role cannot use its log to leak a credential or flood the trail.

use super::bindings::agentward::host::{log, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGrant {
    /// Longer messages are truncated (on a char boundary) before recording.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

fn default_max_message_bytes() -> usize {
    4096
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

    fn audit_args(&self, ctx: &CallContext) -> Map<String, Value> {
        let max = ctx
            .binding
            .grants
            .log
            .as_ref()
            .map_or(0, |g| g.get_ref().max_message_bytes);
        // Scrubbed before truncation, so a cut cannot split a secret in two
        // and leave a recognisable half behind. (The recorded event is
        // scrubbed again as a whole; that second pass finds nothing.)
        let mut message = ctx.scrub(&self.message);
        if message.len() > max {
            let cut = (0..=max)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push_str("…[truncated]");
        }
        let mut args = Map::new();
        args.insert("level".into(), json!(level_name(self.level)));
        args.insert("message".into(), json!(message));
        args
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        // Linked only when granted; a granted log accepts every level.
        Ok(())
    }

    fn perform(self, _ctx: &mut CallContext, _audit: &mut Map<String, Value>) -> Result<(), Error> {
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
