//! The orchestrator: drives a change through the rotation state machine.
//!
//! A change is planned once (the Planner's [`Plan`], hashed, approved where
//! the workflow says), then each of its secrets moves through
//! `PLANNED → MINTED → PENDING_STORED → STAGED → VERIFIED → PROMOTED →
//! OLD_REVOKED → DONE`, or `ABORTING → ABORTED` before promotion, or
//! `ROLLING_BACK → ROLLED_BACK` after it. Every step is written as an
//! intent to the manifest and the audit log before its effect and as a new
//! state after it, and every effect is idempotent under the change id
//! (a pending version is found by its change id, a promotion that already
//! happened is recognised, a revocation of a revoked credential succeeds),
//! so [`Orchestrator::drive`] after a crash simply continues from the
//! manifest, forward or back, without losing or duplicating a credential.
//!
//! Roles do the work that needs their capabilities (mint, review, test,
//! revoke); the orchestrator does only what no role may: moving labels,
//! validating handoffs, and keeping the record. Items move in parallel,
//! up to the workflow's `concurrency` at once ([`inflight`]); each item's
//! steps stay in order, and its records are durable before its effects.

pub mod allowed_signers;
pub mod approvals;
pub mod change_id;
pub mod failpoint;
pub mod git;
mod held;
mod inflight;
mod journal;
pub mod manifest;
#[cfg(test)]
mod model;
pub mod notify;
mod planning;
pub mod policy_review;
pub mod schedule;
pub mod sshsig;
mod steps;
pub mod workflow;

use crate::audit::{AuditError, AuditKeys, AuditLog, CallEvent, EventSink};
use crate::capabilities::mediation::INTENT;
use crate::capabilities::Task;
use crate::policy::{Policy, RoleName};
use crate::runtime::{Host, PreparedRole, RunError, RunOutcome, RuntimeError};
use crate::store::{Label, SecretStore, SecretValue, StoreError};
use agentward_handoff::{
    Briefing, Changes, Failure, ImplementTask, MapTask, Plan, PlanTask, ResearchTask, ReviewTask,
    Revocation, ScopeMap, SignOff, TestPurpose, TestTask, Trigger, Usage, Verification,
};
use inflight::{Cursor, Permits, Shared};
use manifest::{
    ChangeState, Effect, FileDigest, Item, ItemState, Manifest, ManifestError, StagedChange,
    Transition,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workflow::{Stage, Workflow};

/// What the Researcher looks up unless the workflow says otherwise.
const DEFAULT_TOPICS: [&str; 3] = ["npm token rotation", "scope mappings", "CI schedules"];

/// The `role` of the orchestrator's own audit records.
pub const ORCHESTRATOR: &str = "orchestrator";

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Approval(#[from] approvals::ApprovalError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("the audit log refused a record, so the change stopped before its next effect: {0}\n  fix: free space or repair logs/, then `agentward resume` the change")]
    Sink(#[from] crate::audit::SinkError),
    /// Planning failed: no change exists yet, nothing was done.
    #[error("planning failed: {0}")]
    Plan(String),
    /// The request cannot be served as asked (a breach of a path the
    /// workflow does not cover): nothing was done.
    #[error("{0}")]
    Refused(String),
    /// The manifest no longer matches what was recorded.
    #[error("{0}")]
    Tampered(String),
    /// Something outside the roles failed (the store, the audit log, a
    /// revocation): the change stops where it is and `resume` continues it.
    #[error("change {change_id} stopped at {path} ({state}): {reason}\n  fix: {fix}, then run `agentward resume {change_id}`")]
    Stopped {
        change_id: String,
        path: String,
        state: ItemState,
        reason: String,
        fix: String,
    },
}

/// Why a step did not complete.
enum StepFailure {
    /// The role or its handoff failed: the item aborts or rolls back.
    Abort(String),
    /// Infrastructure failed: stop, and let `resume` retry.
    Stop { reason: String, fix: String },
}

impl From<StoreError> for StepFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_)
            | StoreError::Io { .. }
            | StoreError::Kek { .. }
            | StoreError::Corrupt { .. } => StepFailure::Stop {
                reason: e.to_string(),
                fix: "bring the secret store back".into(),
            },
            other => StepFailure::Abort(other.to_string()),
        }
    }
}

impl From<RunError> for StepFailure {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Audit { .. } | RunError::Store { .. } | RunError::StoreFailed { .. } => {
                StepFailure::Stop {
                    reason: e.to_string(),
                    fix: "repair the audit log or the store named above".into(),
                }
            }
            other => StepFailure::Abort(other.to_string()),
        }
    }
}

impl From<crate::audit::SinkError> for StepFailure {
    fn from(e: crate::audit::SinkError) -> Self {
        StepFailure::Stop {
            reason: e.to_string(),
            fix: "repair the audit log".into(),
        }
    }
}

/// Where the change stands after [`Orchestrator::drive`].
#[derive(Debug, PartialEq, Eq)]
pub enum Drive {
    /// Every item is DONE, ABORTED or ROLLED_BACK.
    Closed,
    /// Waiting for approvals: one line per unmet rule.
    AwaitingApproval(Vec<String>),
    /// Waiting for the rotation window to open at this time.
    AwaitingWindow(String),
}

/// Hooks for showing a long rotation's progress; called from the workers
/// that move items in parallel.
pub trait Progress: Sync {
    fn started(&self, _manifest: &Manifest) {}
    fn item_finished(&self, _item: &Item) {}
}

/// No progress display (tests, `--json`).
pub struct Quiet;
impl Progress for Quiet {}

/// Where the time of a rotation went.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timing {
    pub role_runs: u32,
    /// Time inside role runs (instantiate + guest code + host calls),
    /// summed over the runs in flight together.
    pub in_roles: Duration,
    /// Of that, time inside host calls (mediation, store, audit, network).
    pub in_host_calls: Duration,
    /// The same, per interface: `http` is the time spent waiting for the
    /// registry, `secrets-*` and `handles` mostly the store.
    pub by_interface: BTreeMap<&'static str, Duration>,
    /// Wall time during which at least one role ran: the rest of a
    /// rotation's wall time is orchestration alone.
    pub roles_busy: Duration,
    #[serde(skip)]
    running: u32,
    #[serde(skip)]
    busy_since: Option<std::time::Instant>,
}

impl Timing {
    /// A role run began: the first of those in flight starts a busy span.
    fn run_began(&mut self) {
        if self.running == 0 {
            self.busy_since = Some(std::time::Instant::now());
        }
        self.running += 1;
    }

    /// A role run ended: the last of those in flight closes the span.
    fn run_ended(&mut self) {
        self.running -= 1;
        if self.running == 0 {
            if let Some(since) = self.busy_since.take() {
                self.roles_busy += since.elapsed();
            }
        }
    }
}

pub struct Orchestrator<'a> {
    pub host: &'a Host,
    pub policy: &'a Policy,
    pub workflow: &'a Workflow,
    /// The store the host's roles see (a dry-run overlay in a dry run).
    pub store: Arc<dyn SecretStore>,
    pub log: &'a AuditLog,
    pub keys: &'a AuditKeys,
    pub manifests: PathBuf,
    pub dry_run: bool,
    pub progress: &'a dyn Progress,
    timing: Mutex<Timing>,
    prepared: Mutex<BTreeMap<RoleName, Arc<PreparedRole>>>,
    /// Documents consulted by role runs not yet in the manifest.
    consulted: Mutex<Vec<crate::capabilities::docs::Consulted>>,
    /// Role runs that reach the provider, if the workflow limits them.
    provider_runs: Option<Permits>,
    /// Credentials (path, version) the operator says were revoked by hand,
    /// for issuers agentward cannot reach or identify them at.
    pub revoked_by_hand: Vec<(String, u32)>,
    /// The change's lease, claims and replica, when this host drives it
    /// as one of a cluster's ([`Orchestrator::hold`]).
    held: Option<held::Held>,
}

impl<'a> Orchestrator<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &'a Host,
        policy: &'a Policy,
        workflow: &'a Workflow,
        store: Arc<dyn SecretStore>,
        log: &'a AuditLog,
        keys: &'a AuditKeys,
        manifests: PathBuf,
        dry_run: bool,
        progress: &'a dyn Progress,
    ) -> Result<Orchestrator<'a>, OrchestratorError> {
        workflow
            .check_against(policy)
            .map_err(OrchestratorError::Plan)?;
        Ok(Orchestrator {
            host,
            policy,
            workflow,
            store,
            log,
            keys,
            manifests,
            dry_run,
            progress,
            timing: Mutex::default(),
            prepared: Mutex::default(),
            consulted: Mutex::default(),
            provider_runs: workflow
                .in_flight
                .get(&workflow.provider())
                .map(|&n| Permits::new(n)),
            revoked_by_hand: Vec::new(),
            held: None,
        })
    }

    /// Where the time of the rotation so far went.
    pub fn timing(&self) -> Timing {
        lock(&self.timing).clone()
    }

    // ----- approvals ------------------------------------------------------

    /// Adds `signer`'s approval of the plan; moves the change to APPROVED
    /// when every rule has its N valid signatures.
    pub fn approve(
        &self,
        manifest: &mut Manifest,
        signature: approvals::Signature,
        plan_hash: Option<&str>,
    ) -> Result<Vec<String>, OrchestratorError> {
        if manifest.state != ChangeState::ApprovalPending {
            return Err(approvals::ApprovalError::NotPending {
                change_id: manifest.change_id.clone(),
                state: manifest.state.as_str().to_string(),
            }
            .into());
        }
        check_plan_hash(manifest)?;
        let approval = approvals::sign(
            self.workflow,
            &approvals::Ballot::of_change(manifest),
            signature,
            plan_hash,
        )?;
        let mut args = serde_json::Map::new();
        args.insert("approver".into(), approval.approver.clone().into());
        args.insert("plan_hash".into(), approval.plan_hash.clone().into());
        args.insert("key".into(), approval.key.clone().into());
        manifest.approvals.push(approval);
        let missing = approvals::missing(self.workflow, &approvals::Ballot::of_change(manifest));
        if missing.is_empty() {
            manifest.state = ChangeState::Approved;
        }
        self.journal_change(manifest, None)?;
        self.record(&manifest.change_id, "rotation.approve", args, "ok")?;
        self.log.checkpoint(self.keys)?;
        Ok(missing)
    }

    // ----- driving --------------------------------------------------------

    /// Moves every item as far as it can go: to a final state, or until the
    /// change must wait for approvals or its window.
    pub fn drive(
        &mut self,
        manifest: &mut Manifest,
        now: &str,
    ) -> Result<Drive, OrchestratorError> {
        if manifest.state == ChangeState::Closed {
            // Another host closed it (or this one, before a crash).
            self.close_held(manifest)?;
            return Ok(Drive::Closed);
        }
        check_plan_hash(manifest)?;
        // The gate stands before the first effect; once effects have begun
        // (approved then), aborting or rolling back never waits for it.
        let started = manifest
            .items
            .iter()
            .any(|i| i.state != ItemState::Planned || i.intent.is_some());
        if !self.dry_run && !manifest.approval_rules.is_empty() && !started {
            // Re-checked on every resume: a plan edited after approval, or
            // a key removed from the workflow, takes the approval back.
            let missing =
                approvals::missing(self.workflow, &approvals::Ballot::of_change(manifest));
            if !missing.is_empty() {
                if manifest.state != ChangeState::ApprovalPending {
                    manifest.state = ChangeState::ApprovalPending;
                    self.journal_change(manifest, None)?;
                }
                return Ok(Drive::AwaitingApproval(missing));
            }
            if manifest.state == ChangeState::ApprovalPending {
                manifest.state = ChangeState::Approved;
                self.journal_change(manifest, None)?;
            }
        }
        if let Some(not_before) = &manifest.plan.not_before {
            let parse = |t: &str| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            };
            let early = match (parse(now), parse(not_before)) {
                (Some(now), Some(start)) => now < start,
                _ => true,
            };
            if early && manifest.trigger == Trigger::Cadence && !started {
                if !self.dry_run {
                    return Ok(Drive::AwaitingWindow(not_before.clone()));
                }
                // A rehearsal has nothing to wait for; it says when the
                // real rotation would start.
                manifest.notices.push(format!(
                    "a live rotation would wait until {not_before}; the dry run went ahead"
                ));
            }
        }
        self.progress.started(manifest);
        if !self.dry_run {
            self.claim_secrets(manifest)?;
        }
        let pending: Vec<usize> = (0..manifest.items.len())
            .filter(|&i| !manifest.items[i].state.is_terminal())
            .collect();
        self.move_items(manifest, pending)?;
        manifest.state = ChangeState::Closed;
        self.journal_change(manifest, None)?;
        let mut args = serde_json::Map::new();
        for (state, count) in manifest.outcome() {
            args.insert(state.as_str().to_lowercase(), count.into());
        }
        self.record(&manifest.change_id, "rotation.close", args, "ok")?;
        self.log.checkpoint(self.keys)?;
        for (event, state) in [
            ("aborted", ItemState::Aborted),
            ("rolled-back", ItemState::RolledBack),
        ] {
            let failed: Vec<String> = manifest
                .items
                .iter()
                .filter(|i| i.state == state)
                .map(|i| format!("{}: {}", i.path, i.reason.as_deref().unwrap_or("")))
                .collect();
            if !failed.is_empty() {
                let message = format!(
                    "change {} {event}: {}",
                    manifest.change_id,
                    failed.join("; ")
                );
                self.notify(manifest, event, message)?;
            }
        }
        // Compaction: the snapshot takes in the journal.
        manifest.save(&self.manifests)?;
        self.close_held(manifest)?;
        Ok(Drive::Closed)
    }

    /// Runs one item's state machine to a final state: `false` when it
    /// stopped short because another item stopped the change.
    fn advance(&self, s: &Shared, c: &mut Cursor) -> Result<bool, OrchestratorError> {
        loop {
            if s.stopping() {
                return Ok(false);
            }
            let state = c.item.state;
            let (effect, result) = match state {
                s if s.is_terminal() => return Ok(true),
                ItemState::Planned => (Effect::Mint, self.mint(s, c)),
                ItemState::Minted => (Effect::Confirm, self.confirm(s, c)),
                ItemState::PendingStored => (Effect::Stage, self.stage(s, c)),
                ItemState::Staged => (Effect::Verify, self.verify(s, c)),
                ItemState::Verified => (Effect::Promote, self.promote(s, c)),
                ItemState::Promoted => {
                    // Once revoke-old has begun the old credential may be
                    // gone, so a failed watch must not roll back to it:
                    // a resumed revocation is finished, not watched again.
                    let watched = match c.item.intent {
                        Some(Effect::RevokeOld) => Ok(()),
                        _ => self.health(s, c),
                    };
                    match watched {
                        Err(failure) => (Effect::Health, Err(failure)),
                        Ok(()) => (Effect::RevokeOld, self.revoke_old(s, c)),
                    }
                }
                ItemState::OldRevoked => (Effect::Finish, self.finish(s, c)),
                ItemState::Aborting => (Effect::RevokeNew, self.abort(s, c)),
                ItemState::RollingBack => (Effect::Rollback, self.roll_back(s, c)),
                _ => unreachable!("terminal states return above"),
            };
            failpoint::hit("effect", effect.as_str());
            match result {
                Ok((to, note)) => self.transition(s, c, to, note)?,
                Err(StepFailure::Abort(reason)) => {
                    let to = match state {
                        ItemState::Promoted => ItemState::RollingBack,
                        ItemState::Aborting | ItemState::RollingBack | ItemState::OldRevoked => {
                            return Err(self.stopped(s, c, reason, "see the reason above".into()))
                        }
                        _ => ItemState::Aborting,
                    };
                    c.item.reason = Some(reason.clone());
                    self.transition(s, c, to, reason)?;
                }
                Err(StepFailure::Stop { reason, fix }) => {
                    return Err(self.stopped(s, c, reason, fix))
                }
            }
        }
    }

    fn stopped(&self, s: &Shared, c: &Cursor, reason: String, fix: String) -> OrchestratorError {
        // The intent stays in the manifest: resume repeats the effect.
        let mut m = s.lock();
        m.items[c.index] = c.item.clone();
        let _ = self.journal_item(&mut m, c.index);
        let message = format!(
            "change {} stopped at {} ({}): {reason}",
            m.change_id, c.item.path, c.item.state
        );
        let _ = self.notify(&mut m, "stopped", message);
        OrchestratorError::Stopped {
            change_id: s.change_id.clone(),
            path: c.item.path.clone(),
            state: c.item.state,
            reason,
            fix,
        }
    }

    /// Writes `effect` as the item's intent, durably, before it happens.
    fn begin(&self, s: &Shared, c: &mut Cursor, effect: Effect) -> Result<(), StepFailure> {
        let item = &mut c.item;
        // A repeated intent (resume after a crash) keeps its first time:
        // it bounds what an interrupted attempt may have left behind.
        if item.intent != Some(effect) || item.intent_since.is_none() {
            item.intent_since = Some(crate::time::now_rfc3339_millis());
        }
        item.intent = Some(effect);
        if let Some(held) = &self.held {
            held.check().map_err(|e| StepFailure::Stop {
                reason: e.to_string(),
                fix: "check this host's connection to OpenBao".into(),
            })?;
        }
        s.journal(c, !self.dry_run, |_| false)
            .map_err(|e| StepFailure::Stop {
                reason: e.to_string(),
                fix: "free space or fix permissions on manifests/".into(),
            })?;
        let args = self.item_args(s, c);
        self.record(
            &s.change_id,
            &format!("rotation.{}", effect.as_str()),
            args,
            INTENT,
        )?;
        self.log.sync()?;
        failpoint::hit("intent", effect.as_str());
        Ok(())
    }

    fn transition(
        &self,
        s: &Shared,
        c: &mut Cursor,
        to: ItemState,
        note: String,
    ) -> Result<(), OrchestratorError> {
        let item = &mut c.item;
        let from = item.state;
        let effect = item.intent.take();
        item.intent_since = None;
        item.state = to;
        item.history.push(Transition {
            ts: crate::time::now_rfc3339(),
            from,
            to,
            note: note.clone(),
        });
        s.journal(c, !self.dry_run, |m| self.record_docs(m))?;
        let mut args = self.item_args(s, c);
        args.insert("from".into(), from.as_str().into());
        args.insert("to".into(), to.as_str().into());
        let call = format!("rotation.{}", effect.map_or("transition", Effect::as_str));
        let outcome = if matches!(to, ItemState::Aborting | ItemState::RollingBack) {
            format!("failed: {note}")
        } else {
            "ok".to_string()
        };
        self.record(&s.change_id, &call, args, &outcome)?;
        if !self.dry_run {
            self.log.checkpoint(self.keys)?;
        }
        failpoint::hit("state", to.as_str());
        Ok(())
    }

    fn item_args(&self, s: &Shared, c: &Cursor) -> serde_json::Map<String, serde_json::Value> {
        let item = &c.item;
        let mut args = serde_json::Map::new();
        args.insert("path".into(), item.path.clone().into());
        args.insert("state".into(), item.state.as_str().into());
        if let Some(v) = item.expected_current {
            args.insert("old_version".into(), v.into());
        }
        if let Some(v) = item.new_version() {
            args.insert("new_version".into(), v.into());
        }
        if s.trigger == Trigger::Breach {
            args.insert("trigger".into(), "breach".into());
        }
        args
    }

    // ----- plumbing -------------------------------------------------------

    /// Records item `i`'s state (an intent or a transition) in the
    /// journal, durably: the cost of a step, whatever the change's size.
    fn journal_item(&self, m: &mut Manifest, i: usize) -> Result<(), ManifestError> {
        journal::append(m, &self.manifests, Some(i), false, self.replica())
    }

    /// Records the change's own state, approvals, notices and documents
    /// in the journal, with item `i`'s state when it moved too.
    fn journal_change(&self, m: &mut Manifest, i: Option<usize>) -> Result<(), ManifestError> {
        journal::append(m, &self.manifests, i, true, self.replica())
    }

    /// Where journal records are copied besides `manifests/`.
    fn replica(&self) -> Option<&Arc<crate::cluster::replica::ReplicaWriter>> {
        self.held.as_ref().map(|h| &h.replica)
    }

    fn run_role<T: serde::Serialize>(
        &self,
        role: RoleName,
        change_id: &str,
        input: &T,
    ) -> Result<RunOutcome, RunError> {
        let prepared = {
            // Compiled once per role; concurrent first runs wait for it.
            let mut prepared = lock(&self.prepared);
            match prepared.get(&role) {
                Some(p) => p.clone(),
                None => {
                    let p = Arc::new(self.host.prepare(self.policy, role).map_err(|e| {
                        RunError::Instantiate {
                            role,
                            message: e.to_string(),
                        }
                    })?);
                    prepared.insert(role, p.clone());
                    p
                }
            }
        };
        let task = Task {
            change_id: change_id.to_string(),
            input: serde_json::to_string(input).expect("tasks serialise"),
        };
        lock(&self.timing).run_began();
        let outcome = self.host.run(&prepared, &task);
        let mut timing = lock(&self.timing);
        timing.run_ended();
        let outcome = outcome?;
        timing.role_runs += 1;
        timing.in_roles += outcome.duration;
        for (interface, time) in &outcome.host_call_time {
            timing.in_host_calls += *time;
            *timing.by_interface.entry(interface).or_default() += *time;
        }
        drop(timing);
        lock(&self.consulted).extend(outcome.docs_consulted.iter().cloned());
        Ok(outcome)
    }

    /// A role run for an item that reaches its provider (mint, test,
    /// revoke): it waits for one of the provider's permits, if the
    /// workflow limits them.
    fn run_against_provider<T: serde::Serialize>(
        &self,
        role: RoleName,
        change_id: &str,
        input: &T,
    ) -> Result<RunOutcome, RunError> {
        let _permit = self.provider_runs.as_ref().map(Permits::take);
        self.run_role(role, change_id, input)
    }

    /// Adds the documents the roles were shown since the last call: whether
    /// there were new ones.
    fn record_docs(&self, m: &mut Manifest) -> bool {
        let before = m.docs.len();
        for doc in lock(&self.consulted).drain(..) {
            if !m.docs.contains(&doc) {
                m.docs.push(doc);
            }
        }
        m.docs.len() > before
    }

    fn record(
        &self,
        change_id: &str,
        call: &str,
        args: serde_json::Map<String, serde_json::Value>,
        outcome: &str,
    ) -> Result<(), crate::audit::SinkError> {
        self.log.record(&CallEvent::by_host(
            change_id,
            ORCHESTRATOR,
            &self.workflow.digest,
            call,
            args,
            outcome,
        ))
    }

    /// Tells humans, records that it did (or could not), never fails the change
    /// for an undeliverable notice.
    fn notify(
        &self,
        m: &mut Manifest,
        event: &str,
        message: String,
    ) -> Result<(), OrchestratorError> {
        let Some(target) = &self.workflow.notify else {
            m.notices.push(format!(
                "{event}: {message} (no notify target in the workflow)"
            ));
            return Ok(self.journal_change(m, None)?);
        };
        let notice = notify::Notice {
            change_id: &m.change_id,
            event,
            paths: m.items.iter().map(|i| i.path.as_str()).collect(),
            message: message.clone(),
        };
        let result = if self.dry_run {
            Ok("dry run: not sent".to_string())
        } else {
            notify::send(target, &notice)
        };
        let outcome = match &result {
            Ok(done) => format!("ok: {done}"),
            Err(e) => format!("undelivered: {e}"),
        };
        let mut args = serde_json::Map::new();
        args.insert("event".into(), event.into());
        args.insert("message".into(), message.clone().into());
        self.record(&m.change_id, "rotation.notify", args, &outcome)?;
        m.notices.push(format!("{event}: {message} ({outcome})"));
        Ok(self.journal_change(m, None)?)
    }
}

/// A lock whose holder panicked still guards consistent data: every
/// critical section here leaves it whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The plan must still hash to the hash approvers sign: an edited manifest
/// is refused before anything acts on it.
fn check_plan_hash(manifest: &Manifest) -> Result<(), OrchestratorError> {
    let actual = manifest::plan_hash(&manifest.plan);
    if actual != manifest.plan_hash {
        return Err(OrchestratorError::Tampered(format!(
            "the plan in manifests/{}.json hashes to {actual}, not to the recorded {}: it was edited after planning\n  fix: restore the manifest from backup, or abandon the change and plan a new one",
            manifest.change_id, manifest.plan_hash
        )));
    }
    Ok(())
}

/// Parses a role's report as the stage's handoff record.
fn handoff<T: DeserializeOwned>(
    role: RoleName,
    stage: Stage,
    outcome: &RunOutcome,
) -> Result<T, String> {
    serde_json::from_str(&outcome.report.output).map_err(|e| {
        format!(
            "role {role} handed off a malformed {} record for the {} stage: {e}\n  fix: return the {} JSON described in docs/orchestrator.md as the report's output",
            stage.handoff(),
            stage.as_str(),
            stage.handoff()
        )
    })
}
