//! The records a rotation passes between roles.
//!
//! The orchestrator sends each role a task (`*Task`) as the JSON input of
//! `agent.run` and reads its handoff (`Plan`, `Changes`, `SignOff`,
//! `Verification`, `Revocation`) back from the report's `output`. Both sides
//! use these types, so a field added on one side is a compile error on the
//! other; roles written in Python or JavaScript follow the same JSON
//! (docs/orchestrator.md). Handoffs are parsed with `deny_unknown_fields`:
//! a misspelt field is a malformed handoff, never a silently missing one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a change was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The secret's cadence or expiry says it is due.
    Cadence,
    /// Someone suspects the secret leaked: rotate now, outside any window.
    Breach,
}

/// Orchestrator → Researcher: the topics to look up before anyone acts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearchTask {
    pub topics: Vec<String>,
    pub config: Value,
}

/// Researcher → everyone after: what the docs say, and which version of
/// each document said it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Briefing {
    pub documents: Vec<DocNote>,
    /// A model's summary of the documents, when the Researcher was asked
    /// for one (config `model_summary`): advice for the reader, never an
    /// input to a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Advice>,
}

/// What a model said, kept apart from what a role decided. The host
/// records it beside the decision and no check of the orchestrator reads
/// it, so a model can inform a reader but never change an outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    /// The model that answered, as its endpoint named it; `None` when no
    /// model answered, and then `text` says why.
    pub model: Option<String>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocNote {
    /// The topic it was found for.
    pub topic: String,
    pub path: String,
    pub title: String,
    /// sha256 of the document, as the `docs` capability reported it.
    pub digest: String,
    /// The document's text, cut to a bounded length.
    pub excerpt: String,
}

/// Orchestrator → Domain specialist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapTask {
    /// Prefixes of the secrets the workflow rotates.
    pub prefixes: Vec<String>,
    pub briefing: Briefing,
    pub config: Value,
}

/// Domain specialist → Planner and Implementer: where each secret is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeMap {
    pub usages: Vec<Usage>,
}

/// One repository file that authenticates with a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// The secret path.
    pub secret: String,
    /// The registry the file authenticates to.
    pub registry: String,
    /// The package scopes routed to that registry.
    pub scopes: Vec<String>,
    pub file: StagedFile,
    /// Whether the file already takes the token from an environment
    /// variable (`_authToken=${VAR}`) rather than holding it.
    pub uses_env: bool,
}

/// Orchestrator → Planner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTask {
    /// RFC 3339, UTC: the time the plan is made for.
    pub now: String,
    pub trigger: Trigger,
    /// The one path to rotate on a breach.
    pub breach: Option<String>,
    /// Prefixes to list; the workflow's `secrets` globs, up to their first wildcard.
    pub prefixes: Vec<String>,
    /// Rotate a secret whose current version is older than this...
    pub cadence_days: u32,
    /// ...or that expires within this many days.
    pub lead_days: u32,
    /// The daily UTC window rotations run in, if the workflow has one.
    pub window: Option<DailyWindow>,
    /// What failed in earlier changes of these paths (Tester → Planner).
    pub failures: Vec<Failure>,
    /// The Researcher's briefing, if the workflow has a research stage.
    #[serde(default)]
    pub briefing: Briefing,
    /// Where each secret is used, if the workflow has a map stage.
    #[serde(default)]
    pub usages: Vec<Usage>,
    /// The step's `input` table from the workflow.
    pub config: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyWindow {
    /// `HH:MM`, UTC.
    pub start: String,
    /// `HH:MM`, UTC; before `start` means the window crosses midnight.
    pub end: String,
}

/// An earlier change of a path that did not reach DONE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub path: String,
    pub change_id: String,
    /// The state it ended in: ABORTED or ROLLED_BACK.
    pub outcome: String,
    pub reason: String,
}

/// Planner → Implementer: what to rotate, when, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// Not before this time (RFC 3339, UTC); `None`: now. A breach plan
    /// never waits.
    pub not_before: Option<String>,
    /// How the plan takes earlier failures into account, for humans.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    pub path: String,
    /// The version labelled current when the plan was made; promotion is a
    /// check-and-set against it.
    pub current_version: Option<u32>,
    /// Why it is due, for humans.
    pub reason: String,
    pub cadence_days: u32,
    /// The scopes the credential serves (from its metadata).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The repository files that use it, to stage.
    #[serde(default)]
    pub files: Vec<StagedFile>,
}

/// Orchestrator → Implementer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum ImplementTask {
    /// Mint a new credential, store it as pending, stage the files that use it.
    Mint {
        path: String,
        expected_current: Option<u32>,
        /// The issuer's id of the credential consumers hold now (the
        /// current version's), for providers that alternate between two.
        #[serde(default)]
        current_credential_id: Option<String>,
        /// Set when an earlier attempt of this mint was cut off (a crash):
        /// credentials the issuer created since then and that never reached
        /// the store must be revoked before minting again.
        retry_since: Option<String>,
        /// Repository files that use the secret (from the plan).
        #[serde(default)]
        files: Vec<StagedFile>,
        dry_run: bool,
        config: Value,
    },
    /// Stage the files for a pending version minted earlier (after a crash
    /// between minting and recording the handoff).
    Stage {
        path: String,
        version: u32,
        /// As in `Mint`.
        #[serde(default)]
        current_credential_id: Option<String>,
        /// When the interrupted mint began: the issuer's id of the
        /// credential it stored is found among those minted since.
        minted_since: Option<String>,
        #[serde(default)]
        files: Vec<StagedFile>,
        dry_run: bool,
        config: Value,
    },
    /// Revoke a credential at its issuer. Revoking one already revoked succeeds.
    Revoke {
        path: String,
        version: u32,
        /// The issuer's id for it, as the mint reported.
        credential_id: Option<String>,
        dry_run: bool,
        config: Value,
    },
}

/// Implementer → Reviewer: the changes made and how they were validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    pub path: String,
    /// The pending version.
    pub version: u32,
    /// The issuer's id for the new credential (not a secret).
    pub credential_id: Option<String>,
    /// When the new credential expires (RFC 3339, UTC), if it does.
    pub expires: Option<String>,
    /// Files proposed through `workspace.propose-change`.
    pub staged: Vec<StagedFile>,
    pub validation: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedFile {
    pub root: String,
    pub file: String,
}

/// Orchestrator → Reviewer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewTask {
    pub path: String,
    pub version: u32,
    pub changes: Changes,
    /// The proposed contents of each staged file, in `changes.staged` order.
    pub proposed: Vec<String>,
    pub config: Value,
}

/// Reviewer → Tester: authorisation to test this version, or the reasons not to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOff {
    pub path: String,
    pub version: u32,
    pub approved: bool,
    pub findings: Vec<Finding>,
    /// Risks a model saw in the change (config `model_advice`), asked only
    /// after `approved` and `findings` were settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub file: Option<String>,
    pub message: String,
}

/// `FILE: MESSAGE`, or the message alone for a finding about the change.
impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why the Tester runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestPurpose {
    /// Before promotion: does the pending version work?
    Verify,
    /// After promotion: is the service still healthy on the new current?
    Health,
}

/// Orchestrator → Tester.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestTask {
    pub purpose: TestPurpose,
    pub path: String,
    pub version: u32,
    /// The label to take a handle on: pending to verify, current for health.
    pub label: String,
    pub dry_run: bool,
    pub config: Value,
}

/// Tester → orchestrator (and, when it fails, → Planner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    pub path: String,
    pub version: u32,
    pub checks: Vec<Check>,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// One independent check and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Implementer → orchestrator, after a `Revoke` task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub path: String,
    pub version: u32,
    pub revoked: bool,
    pub detail: String,
}
