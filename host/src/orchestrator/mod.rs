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
//! validating handoffs, and keeping the record.

pub mod approvals;
pub mod change_id;
pub mod failpoint;
pub mod git;
pub mod manifest;
pub mod notify;
pub mod schedule;
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
use manifest::{
    ChangeState, Effect, FileDigest, Item, ItemState, Manifest, ManifestError, StagedChange,
    Transition,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
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
            RunError::Audit { .. } | RunError::Store { .. } => StepFailure::Stop {
                reason: e.to_string(),
                fix: "repair the audit log or the store named above".into(),
            },
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

/// Hooks for showing a long rotation's progress.
pub trait Progress {
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
    /// Time inside role runs (instantiate + guest code + host calls).
    pub in_roles: Duration,
    /// Of that, time inside host calls (mediation, store, audit, network).
    pub in_host_calls: Duration,
    /// The same, per interface: `http` is the time spent waiting for the
    /// registry, `secrets-*` and `handles` mostly the store.
    pub by_interface: BTreeMap<&'static str, Duration>,
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
    pub timing: Timing,
    prepared: BTreeMap<RoleName, PreparedRole>,
    /// Documents consulted by role runs not yet in the manifest.
    consulted: Vec<crate::capabilities::docs::Consulted>,
    /// Credentials (path, version) the operator says were revoked by hand,
    /// for issuers agentward cannot reach or identify them at.
    pub revoked_by_hand: Vec<(String, u32)>,
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
            timing: Timing::default(),
            prepared: BTreeMap::new(),
            consulted: Vec::new(),
            revoked_by_hand: Vec::new(),
        })
    }

    // ----- planning -------------------------------------------------------

    /// Mints a change id, runs the Planner and records the plan. `None`:
    /// nothing is due (the Planner's run is still in the audit log).
    pub fn plan(
        &mut self,
        breach: Option<&str>,
        now: &str,
    ) -> Result<Option<Manifest>, OrchestratorError> {
        let trigger = if breach.is_some() {
            Trigger::Breach
        } else {
            Trigger::Cadence
        };
        if let Some(path) = breach {
            if !self.workflow.secrets.allows(path) {
                return Err(OrchestratorError::Refused(format!(
                    "{path} is outside the secrets {} rotates ({})\n  fix: name a path it covers, or add it to `secrets` in [rotation]",
                    self.workflow.path.display(),
                    self.workflow.secrets.patterns().join(", ")
                )));
            }
        }
        let change_id = change_id::mint();
        let (plan, items, briefing, usages) = self.run_planner(trigger, breach, now, &change_id)?;
        let mut event = serde_json::Map::new();
        event.insert(
            "trigger".into(),
            serde_json::to_value(trigger).expect("json"),
        );
        event.insert("items".into(), items.len().into());
        if items.is_empty() {
            self.record(&change_id, "rotation.plan", event, "ok: nothing due")?;
            return Ok(None);
        }
        let paths: Vec<String> = items.iter().map(|i| i.path.clone()).collect();
        let approval_rules = approvals::required(self.workflow, &paths);
        let state = if approval_rules.is_empty() || self.dry_run {
            ChangeState::Planned
        } else {
            ChangeState::ApprovalPending
        };
        let mut manifest = Manifest {
            format: manifest::FORMAT,
            change_id: change_id.clone(),
            created: crate::time::now_rfc3339(),
            dry_run: self.dry_run,
            trigger,
            breach: breach.map(str::to_string),
            workflow: FileDigest {
                path: self.workflow.path.display().to_string(),
                sha256: self.workflow.digest.clone(),
            },
            policy: FileDigest {
                path: self.policy.path.display().to_string(),
                sha256: hex::encode(Sha256::digest(self.policy.source.as_bytes())),
            },
            state,
            plan_hash: manifest::plan_hash(&plan),
            plan,
            approval_rules,
            approvals: Vec::new(),
            items,
            notices: Vec::new(),
            docs: Vec::new(),
            briefing,
            usages,
        };
        self.record_docs(&mut manifest);
        event.insert("plan_hash".into(), manifest.plan_hash.clone().into());
        if let Some(path) = breach {
            event.insert("breach".into(), path.into());
        }
        manifest.save(&self.manifests)?;
        self.record(&change_id, "rotation.plan", event, "ok")?;
        self.log.checkpoint(self.keys)?;
        if trigger == Trigger::Breach {
            self.notify(
                &mut manifest,
                "breach",
                format!(
                    "suspected breach of {}: rotating now, outside the window",
                    paths.join(", ")
                ),
            )?;
        }
        if state == ChangeState::ApprovalPending {
            let message = format!(
                "change {change_id} waits for approval of plan {}: {}",
                manifest.plan_hash,
                manifest
                    .approval_rules
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            self.notify(&mut manifest, "approval-pending", message)?;
        }
        Ok(Some(manifest))
    }

    /// The optional context stages: the Researcher's briefing from the
    /// docs, then the Domain specialist's map of where each secret is used.
    fn context(&mut self, change_id: &str) -> Result<(Briefing, Vec<Usage>), String> {
        let mut briefing = Briefing::default();
        if let Some(step) = self.workflow.optional_step(Stage::Research).cloned() {
            let task = ResearchTask {
                topics: DEFAULT_TOPICS.iter().map(|t| t.to_string()).collect(),
                config: step.config,
            };
            let outcome = self
                .run_role(step.role, change_id, &task)
                .map_err(|e| e.to_string())?;
            briefing = handoff(step.role, Stage::Research, &outcome)?;
            // A briefing may only cite documents the role was really shown.
            if let Some(cited) = briefing.documents.iter().find(|d| {
                !outcome
                    .docs_consulted
                    .iter()
                    .any(|c| c.path == d.path && c.digest == d.digest)
            }) {
                return Err(format!(
                    "role {} cites {} ({}), which it did not read through `docs`",
                    step.role, cited.path, cited.digest
                ));
            }
        }
        let mut usages = Vec::new();
        if let Some(step) = self.workflow.optional_step(Stage::Map).cloned() {
            let task = MapTask {
                prefixes: self.workflow.secrets.prefixes(),
                briefing: briefing.clone(),
                config: step.config,
            };
            let outcome = self
                .run_role(step.role, change_id, &task)
                .map_err(|e| e.to_string())?;
            let map: ScopeMap = handoff(step.role, Stage::Map, &outcome)?;
            usages = map.usages;
        }
        Ok((briefing, usages))
    }

    /// The Planner's plan, with the workflow's narrowing and schedule
    /// applied, and the items it names as the store holds them.
    fn run_planner(
        &mut self,
        trigger: Trigger,
        breach: Option<&str>,
        now: &str,
        change_id: &str,
    ) -> Result<(Plan, Vec<Item>, Briefing, Vec<Usage>), OrchestratorError> {
        let change_id = change_id.to_string();
        let (briefing, usages) = self.context(&change_id).map_err(OrchestratorError::Plan)?;
        let step = self.workflow.step(Stage::Plan);
        let task = PlanTask {
            now: now.to_string(),
            trigger,
            breach: breach.map(str::to_string),
            prefixes: self.workflow.secrets.prefixes(),
            cadence_days: self.workflow.cadence_days,
            lead_days: self.workflow.lead_days,
            window: self.workflow.window.clone(),
            failures: self.recent_failures(),
            briefing: briefing.clone(),
            usages: usages.clone(),
            config: step.config.clone(),
        };
        let outcome = self
            .run_role(step.role, &change_id, &task)
            .map_err(|e| OrchestratorError::Plan(e.to_string()))?;
        let mut plan: Plan =
            handoff(step.role, Stage::Plan, &outcome).map_err(OrchestratorError::Plan)?;
        // The Planner lists by prefix; a narrower glob (`npm/*` under
        // `npm/`) is the workflow's to apply, and the plan says what it left out.
        let (inside, outside): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.items)
            .into_iter()
            .partition(|i| self.workflow.secrets.allows(&i.path));
        plan.items = inside;
        if !outside.is_empty() {
            let left: Vec<&str> = outside.iter().map(|i| i.path.as_str()).collect();
            plan.notes.push(format!(
                "left out {}: outside the workflow's secrets ({})",
                left.join(", "),
                self.workflow.secrets.patterns().join(", ")
            ));
        }
        let items = self
            .validate_plan(&plan, breach)
            .map_err(OrchestratorError::Plan)?;
        if trigger == Trigger::Cadence && !items.is_empty() {
            if let Some(schedule) = &self.workflow.schedule {
                let start = schedule
                    .start_for(now, plan.not_before.as_deref())
                    .map_err(OrchestratorError::Plan)?;
                if start != plan.not_before {
                    if let Some(at) = &start {
                        plan.notes.push(format!(
                            "waits for the schedule `{}`: its next window opens at {at}",
                            schedule.expression
                        ));
                    }
                    plan.not_before = start;
                }
            }
        }
        Ok((plan, items, briefing, usages))
    }

    /// What is due now and when its change would start, without making a
    /// change: the Planner runs (and is on record), nothing else does.
    pub fn due(&mut self, now: &str) -> Result<Plan, OrchestratorError> {
        let change_id = change_id::mint();
        let (plan, _, _, _) = self.run_planner(Trigger::Cadence, None, now, &change_id)?;
        Ok(plan)
    }

    /// Checks the Planner's handoff against the workflow and the store; the
    /// versions seen here are what promotion later checks against.
    fn validate_plan(&self, plan: &Plan, breach: Option<&str>) -> Result<Vec<Item>, String> {
        let fix = "the plan stage must return a Plan (docs/orchestrator.md)";
        let mut seen = std::collections::BTreeSet::new();
        if let Some(path) = breach {
            let paths: Vec<&str> = plan.items.iter().map(|i| i.path.as_str()).collect();
            if paths != [path] || plan.not_before.is_some() {
                return Err(format!(
                    "the breach plan must rotate exactly {path}, now; it planned {paths:?} not before {:?}\n  fix: {fix}",
                    plan.not_before
                ));
            }
        }
        if let Some(t) = &plan.not_before {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| {
                    format!("the plan's not_before {t:?} is not RFC 3339: {e}\n  fix: {fix}")
                })?;
        }
        let mut items = Vec::new();
        for planned in &plan.items {
            if !seen.insert(planned.path.as_str()) {
                return Err(format!(
                    "the plan lists {} twice\n  fix: {fix}",
                    planned.path
                ));
            }
            let meta = self
                .store
                .describe(&planned.path)
                .map_err(|e| e.to_string())?;
            let current = meta.holder(Label::Current);
            if current != planned.current_version {
                return Err(format!(
                    "the plan says {} is current at version {:?}, the store says {current:?}\n  fix: plan again; the secret changed while planning",
                    planned.path, planned.current_version
                ));
            }
            let mut item = Item::new(planned.path.clone(), current);
            item.previous_expires = meta.attributes.expires.clone();
            items.push(item);
        }
        Ok(items)
    }

    /// Failed earlier changes of the workflow's secrets, newest first: the
    /// Tester → Planner handoff.
    fn recent_failures(&self) -> Vec<Failure> {
        const RECENT: usize = 20;
        let Ok(entries) = std::fs::read_dir(&self.manifests) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .filter(|id| change_id::is_valid(id))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.into_iter()
            .take(RECENT)
            .filter_map(|id| Manifest::load(&self.manifests, &id).ok())
            .filter(|m| !m.dry_run)
            .flat_map(|m| {
                m.items
                    .into_iter()
                    .filter(|i| matches!(i.state, ItemState::Aborted | ItemState::RolledBack))
                    .map(move |i| Failure {
                        path: i.path,
                        change_id: m.change_id.clone(),
                        outcome: i.state.to_string(),
                        reason: i.reason.unwrap_or_default(),
                    })
            })
            .collect()
    }

    // ----- approvals ------------------------------------------------------

    /// Adds `signer`'s approval of the plan; moves the change to APPROVED
    /// when every rule has its N valid signatures.
    pub fn approve(
        &mut self,
        manifest: &mut Manifest,
        signer: &crate::audit::keys::NoteSigner,
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
        let approval = approvals::sign(self.workflow, manifest, signer, plan_hash)?;
        let mut args = serde_json::Map::new();
        args.insert("approver".into(), approval.approver.clone().into());
        args.insert("plan_hash".into(), approval.plan_hash.clone().into());
        manifest.approvals.push(approval);
        let missing = approvals::missing(self.workflow, manifest);
        if missing.is_empty() {
            manifest.state = ChangeState::Approved;
        }
        manifest.save(&self.manifests)?;
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
            let missing = approvals::missing(self.workflow, manifest);
            if !missing.is_empty() {
                if manifest.state != ChangeState::ApprovalPending {
                    manifest.state = ChangeState::ApprovalPending;
                    manifest.save(&self.manifests)?;
                }
                return Ok(Drive::AwaitingApproval(missing));
            }
            if manifest.state == ChangeState::ApprovalPending {
                manifest.state = ChangeState::Approved;
                manifest.save(&self.manifests)?;
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
        for index in 0..manifest.items.len() {
            if manifest.items[index].state.is_terminal() {
                continue;
            }
            self.advance(manifest, index)?;
            self.progress.item_finished(&manifest.items[index]);
        }
        manifest.state = ChangeState::Closed;
        manifest.save(&self.manifests)?;
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
        Ok(Drive::Closed)
    }

    /// Runs one item's state machine to a final state.
    fn advance(&mut self, m: &mut Manifest, i: usize) -> Result<(), OrchestratorError> {
        loop {
            let state = m.items[i].state;
            let (effect, result) = match state {
                s if s.is_terminal() => return Ok(()),
                ItemState::Planned => (Effect::Mint, self.mint(m, i)),
                ItemState::Minted => (Effect::Confirm, self.confirm(m, i)),
                ItemState::PendingStored => (Effect::Stage, self.stage(m, i)),
                ItemState::Staged => (Effect::Verify, self.verify(m, i)),
                ItemState::Verified => (Effect::Promote, self.promote(m, i)),
                ItemState::Promoted => match self.health(m, i) {
                    Err(failure) => (Effect::Health, Err(failure)),
                    Ok(_) => (Effect::RevokeOld, self.revoke_old(m, i)),
                },
                ItemState::OldRevoked => (Effect::Finish, self.finish(m, i)),
                ItemState::Aborting => (Effect::RevokeNew, self.abort(m, i)),
                ItemState::RollingBack => (Effect::Rollback, self.roll_back(m, i)),
                _ => unreachable!("terminal states return above"),
            };
            failpoint::hit("effect", effect.as_str());
            match result {
                Ok((to, note)) => self.transition(m, i, to, note)?,
                Err(StepFailure::Abort(reason)) => {
                    let to = match state {
                        ItemState::Promoted => ItemState::RollingBack,
                        ItemState::Aborting | ItemState::RollingBack | ItemState::OldRevoked => {
                            return Err(self.stopped(m, i, reason, "see the reason above".into()))
                        }
                        _ => ItemState::Aborting,
                    };
                    m.items[i].reason = Some(reason.clone());
                    self.transition(m, i, to, reason)?;
                }
                Err(StepFailure::Stop { reason, fix }) => {
                    return Err(self.stopped(m, i, reason, fix))
                }
            }
        }
    }

    fn stopped(
        &mut self,
        m: &mut Manifest,
        i: usize,
        reason: String,
        fix: String,
    ) -> OrchestratorError {
        // The intent stays in the manifest: resume repeats the effect.
        let _ = m.save(&self.manifests);
        let message = format!(
            "change {} stopped at {} ({}): {reason}",
            m.change_id, m.items[i].path, m.items[i].state
        );
        let _ = self.notify(m, "stopped", message);
        OrchestratorError::Stopped {
            change_id: m.change_id.clone(),
            path: m.items[i].path.clone(),
            state: m.items[i].state,
            reason,
            fix,
        }
    }

    /// Writes `effect` as the item's intent, durably, before it happens.
    fn begin(&mut self, m: &mut Manifest, i: usize, effect: Effect) -> Result<(), StepFailure> {
        let item = &mut m.items[i];
        // A repeated intent (resume after a crash) keeps its first time:
        // it bounds what an interrupted attempt may have left behind.
        if item.intent != Some(effect) || item.intent_since.is_none() {
            item.intent_since = Some(crate::time::now_rfc3339_millis());
        }
        item.intent = Some(effect);
        if !self.dry_run {
            m.save(&self.manifests).map_err(|e| StepFailure::Stop {
                reason: e.to_string(),
                fix: "free space or fix permissions on manifests/".into(),
            })?;
        }
        let args = self.item_args(m, i);
        self.record(
            &m.change_id,
            &format!("rotation.{}", effect.as_str()),
            args,
            INTENT,
        )?;
        self.log.sync()?;
        failpoint::hit("intent", effect.as_str());
        Ok(())
    }

    fn transition(
        &mut self,
        m: &mut Manifest,
        i: usize,
        to: ItemState,
        note: String,
    ) -> Result<(), OrchestratorError> {
        self.record_docs(m);
        let item = &mut m.items[i];
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
        if !self.dry_run {
            m.save(&self.manifests)?;
        }
        let mut args = self.item_args(m, i);
        args.insert("from".into(), from.as_str().into());
        args.insert("to".into(), to.as_str().into());
        let call = format!("rotation.{}", effect.map_or("transition", Effect::as_str));
        let outcome = if matches!(to, ItemState::Aborting | ItemState::RollingBack) {
            format!("failed: {note}")
        } else {
            "ok".to_string()
        };
        self.record(&m.change_id, &call, args, &outcome)?;
        if !self.dry_run {
            self.log.checkpoint(self.keys)?;
        }
        failpoint::hit("state", to.as_str());
        Ok(())
    }

    fn item_args(&self, m: &Manifest, i: usize) -> serde_json::Map<String, serde_json::Value> {
        let item = &m.items[i];
        let mut args = serde_json::Map::new();
        args.insert("path".into(), item.path.clone().into());
        args.insert("state".into(), item.state.as_str().into());
        if let Some(v) = item.expected_current {
            args.insert("old_version".into(), v.into());
        }
        if let Some(v) = item.new_version() {
            args.insert("new_version".into(), v.into());
        }
        if m.trigger == Trigger::Breach {
            args.insert("trigger".into(), "breach".into());
        }
        args
    }

    // ----- the steps ------------------------------------------------------

    /// PLANNED → MINTED: the Implementer mints and stores a pending version
    /// and stages its files. If a pending version of this change already
    /// exists (a crash after the mint), it only stages again.
    fn mint(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        let retry_since = match m.items[i].intent {
            Some(Effect::Mint) => m.items[i].intent_since.clone(),
            _ => None,
        };
        self.begin(m, i, Effect::Mint)?;
        let path = m.items[i].path.clone();
        let existing = self.pending_of_change(&path, &m.change_id)?;
        let files = m
            .plan
            .items
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.files.clone())
            .unwrap_or_default();
        let current_credential_id = m.items[i]
            .expected_current
            .and_then(|v| self.credential_id_of(&path, v));
        let step = self.workflow.step(Stage::Implement);
        let task = match existing {
            Some(version) => ImplementTask::Stage {
                path: path.clone(),
                version,
                current_credential_id,
                minted_since: m.items[i].intent_since.clone(),
                files: files.clone(),
                dry_run: self.dry_run,
                config: step.config.clone(),
            },
            None => ImplementTask::Mint {
                path: path.clone(),
                expected_current: m.items[i].expected_current,
                current_credential_id,
                retry_since,
                files,
                dry_run: self.dry_run,
                config: step.config.clone(),
            },
        };
        let outcome = self.run_role(step.role, &m.change_id, &task)?;
        let changes: Changes =
            handoff(step.role, Stage::Implement, &outcome).map_err(StepFailure::Abort)?;
        if changes.path != path || existing.is_some_and(|v| v != changes.version) {
            return Err(StepFailure::Abort(format!(
                "the implementer handed off {} version {} for {path}{}",
                changes.path,
                changes.version,
                existing.map_or(String::new(), |v| format!(" version {v}"))
            )));
        }
        let mut listed: Vec<(String, String)> = changes
            .staged
            .iter()
            .map(|s| (s.root.clone(), s.file.clone()))
            .collect();
        let mut proposed: Vec<(String, String)> = outcome
            .proposals
            .iter()
            .map(|p| (p.root.clone(), p.path.clone()))
            .collect();
        listed.sort();
        proposed.sort();
        if listed != proposed {
            return Err(StepFailure::Abort(format!(
                "the implementer lists staged files {listed:?} but proposed {proposed:?}"
            )));
        }
        let item = &mut m.items[i];
        item.staged = outcome
            .proposals
            .iter()
            .map(|p| StagedChange {
                root: p.root.clone(),
                file: p.path.clone(),
                sha256: hex::encode(Sha256::digest(p.contents.as_bytes())),
                contents: p.contents.clone(),
                diff: String::new(),
                branch: None,
                commit: None,
            })
            .collect();
        let note = format!("{} (version {})", outcome.report.summary, changes.version);
        item.changes = Some(changes);
        Ok((ItemState::Minted, note))
    }

    /// The pending version this change stored, if any: what makes minting
    /// idempotent under the change id.
    fn pending_of_change(&self, path: &str, change_id: &str) -> Result<Option<u32>, StepFailure> {
        let meta = match self.store.describe(path) {
            Ok(meta) => meta,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(meta
            .versions
            .iter()
            .find(|v| {
                v.change_id.as_deref() == Some(change_id) && v.labels.contains(&Label::Pending)
            })
            .map(|v| v.version))
    }

    /// MINTED → PENDING_STORED: the store holds the version, labelled
    /// pending, tagged with this change.
    fn confirm(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::Confirm)?;
        let path = m.items[i].path.clone();
        let claimed = m.items[i].new_version().expect("MINTED has changes");
        match self.pending_of_change(&path, &m.change_id)? {
            Some(v) if v == claimed => Ok((
                ItemState::PendingStored,
                format!("version {v} is pending, tagged {}", m.change_id),
            )),
            other => Err(StepFailure::Abort(format!(
                "the implementer reported version {claimed} of {path}, but the store's pending version of this change is {other:?}"
            ))),
        }
    }

    /// PENDING_STORED → STAGED: each changed file is committed to the
    /// change's branch in its repository (a dry run only records the diff).
    fn stage(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::Stage)?;
        let branch = git::branch_for(&m.change_id);
        let message = self.commit_message(m, i);
        let project = self.host.project_dir().to_path_buf();
        let mut notes = Vec::new();
        // The file being replaced may hold the very credential being
        // rotated: the manifest's diff shows that it goes, not what it was.
        let path = m.items[i].path.clone();
        let known: Vec<SecretValue> = [Label::Current, Label::Previous, Label::Pending]
            .into_iter()
            .filter_map(|label| self.store.read(&path, label).ok())
            .collect();
        let known: Vec<&str> = known.iter().map(SecretValue::expose).collect();
        for staged in &mut m.items[i].staged {
            let top = project.join(&staged.root);
            let target = top.join(&staged.file);
            let before = std::fs::read_to_string(&target).unwrap_or_default();
            let shown_before = git::redact_credentials(&before, &known);
            staged.diff = similar::TextDiff::from_lines(&shown_before, &staged.contents)
                .unified_diff()
                .header(&format!("a/{}", staged.file), &format!("b/{}", staged.file))
                .to_string();
            let name = format!("{}/{}", staged.root, staged.file);
            if before == staged.contents {
                notes.push(format!("{name} unchanged"));
            } else if self.dry_run {
                notes.push(format!("{name} would be committed to {branch}"));
            } else if let Some((repo, inner)) = git::repository_of(&top, &target) {
                let commit = git::commit_file(&repo, &branch, &inner, &staged.contents, &message)
                    .map_err(|e| StepFailure::Abort(e.to_string()))?;
                notes.push(format!("{name} committed to {branch} ({})", &commit[..12]));
                staged.branch = Some(branch.clone());
                staged.commit = Some(commit);
            } else {
                notes.push(format!(
                    "{name} is not in a git repository: the manifest holds it"
                ));
            }
        }
        Ok((
            ItemState::Staged,
            if notes.is_empty() {
                "no files to stage".into()
            } else {
                notes.join("; ")
            },
        ))
    }

    fn commit_message(&self, m: &Manifest, i: usize) -> String {
        let item = &m.items[i];
        let reason = m
            .plan
            .items
            .iter()
            .find(|p| p.path == item.path)
            .map_or("", |p| p.reason.as_str());
        format!(
            "agentward: take {} from the environment\n\n\
             Rotation of {} to version {} ({reason}). The token itself is never\n\
             committed: the file refers to an environment variable that CI fills\n\
             from the secret store.\n\nChange-Id: {}\n",
            item.path,
            item.path,
            item.new_version().map_or("?".into(), |v| v.to_string()),
            m.change_id
        )
    }

    /// Deletes the change's branches: an aborted or rolled-back change
    /// leaves no proposal behind to be merged by mistake.
    fn withdraw_staged(&self, m: &Manifest, i: usize) -> Result<(), StepFailure> {
        let project = self.host.project_dir();
        for staged in m.items[i].staged.iter().filter(|s| s.branch.is_some()) {
            let top = project.join(&staged.root);
            if let Some((repo, _)) = git::repository_of(&top, &top.join(&staged.file)) {
                git::delete_branch(&repo, staged.branch.as_deref().unwrap_or_default()).map_err(
                    |e| StepFailure::Stop {
                        reason: e.to_string(),
                        fix: "delete the branch by hand".into(),
                    },
                )?;
            }
        }
        Ok(())
    }

    /// STAGED → VERIFIED: the Reviewer signs the change off, then the Tester
    /// proves the pending version works with at least `min_checks` checks.
    fn verify(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::Verify)?;
        let item = &m.items[i];
        let changes = item.changes.clone().expect("STAGED has changes");
        let (path, version) = (item.path.clone(), changes.version);
        let review = self.workflow.step(Stage::Review);
        let task = ReviewTask {
            path: path.clone(),
            version,
            proposed: item.staged.iter().map(|s| s.contents.clone()).collect(),
            changes,
            config: review.config.clone(),
        };
        let outcome = self.run_role(review.role, &m.change_id, &task)?;
        let sign_off: SignOff =
            handoff(review.role, Stage::Review, &outcome).map_err(StepFailure::Abort)?;
        check_subject(
            review.role,
            &sign_off.path,
            sign_off.version,
            &path,
            version,
        )?;
        m.items[i].findings = sign_off.findings.clone();
        m.items[i].advice = sign_off.advice.clone();
        if !sign_off.approved {
            let findings: Vec<String> = sign_off.findings.iter().map(ToString::to_string).collect();
            return Err(StepFailure::Abort(format!(
                "the reviewer rejected the change: {}",
                findings.join("; ")
            )));
        }
        let verification = self.test(m, i, TestPurpose::Verify, Label::Pending)?;
        let passed = verification.checks.iter().filter(|c| c.passed).count();
        let summary = check_summary(&verification);
        m.items[i].checks = verification.checks.clone();
        if !verification.passed() {
            return Err(StepFailure::Abort(format!(
                "verification failed: {summary}"
            )));
        }
        if passed < self.workflow.min_checks {
            return Err(StepFailure::Abort(format!(
                "only {passed} checks passed, the workflow requires {} independent checks ({summary})",
                self.workflow.min_checks
            )));
        }
        Ok((
            ItemState::Verified,
            format!("reviewed and verified: {summary}"),
        ))
    }

    fn test(
        &mut self,
        m: &Manifest,
        i: usize,
        purpose: TestPurpose,
        label: Label,
    ) -> Result<Verification, StepFailure> {
        let item = &m.items[i];
        let version = item.new_version().expect("tests run after the mint");
        let (role, config) = match (purpose, &self.workflow.health) {
            (TestPurpose::Health, Some(h)) => (h.role, h.config.clone()),
            _ => {
                let step = self.workflow.step(Stage::Test);
                (step.role, step.config.clone())
            }
        };
        let task = TestTask {
            purpose,
            path: item.path.clone(),
            version,
            label: label.as_str().to_string(),
            dry_run: self.dry_run,
            config,
        };
        let outcome = self.run_role(role, &m.change_id, &task)?;
        let verification: Verification =
            handoff(role, Stage::Test, &outcome).map_err(StepFailure::Abort)?;
        check_subject(
            role,
            &verification.path,
            verification.version,
            &item.path,
            version,
        )?;
        Ok(verification)
    }

    /// VERIFIED → PROMOTED: check-and-set against the version current at
    /// plan time. A promotion that already happened (a crash after it) is
    /// recognised, not repeated.
    fn promote(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::Promote)?;
        let item = &m.items[i];
        let new = item.new_version().expect("VERIFIED has changes");
        let meta = self.store.describe(&item.path)?;
        if meta.holder(Label::Current) != Some(new) {
            self.store.promote(&item.path, new, item.expected_current)?;
        }
        let expires = item.changes.as_ref().and_then(|c| c.expires.clone());
        if meta.attributes.expires != expires {
            self.store.set_expires(&item.path, expires.as_deref())?;
        }
        Ok((
            ItemState::Promoted,
            format!(
                "version {new} is current{}",
                item.expected_current
                    .map_or(String::new(), |v| format!("; version {v} is previous"))
            ),
        ))
    }

    /// After promotion: the health watch. More failed samples than the
    /// workflow allows roll the change back.
    fn health(&mut self, m: &mut Manifest, i: usize) -> Result<(), StepFailure> {
        let Some(health) = self.workflow.health.clone() else {
            return Ok(());
        };
        self.begin(m, i, Effect::Health)?;
        let mut failures = Vec::new();
        let mut samples = Vec::new();
        for sample in 0..health.samples {
            if sample > 0 && !self.dry_run {
                std::thread::sleep(std::time::Duration::from_millis(health.interval_ms));
            }
            match self.test(m, i, TestPurpose::Health, Label::Current) {
                Ok(v) => {
                    if !v.passed() {
                        failures.push(check_summary(&v));
                    }
                    samples.extend(v.checks);
                }
                Err(StepFailure::Abort(reason)) => failures.push(reason),
                Err(stop) => return Err(stop),
            }
        }
        m.items[i].health = samples;
        if failures.len() as u32 > health.max_failures {
            return Err(StepFailure::Abort(format!(
                "health degraded after promotion: {} of {} samples failed (threshold {}): {}",
                failures.len(),
                health.samples,
                health.max_failures,
                failures.join("; ")
            )));
        }
        // The watch changes no state, so its outcome is recorded here.
        m.items[i].intent = None;
        let mut args = self.item_args(m, i);
        args.insert("samples".into(), health.samples.into());
        args.insert("failed".into(), failures.len().into());
        self.record(&m.change_id, "rotation.health", args, "ok")?;
        Ok(())
    }

    /// OLD_REVOKED → DONE: nothing left to do but say so.
    fn finish(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::Finish)?;
        Ok((
            ItemState::Done,
            "old credential revoked; rotation done".into(),
        ))
    }

    /// PROMOTED → OLD_REVOKED: the Implementer revokes the version that was
    /// current before, now labelled previous.
    fn revoke_old(
        &mut self,
        m: &mut Manifest,
        i: usize,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::RevokeOld)?;
        let Some(old) = m.items[i].expected_current else {
            return Ok((ItemState::OldRevoked, "no earlier version to revoke".into()));
        };
        let detail = self.revoke(m, i, old)?;
        Ok((
            ItemState::OldRevoked,
            format!("version {old} revoked: {detail}"),
        ))
    }

    /// ABORTING → ABORTED: revoke the new credential and take its pending
    /// label away; the current version was never touched.
    fn abort(&mut self, m: &mut Manifest, i: usize) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::RevokeNew)?;
        let path = m.items[i].path.clone();
        // The implementer may have stored a version before failing.
        let Some(new) = self.pending_of_change(&path, &m.change_id)? else {
            self.withdraw_staged(m, i)?;
            return Ok((
                ItemState::Aborted,
                "no pending version of this change remains; current untouched".into(),
            ));
        };
        let detail = self.revoke(m, i, new)?;
        self.store.relabel(&path, &mut |labels| {
            if let Some(l) = labels.get_mut(new as usize - 1) {
                l.retain(|x| *x != Label::Pending);
            }
            Ok(())
        })?;
        self.withdraw_staged(m, i)?;
        Ok((
            ItemState::Aborted,
            format!("version {new} revoked ({detail}) and unlabelled; current untouched"),
        ))
    }

    /// ROLLING_BACK → ROLLED_BACK: the previous version becomes current
    /// again (check-and-set against the new one), then the new credential
    /// is revoked.
    fn roll_back(
        &mut self,
        m: &mut Manifest,
        i: usize,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(m, i, Effect::Rollback)?;
        let item = &m.items[i];
        let (path, new) = (item.path.clone(), item.new_version().expect("promoted"));
        let Some(old) = item.expected_current else {
            return Err(StepFailure::Stop {
                reason: format!(
                    "{path} had no version before {new}, so there is nothing to roll back to"
                ),
                fix: "mint a working credential by hand or fix the service".into(),
            });
        };
        let meta = self.store.describe(&path)?;
        if meta.holder(Label::Current) != Some(old) {
            self.store.promote(&path, old, Some(new))?;
        }
        if meta.attributes.expires != item.previous_expires {
            self.store
                .set_expires(&path, item.previous_expires.as_deref())?;
        }
        let detail = self.revoke(m, i, new)?;
        self.withdraw_staged(m, i)?;
        Ok((
            ItemState::RolledBack,
            format!("version {old} is current again; version {new} revoked ({detail})"),
        ))
    }

    /// Has the Implementer revoke `version` at its issuer.
    fn revoke(&mut self, m: &Manifest, i: usize, version: u32) -> Result<String, StepFailure> {
        let path = m.items[i].path.clone();
        let credential_id = if Some(version) == m.items[i].new_version() {
            m.items[i]
                .changes
                .as_ref()
                .and_then(|c| c.credential_id.clone())
        } else {
            self.credential_id_of(&path, version)
        };
        let step = self.workflow.step(Stage::Implement);
        let task = ImplementTask::Revoke {
            path: path.clone(),
            version,
            credential_id,
            dry_run: self.dry_run,
            config: step.config.clone(),
        };
        let role = step.role;
        let stop = |reason: String| StepFailure::Stop {
            reason,
            fix: format!("check that the issuer is reachable and that the {role} may revoke"),
        };
        let outcome =
            self.run_role(role, &m.change_id, &task)
                .map_err(|e| match StepFailure::from(e) {
                    StepFailure::Abort(reason) => stop(reason),
                    stop => stop,
                })?;
        let revocation: Revocation = handoff(role, Stage::Implement, &outcome).map_err(stop)?;
        if revocation.path != path || revocation.version != version || !revocation.revoked {
            let reason = format!(
                "version {version} of {path} was not revoked: {}",
                revocation.detail
            );
            if self.revoked_by_hand.contains(&(path.clone(), version)) {
                // The operator says it is done; that claim goes on record.
                let mut args = self.item_args(m, i);
                args.insert("version".into(), version.into());
                args.insert("issuer_said".into(), revocation.detail.into());
                self.record(
                    &m.change_id,
                    "rotation.revoked-by-hand",
                    args,
                    "ok: confirmed by the operator",
                )?;
                return Ok(format!(
                    "revoked by hand, as the operator confirmed ({reason})"
                ));
            }
            return Err(StepFailure::Stop {
                reason,
                fix: format!(
                    "make the issuer reachable; or revoke it yourself and run `agentward resume {} --revoked-by-hand {path}@{version}`",
                    m.change_id
                ),
            });
        }
        Ok(revocation.detail)
    }

    /// The issuer's id of a version minted by an earlier change, from that
    /// change's manifest.
    /// A version imported rather than minted by a change carries its id
    /// in the secret's `credential_id` attribute (`secrets import`).
    fn credential_id_of(&self, path: &str, version: u32) -> Option<String> {
        let meta = self.store.describe(path).ok()?;
        let Some(change) = meta
            .versions
            .iter()
            .find(|v| v.version == version)?
            .change_id
            .clone()
        else {
            return meta
                .attributes
                .custom
                .iter()
                .find(|(k, _)| k == "credential_id")
                .map(|(_, v)| v.clone());
        };
        let manifest = Manifest::load(&self.manifests, &change).ok()?;
        manifest
            .items
            .into_iter()
            .find(|i| i.path == path)?
            .changes?
            .credential_id
    }

    // ----- plumbing -------------------------------------------------------

    fn run_role<T: serde::Serialize>(
        &mut self,
        role: RoleName,
        change_id: &str,
        input: &T,
    ) -> Result<RunOutcome, RunError> {
        if !self.prepared.contains_key(&role) {
            let prepared =
                self.host
                    .prepare(self.policy, role)
                    .map_err(|e| RunError::Instantiate {
                        role,
                        message: e.to_string(),
                    })?;
            self.prepared.insert(role, prepared);
        }
        let task = Task {
            change_id: change_id.to_string(),
            input: serde_json::to_string(input).expect("tasks serialise"),
        };
        let outcome = self.host.run(&self.prepared[&role], &task)?;
        self.timing.role_runs += 1;
        self.timing.in_roles += outcome.duration;
        for (interface, time) in &outcome.host_call_time {
            self.timing.in_host_calls += *time;
            *self.timing.by_interface.entry(interface).or_default() += *time;
        }
        self.consulted
            .extend(outcome.docs_consulted.iter().cloned());
        Ok(outcome)
    }

    /// Moves the documents roles consulted since the last call into the manifest.
    fn record_docs(&mut self, m: &mut Manifest) {
        for doc in self.consulted.drain(..) {
            if !m.docs.contains(&doc) {
                m.docs.push(doc);
            }
        }
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
        &mut self,
        m: &mut Manifest,
        event: &str,
        message: String,
    ) -> Result<(), OrchestratorError> {
        let Some(target) = &self.workflow.notify else {
            m.notices.push(format!(
                "{event}: {message} (no notify target in the workflow)"
            ));
            return Ok(m.save(&self.manifests)?);
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
        Ok(m.save(&self.manifests)?)
    }
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

/// A handoff must be about the secret and version under change.
fn check_subject(
    role: RoleName,
    path: &str,
    version: u32,
    expected_path: &str,
    expected_version: u32,
) -> Result<(), StepFailure> {
    if path != expected_path || version != expected_version {
        return Err(StepFailure::Abort(format!(
            "role {role} handed off a record for {path} version {version}, not {expected_path} version {expected_version}"
        )));
    }
    Ok(())
}

fn check_summary(v: &Verification) -> String {
    v.checks
        .iter()
        .map(|c| {
            format!(
                "{} {} ({})",
                c.name,
                if c.passed { "passed" } else { "FAILED" },
                c.detail
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
