//! Crash injection for the recovery tests.
//!
//! `AGENTWARD_FAILPOINT=state:MINTED` (or `intent:promote`, `effect:promote`)
//! makes the process SIGKILL itself at that boundary: no destructor runs and
//! no buffer is flushed, exactly as for an operator's `kill -9` or a power
//! cut. Setting it needs control of the process's environment, which is
//! already the power to kill it.

use std::sync::OnceLock;

pub const VARIABLE: &str = "AGENTWARD_FAILPOINT";

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var(VARIABLE).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Kills the process if the failpoint `kind:name` is armed.
pub fn hit(kind: &str, name: &str) {
    let Some(armed) = armed() else { return };
    if armed.split_once(':') == Some((kind, name)) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        // `kill` delivers the signal before it exits; this is never reached.
        std::process::abort();
    }
}
