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
use crate::audit::{CallEvent, RUN_CALL};
use crate::capabilities::CallContext;
use serde_json::{Map, Value};
use std::time::Duration;

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
) -> CallEvent {
    let mut args = Map::new();
    args.insert("started".into(), facts.started.clone().into());
    args.insert("policy".into(), calls.binding.policy_hash.clone().into());
    args.insert("fuel_used".into(), facts.fuel_used.into());
    args.insert("fuel_limit".into(), facts.limits.fuel.into());
    args.insert("wall_ms".into(), facts.limits.wall_ms.into());
    if let Err(RunError::Limit { limit, .. }) = result {
        args.insert("limit".into(), limit_key(limit).into());
    }
    let denied: u64 = calls.denials.values().sum();
    if denied > 0 {
        let per_call: Map<String, Value> = calls
            .denials
            .iter()
            .map(|(call, n)| (call.to_string(), (*n).into()))
            .collect();
        args.insert("denied".into(), per_call.into());
        args.insert(
            "denials_unrecorded".into(),
            calls.unrecorded_denials().into(),
        );
    }
    let outcome = match result {
        Ok(()) => "ok".to_string(),
        // Every message a run ends with is already scrubbed of the values
        // it touched; scrubbing again costs little and keeps it so.
        Err(e) => calls.scrub(&e.to_string()),
    };
    let mut event = CallEvent::by_host(
        &calls.change_id,
        calls.binding.role.as_str(),
        &calls.binding.component_digest,
        RUN_CALL,
        args,
        &outcome,
    );
    event.duration_us = facts.duration.as_micros() as u64;
    event
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
