//! The one mediation point.
//!
//! Every host function of every capability builds a [`HostCall`] and hands
//! it to [`mediate`], which checks it against the role's scopes, performs it
//! only if allowed, and records exactly one [`CallRecord`] either way. Keeping
//! this in one place is what lets an auditor trust that no call slips past.

use super::bindings::agentward::host::types::Error;
use super::deadline::Deadline;
use super::path_scope::PathScope;
use super::{Capability, Grants};
use crate::audit::{Args, CallRecord, Caller, Decision, EventSink, Redactor, SinkError};
use crate::policy::{line_of, RoleName};
use crate::store::{SecretStore, SecretValue};
use serde_json::Value;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use toml::Spanned;

/// Who is calling, under which policy: fixed for a prepared role.
#[derive(Debug)]
pub struct RoleBinding {
    pub role: RoleName,
    pub policy_path: PathBuf,
    pub policy_source: Arc<str>,
    /// [`crate::policy::Policy::hash`]: every run's record names it.
    pub policy_hash: String,
    pub grants: Grants,
    /// The line of the role's `[roles.R.grants]` table, for denials that no
    /// edit of an existing grant would lift.
    pub grants_line: usize,
    /// sha256 of the component, hex.
    pub component_digest: String,
    /// Base for the relative paths in grants (workspace roots).
    pub project_dir: PathBuf,
    /// What `http` asks for the addresses of a granted origin's name.
    pub resolver: Arc<dyn crate::net::egress::Resolve>,
}

impl RoleBinding {
    /// The path globs of a secret capability. Its host functions are linked
    /// only when it is granted, so a missing grant here is a host bug.
    pub(crate) fn path_grant(&self, capability: Capability) -> &Spanned<PathScope> {
        let grant = match capability {
            Capability::SecretsMeta => &self.grants.secrets_meta,
            Capability::SecretsRead => &self.grants.secrets_read,
            Capability::SecretsWrite => &self.grants.secrets_write,
            Capability::Handles => &self.grants.handles,
            other => panic!("{other} has no path scope"),
        };
        grant
            .as_ref()
            .unwrap_or_else(|| panic!("{capability} is linked only when granted"))
    }

    /// A denial that names the role, the request, and the policy line that
    /// would allow it: `fix` is the whole grant as it would have to read.
    pub(crate) fn deny<G>(&self, grant: &Spanned<G>, request: String, fix: String) -> Error {
        Error::Denied(format!(
            "role {} may not {request}; to allow it, change line {} of {} to: {fix}",
            self.role,
            line_of(&self.policy_source, grant.span().start),
            self.policy_path.display(),
        ))
    }

    /// A denial that no edit of the grant would lift: it names the grant's
    /// line and says why, and what to do instead.
    pub(crate) fn refuse<G>(&self, grant: &Spanned<G>, request: String, why: &str) -> Error {
        Error::Denied(format!(
            "role {} may not {request}: {why} (grant at line {} of {})",
            self.role,
            line_of(&self.policy_source, grant.span().start),
            self.policy_path.display(),
        ))
    }
}

/// Per-run state behind every capability's host functions.
pub struct CallContext {
    pub(crate) binding: Arc<RoleBinding>,
    /// The run's change, role and component, shared by all its records.
    pub(crate) caller: Arc<Caller>,
    clock: RunClock,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) store: Arc<dyn SecretStore>,
    pub(crate) redactor: Arc<Redactor>,
    /// Values this run has touched, scrubbed from all guest-written text.
    pub(crate) seen_secrets: Vec<SecretValue>,
    pub(crate) handles: super::handles::HandleTable,
    pub(crate) proposals: Vec<super::workspace::Proposal>,
    pub(crate) docs: super::docs::DocsState,
    pub(crate) model: super::model::ModelUsage,
    pub(crate) log: super::log::LogUsage,
    /// Set when the sink refused an event; every later call is refused and
    /// the run fails, so nothing happens that is not on record.
    pub(crate) audit_failure: Option<SinkError>,
    /// The first store call that failed because the store could not serve
    /// it: the run then ends as the host's failure, not the role's.
    pub(crate) store_failure: Option<String>,
    /// Time spent inside host calls this run, per call: what the host, the
    /// store and the network cost a role ([`CallContext::host_time_by_interface`]).
    /// A run makes a few kinds of call, so a list found by the name's address.
    host_time: Vec<(&'static str, Duration)>,
    /// Denials this run, per call: past [`DENIALS_RECORDED_PER_CALL`] they
    /// are counted here, not recorded one by one.
    pub(crate) denials: std::collections::BTreeMap<&'static str, u64>,
    /// When the run must end: the one clock its sleeps and host calls
    /// are cut to.
    pub(crate) deadline: Deadline,
    /// Set when the deadline ended a call: the run is over.
    pub(crate) stopped_at_deadline: bool,
}

/// Denials of one call recorded one by one in a run. A role looping on a
/// refused call is bounded in time by its fuel; this bounds what it writes
/// to disk. The run's record carries the full counts.
pub const DENIALS_RECORDED_PER_CALL: u64 = 16;

impl CallContext {
    /// Public for the fuzz targets (fuzz/), which mediate calls without a
    /// component; the runtime makes one per run.
    #[doc(hidden)]
    pub fn new(
        binding: Arc<RoleBinding>,
        change_id: String,
        sink: Arc<dyn EventSink>,
        store: Arc<dyn SecretStore>,
        redactor: Arc<Redactor>,
    ) -> Self {
        let caller = Arc::new(Caller {
            change_id,
            role: binding.role.to_string(),
            component: binding.component_digest.clone(),
        });
        CallContext {
            binding,
            caller,
            clock: RunClock::start(),
            sink,
            store,
            redactor,
            seen_secrets: Vec::new(),
            handles: Default::default(),
            proposals: Vec::new(),
            docs: Default::default(),
            model: Default::default(),
            log: Default::default(),
            audit_failure: None,
            store_failure: None,
            denials: Default::default(),
            host_time: Vec::new(),
            deadline: Deadline::default(),
            stopped_at_deadline: false,
        }
    }

    /// The context of a run that must end at `deadline`.
    pub(crate) fn until(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    pub(crate) fn remember_secret(&mut self, value: &SecretValue) {
        if !self.seen_secrets.contains(value) {
            self.seen_secrets.push(value.clone());
        }
    }

    fn spent(&mut self, call: &'static str, time: Duration) {
        match self
            .host_time
            .iter_mut()
            .find(|(c, _)| std::ptr::eq(*c, call))
        {
            Some((_, total)) => *total += time,
            None => self.host_time.push((call, time)),
        }
    }

    /// [`CallContext::host_time`] per interface (`http`, `secrets-write`, …).
    pub(crate) fn host_time_by_interface(
        &self,
    ) -> std::collections::BTreeMap<&'static str, std::time::Duration> {
        let mut by_interface = std::collections::BTreeMap::new();
        for (call, time) in &self.host_time {
            let interface = call.split_once('.').map_or(*call, |(i, _)| i);
            *by_interface.entry(interface).or_default() += *time;
        }
        by_interface
    }

    /// Denials counted this run but not recorded one by one.
    pub(crate) fn unrecorded_denials(&self) -> u64 {
        self.denials
            .values()
            .map(|n| n.saturating_sub(DENIALS_RECORDED_PER_CALL))
            .sum()
    }

    /// `text` with every secret value this run has touched replaced by its digest.
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_cow(text).into_owned()
    }

    pub(crate) fn scrub_cow<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        if self.seen_secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        self.redactor
            .scrub(text, self.seen_secrets.iter().map(SecretValue::expose))
    }

    pub(crate) fn digest(&self, value: &SecretValue) -> Value {
        Value::String(self.redactor.digest(value.expose()))
    }
}

/// One host call, described so [`mediate`] can check, perform and record it.
pub(crate) trait HostCall: Sized {
    type Output;

    /// `interface.function`, as recorded.
    fn call(&self) -> &'static str;

    /// Arguments as recorded. Secret values must go through
    /// [`CallContext::digest`]; every string is scrubbed afterwards anyway.
    /// Called once, first: it may take what it records out of the call.
    fn audit_args(&mut self, ctx: &CallContext) -> Args;

    /// Whether the call changes or sends something. Such a call is recorded
    /// as an intent before it runs, so a sink that fails can still stop it.
    fn effectful(&self) -> bool {
        false
    }

    /// The scope check: `Err` is a denial naming the policy line to edit.
    fn check(&self, binding: &RoleBinding) -> Result<(), Error>;

    /// The checks that need the run's state or the world (where the run's
    /// handles would go, what a name resolves to), after `check` and before
    /// any intent is recorded: `Err` is a denial too. May add recorded
    /// fields (the address that will be dialled).
    fn admit(&mut self, _ctx: &CallContext, _audit: &mut Args) -> Result<(), Error> {
        Ok(())
    }

    /// The effect, run only after `check` allowed it. May add fields to
    /// the recorded arguments (a digest of a value read, a version number).
    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<Self::Output, Error>;
}

pub(crate) fn mediate<C: HostCall>(ctx: &mut CallContext, mut call: C) -> Result<C::Output, Error> {
    if let Some(failure) = &ctx.audit_failure {
        return Err(Error::Unavailable(format!(
            "the audit sink failed earlier in this run ({failure}); no further calls are allowed"
        )));
    }
    let started = Instant::now();
    let name = call.call();
    let mut args = call.audit_args(ctx);
    let effectful = call.effectful();
    let admitted = refuse_oversized(ctx, name, &mut args).and_then(|()| {
        call.check(&ctx.binding)
            .and_then(|()| call.admit(ctx, &mut args))
    });
    let (decision, result, cut) = match admitted {
        Err(denial) => (Decision::Deny, Err(denial), None),
        Ok(()) => {
            if effectful {
                let (intent, _) =
                    ctx.record_of(name, args.clone(), Decision::Allow, INTENT, started);
                record(ctx, &intent)?;
                // The intent and everything before it reach the disk
                // before the effect does.
                let synced = ctx.sink.sync();
                refuse_on_failure(ctx, synced, || format!("make {name}'s intent durable"))?;
            }
            let result = call.perform(ctx, &mut args);
            let cut = cut_at_deadline(ctx, &result);
            note_store_failure(ctx, name, &result);
            if effectful {
                // Crash tests cut a role off between an effect and its record.
                crate::orchestrator::failpoint::hit("call", name);
            }
            (Decision::Allow, result, cut)
        }
    };
    if decision == Decision::Deny {
        let denied = ctx.denials.entry(name).or_default();
        *denied += 1;
        if *denied > DENIALS_RECORDED_PER_CALL {
            return result;
        }
    }
    let outcome = match &result {
        Ok(_) => Cow::Borrowed("ok"),
        Err(e) => {
            let text = ctx.scrub(&super::error_text(e));
            Cow::Owned(match cut {
                Some(deadline) => deadline.cut_off(&text),
                None => text,
            })
        }
    };
    let (call_record, took) = ctx.record_of(name, args, decision, outcome, started);
    if effectful {
        record(ctx, &call_record)?;
        // An effect's cost to the role includes making its records durable.
        ctx.spent(name, started.elapsed());
    } else {
        // Nothing changed or left: the record may be written off the call
        // path, ahead of whatever comes next.
        let recorded = ctx.sink.record_later(call_record);
        refuse_on_failure(ctx, recorded, || format!("record {name}"))?;
        ctx.spent(name, took);
    }
    result
}

/// The interfaces whose calls the secret store serves.
const STORE_INTERFACES: [&str; 4] = [
    "secrets-read.",
    "secrets-write.",
    "secrets-meta.",
    "handles.",
];

/// A store that could not serve a call (down, sealed, mid-failover) is the
/// host's failure, not the role's: kept, so the run ends as one and the
/// orchestrator stops the step for `resume` instead of aborting the item.
fn note_store_failure<T>(ctx: &mut CallContext, name: &str, result: &Result<T, Error>) {
    if let Err(Error::Unavailable(message)) = result {
        if ctx.store_failure.is_none() && STORE_INTERFACES.iter().any(|i| name.starts_with(i)) {
            ctx.store_failure = Some(message.clone());
        }
    }
}

/// [`mediate`] for a call that waits on the network and caps its wait at
/// the run's deadline: when the deadline ended it, the guest traps as the
/// epoch would have trapped it, and the run ends with the `wall_ms` error.
pub(crate) fn mediate_until_deadline<C: HostCall>(
    ctx: &mut CallContext,
    call: C,
) -> wasmtime::Result<Result<C::Output, Error>> {
    let result = mediate(ctx, call);
    if ctx.stopped_at_deadline {
        return Err(wasmtime::Trap::Interrupt.into());
    }
    Ok(result)
}

/// The deadline, if it ended a call: one that failed with the run's
/// deadline past was ended by it (its timeout was cut to the deadline),
/// whatever its own error says, and ends the run.
fn cut_at_deadline<T>(ctx: &mut CallContext, result: &Result<T, Error>) -> Option<Deadline> {
    let deadline = Some(ctx.deadline).filter(|d| result.is_err() && d.passed())?;
    ctx.stopped_at_deadline = true;
    Some(deadline)
}

pub use crate::audit::INTENT;

/// The longest string argument a call may carry into its record: no path,
/// query, URL or statement is this long, and a role that passes a larger
/// one (wasmtime has already copied it out of guest memory) must not make
/// a record of that size, nor an error that repeats it.
pub const MAX_ARG_BYTES: usize = 64 * 1024;

/// How much of an oversized argument its record keeps.
const OVERSIZED_KEPT_BYTES: usize = 256;

/// Refuses a call whose recorded arguments hold a string over
/// [`MAX_ARG_BYTES`] before its scope check, which would repeat it; the
/// record keeps its start, scrubbed first so no cut splits a secret.
fn refuse_oversized(ctx: &CallContext, name: &str, args: &mut Args) -> Result<(), Error> {
    let mut oversized = None;
    for (key, value) in args.iter_mut() {
        if let Some(len) = cut_oversized(ctx, value) {
            oversized.get_or_insert((key, len));
        }
    }
    match oversized {
        None => Ok(()),
        Some((key, len)) => Err(Error::Invalid(format!(
            "argument `{key}` of {name} is {len} bytes, over the host's limit of {MAX_ARG_BYTES} bytes per argument"
        ))),
    }
}

/// Cuts every string in `value` (a list of header names, say) over
/// [`MAX_ARG_BYTES`]; the length of the first one cut.
fn cut_oversized(ctx: &CallContext, value: &mut Value) -> Option<usize> {
    match value {
        Value::String(text) if text.len() > MAX_ARG_BYTES => {
            let len = text.len();
            *text = ctx.scrub(text);
            truncate(text, OVERSIZED_KEPT_BYTES);
            Some(len)
        }
        Value::Array(items) => items
            .iter_mut()
            .filter_map(|v| cut_oversized(ctx, v))
            .reduce(|first, _| first),
        Value::Object(fields) => fields
            .values_mut()
            .filter_map(|v| cut_oversized(ctx, v))
            .reduce(|first, _| first),
        _ => None,
    }
}

/// Cuts `text` to at most `max` bytes on a char boundary, marking the cut.
pub(crate) fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("…[truncated]");
    }
}

impl CallContext {
    /// The record of a call that began at `started` and ends now, its
    /// arguments scrubbed, and how long the call took (to the nanosecond:
    /// the record keeps microseconds).
    fn record_of(
        &self,
        call: &'static str,
        mut args: Args,
        decision: Decision,
        outcome: impl Into<Cow<'static, str>>,
        started: Instant,
    ) -> (CallRecord, Duration) {
        args.values_mut().for_each(|v| scrub_value(self, v));
        let ended = Instant::now();
        let took = ended.duration_since(started);
        let record = CallRecord {
            at: self.clock.at(ended),
            caller: self.caller.clone(),
            call,
            args,
            decision,
            outcome: outcome.into(),
            duration_us: took.as_micros() as u64,
        };
        (record, took)
    }
}

/// The wall clock of a run, read once when it starts and carried forward
/// by the monotonic one: a call's record takes its time and its duration
/// from one reading, so `ts - duration_us` is exactly when the call began,
/// and the records of a run never go back in time if the system clock is
/// stepped while it runs (a run is bounded by its `wall_ms`).
#[derive(Debug)]
struct RunClock {
    wall: SystemTime,
    mono: Instant,
}

impl RunClock {
    fn start() -> RunClock {
        RunClock {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    fn at(&self, instant: Instant) -> SystemTime {
        self.wall + instant.duration_since(self.mono)
    }
}

/// Any argument may carry a value the guest got from a secret (a path built
/// from it, a URL, a message), so every string is scrubbed on its way out.
fn scrub_value(ctx: &CallContext, value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(scrubbed) = ctx.scrub_cow(text) {
                *text = scrubbed;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(ctx, v)),
        Value::Object(fields) => fields.values_mut().for_each(|v| scrub_value(ctx, v)),
        _ => {}
    }
}

/// Records `call`, or refuses it: a failed sink ends the run.
fn record(ctx: &mut CallContext, call: &CallRecord) -> Result<(), Error> {
    let recorded = ctx.sink.record_call(call);
    refuse_on_failure(ctx, recorded, || format!("record {}", call.call))
}

/// A sink failure refuses the call and every later one in the run.
fn refuse_on_failure(
    ctx: &mut CallContext,
    result: Result<(), SinkError>,
    what: impl FnOnce() -> String,
) -> Result<(), Error> {
    result.map_err(|failure| {
        let refused = Error::Unavailable(format!(
            "the audit sink could not {}: {failure}; the call was refused",
            what()
        ));
        ctx.audit_failure = Some(failure);
        refused
    })
}
