//! One audit record per role run: when it started, how it ended, what it
//! used and which limit stopped it.
//!
//! A run's host calls are each on record, but a run that made none — one
//! stopped by its fuel, memory, stack, output cap or deadline, or one that
//! trapped — would otherwise leave no trace, and an operator could not tell
//! a role that never ran from one that was stopped. The record is written
//! when the run ends, after its calls' records, and carries the count of
//! denials the mediation point counted but did not record one by one.

use super::{LimitHit, Limits, RunError};
use crate::audit::{Args, CallRecord, Decision, RUN_CALL};
use crate::capabilities::CallContext;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime};

/// What the record of one run needs from it.
pub(super) struct RunFacts<'a> {
    /// RFC 3339, UTC.
    pub started: String,
    pub duration: Duration,
    pub fuel_used: u64,
    pub limits: &'a Limits,
}

/// The run's record, outcome `ok` or the error the run ended with.
pub(super) fn event(
    calls: &CallContext,
    facts: &RunFacts,
    result: Result<(), &RunError>,
) -> CallRecord {
    let mut args = Args::new();
    args.insert("started", facts.started.clone().into());
    args.insert("policy", calls.binding.policy_hash.clone().into());
    args.insert("fuel_used", facts.fuel_used.into());
    args.insert("fuel_limit", facts.limits.fuel.into());
    args.insert("wall_ms", facts.limits.wall_ms.into());
    if let Err(RunError::Limit { limit, .. }) = result {
        args.insert("limit", limit_key(limit).into());
    }
    let denied: u64 = calls.denials.values().sum();
    if denied > 0 {
        let per_call: Map<String, Value> = calls
            .denials
            .iter()
            .map(|(call, n)| (call.to_string(), (*n).into()))
            .collect();
        args.insert("denied", per_call.into());
        args.insert("denials_unrecorded", calls.unrecorded_denials().into());
    }
    let outcome: std::borrow::Cow<'static, str> = match result {
        Ok(()) => "ok".into(),
        // Every message a run ends with is already scrubbed of the values
        // it touched; scrubbing again costs little and keeps it so.
        Err(e) => calls.scrub(&e.to_string()).into(),
    };
    CallRecord {
        at: SystemTime::now(),
        caller: calls.caller.clone(),
        call: RUN_CALL,
        args,
        decision: Decision::Allow,
        outcome,
        duration_us: facts.duration.as_micros() as u64,
    }
}

/// The policy key of the limit that stopped a run.
fn limit_key(limit: &LimitHit) -> &'static str {
    match limit {
        LimitHit::Fuel { .. } => "limits.fuel",
        LimitHit::WallClock { .. } => "limits.wall_ms",
        LimitHit::Memory { .. } => "limits.memory_mib",
        LimitHit::Stack { .. } => "max_wasm_stack",
        LimitHit::GuestStack { .. } => "the component's stack size",
        LimitHit::Output { .. } => "limits.output_bytes",
    }
}
