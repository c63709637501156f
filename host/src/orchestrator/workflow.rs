//! The workflow file (`policies/workflow.toml`): which secrets a rotation
//! may touch, the role that runs each stage and the static input it gets,
//! who must approve, how health is watched, and whom to tell.
//!
//! The stages and their handoffs are fixed by the lifecycle (plan →
//! implement → review → test, then promote and watch health); the file
//! chooses roles and settings, not the order, because a reordered lifecycle
//! is a different security argument. Parsing is as strict as the policy's:
//! every error names the file, line and column, and the fix.

use super::allowed_signers::AllowedSigners;
use super::manifest::RequiredApproval;
use crate::audit::keys::NoteVerifier;
use crate::capabilities::path_scope::PathScope;
use crate::capabilities::Capability;
use crate::policy::{line_of, Policy, PolicyError, RoleName};
use agentward_handoff::DailyWindow;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The lifecycle's stages that run a role, in order. Research and map are
/// optional context stages; the others every rotation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Research,
    Map,
    Plan,
    Implement,
    Review,
    Test,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Research,
        Stage::Map,
        Stage::Plan,
        Stage::Implement,
        Stage::Review,
        Stage::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Research => "research",
            Stage::Map => "map",
            Stage::Plan => "plan",
            Stage::Implement => "implement",
            Stage::Review => "review",
            Stage::Test => "test",
        }
    }

    pub fn is_required(self) -> bool {
        !matches!(self, Stage::Research | Stage::Map)
    }

    /// The handoff record the stage's role must return.
    pub fn handoff(self) -> &'static str {
        match self {
            Stage::Research => "Briefing",
            Stage::Map => "ScopeMap",
            Stage::Plan => "Plan",
            Stage::Implement => "Changes",
            Stage::Review => "SignOff",
            Stage::Test => "Verification",
        }
    }

    /// The role the default workflow gives the stage.
    fn default_role(self) -> RoleName {
        match self {
            Stage::Research => RoleName::Researcher,
            Stage::Map => RoleName::DomainSpecialist,
            Stage::Plan => RoleName::Planner,
            Stage::Implement => RoleName::Implementer,
            Stage::Review => RoleName::Reviewer,
            Stage::Test => RoleName::Tester,
        }
    }
}

/// One stage's role and the static input the orchestrator passes it.
#[derive(Clone, Debug)]
pub struct Step {
    pub stage: Stage,
    pub role: RoleName,
    /// The `input` table, as JSON: handed to the role as `config`.
    pub config: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct Health {
    pub role: RoleName,
    pub config: serde_json::Value,
    /// How many times the check runs after promotion.
    pub samples: u32,
    /// More failed samples than this roll the change back.
    pub max_failures: u32,
    /// The wait between samples: the watch lasts about `samples - 1` of
    /// these, time for consumers to move to the new credential before the
    /// old one is revoked.
    pub interval_ms: u64,
}

/// Who is told about a breach, an abort, a rollback or a pending approval.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Notify {
    /// A program run with the notice as JSON on stdin.
    Command(Vec<String>),
    /// A URL the notice is POSTed to as JSON.
    Webhook(String),
}

/// `[witness]`: who else is handed each signed checkpoint of the audit
/// log during a rotation ([`crate::audit::witness`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// A program given each signed checkpoint on stdin.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A KV v2 path (under the OpenBao connection's mount) holding the
    /// latest checkpoint, advanced only by check-and-set.
    #[serde(default)]
    pub openbao: Option<String>,
    /// A checkpoint some witness did not take stops the rotation before
    /// its next effect; `false`: a warning.
    #[serde(default = "default_required")]
    pub required: bool,
}

fn default_required() -> bool {
    true
}

/// `[cluster]`: hosts that rotate against one OpenBao cluster take a lease
/// on each change they drive, claim its secrets and replicate its journal
/// there ([`crate::cluster`]), reached with the `--openbao-*` options.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How long a host's lease on a change lasts unrenewed: after a host
    /// dies, another may resume its change this long after its last
    /// renewal.
    #[serde(default = "default_lease_ttl_s")]
    pub lease_ttl_s: u64,
}

fn default_lease_ttl_s() -> u64 {
    crate::cluster::DEFAULT_LEASE_TTL.as_secs()
}

/// Shorter leases lapse on a slow request; longer ones keep a dead host's
/// change waiting for longer than an operator would.
const LEASE_TTL_S: std::ops::RangeInclusive<u64> = 3..=3600;

/// The Implementer's default issuer is `generated`.
fn issuer_kind(config: &serde_json::Value) -> String {
    config
        .pointer("/issuer/kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("generated")
        .to_string()
}

/// N of M named approvers must sign changes touching `paths`.
#[derive(Clone, Debug)]
pub struct ApprovalRule {
    pub paths: PathScope,
    pub required: usize,
    pub approvers: Vec<String>,
    /// Line of the rule, for messages.
    pub line: usize,
}

#[derive(Debug)]
pub struct Workflow {
    pub path: PathBuf,
    /// sha256 of the file, hex: recorded in every manifest.
    pub digest: String,
    pub secrets: PathScope,
    pub cadence_days: u32,
    pub lead_days: u32,
    pub window: Option<DailyWindow>,
    /// When cadence rotations may start, if not any time.
    pub schedule: Option<super::schedule::Schedule>,
    pub notify: Option<Notify>,
    steps: BTreeMap<Stage, Step>,
    /// Independent passing checks the test stage must report.
    pub min_checks: usize,
    pub health: Option<Health>,
    pub approvers: BTreeMap<String, NoteVerifier>,
    /// Approvers who sign with SSH keys (`[approvals] allowed_signers`).
    pub ssh_signers: Option<AllowedSigners>,
    /// Who must approve a policy that widens a grant (`[approvals.policy]`);
    /// `None`: policies are not gated.
    pub policy_rule: Option<RequiredApproval>,
    pub approval_rules: Vec<ApprovalRule>,
    pub witness: Option<WitnessConfig>,
    pub cluster: Option<ClusterConfig>,
    /// Items in flight at once.
    pub concurrency: usize,
    /// `[providers.KIND] in_flight = N`: at most N of a change's role runs
    /// that reach provider KIND at once.
    pub in_flight: BTreeMap<String, usize>,
}

/// Items in flight at once unless `[rotation] concurrency` says otherwise:
/// enough to overlap the syncs and a provider's latency (a live rotation
/// on the embedded store gains little past it on two cores), and what
/// the host's default pool of role instances holds anyway.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The most items a change may have in flight: each holds a role instance
/// while it runs.
pub const MAX_CONCURRENCY: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    in_flight: Spanned<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    rotation: RawRotation,
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    health: Option<Spanned<RawHealth>>,
    #[serde(default)]
    approvals: Option<RawApprovals>,
    #[serde(default)]
    witness: Option<Spanned<WitnessConfig>>,
    #[serde(default)]
    cluster: Option<Spanned<ClusterConfig>>,
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRotation {
    secrets: Spanned<Vec<String>>,
    #[serde(default = "default_cadence")]
    cadence_days: u32,
    #[serde(default = "default_lead")]
    lead_days: u32,
    #[serde(default)]
    window: Option<Spanned<RawWindow>>,
    #[serde(default)]
    schedule: Option<Spanned<String>>,
    #[serde(default)]
    schedule_window: Option<Spanned<String>>,
    #[serde(default)]
    notify: Option<Notify>,
    #[serde(default)]
    concurrency: Option<Spanned<usize>>,
}

fn default_cadence() -> u32 {
    30
}

fn default_lead() -> u32 {
    7
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    stage: Stage,
    role: RoleName,
    #[serde(default)]
    input: Option<toml::Table>,
    #[serde(default)]
    min_checks: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    role: RoleName,
    #[serde(default)]
    input: Option<toml::Table>,
    #[serde(default = "default_samples")]
    samples: u32,
    #[serde(default)]
    max_failures: u32,
    #[serde(default)]
    interval_ms: u64,
}

fn default_samples() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    #[serde(default)]
    keys: BTreeMap<String, Spanned<String>>,
    /// OpenSSH's allowed_signers file: approvers who sign with SSH keys.
    #[serde(default)]
    allowed_signers: Option<Spanned<String>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
    /// N of M approvers for a policy that widens a grant.
    #[serde(default)]
    policy: Option<Spanned<RawPolicyRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicyRule {
    required: usize,
    approvers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    paths: Spanned<Vec<String>>,
    required: usize,
    approvers: Vec<String>,
}

impl Workflow {
    pub fn load(path: &Path) -> Result<Workflow, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Workflow::parse(path, &text)
    }

    /// Parses `text` as the contents of `path` (used in messages only).
    pub fn parse(path: &Path, text: &str) -> Result<Workflow, PolicyError> {
        let raw: RawWorkflow =
            toml::from_str(text).map_err(|e| PolicyError::from_toml(path, text, &e))?;
        let at = |offset: usize, message: String, fix: String| {
            PolicyError::at(path, text, offset, message, fix)
        };
        let scope = |globs: &Spanned<Vec<String>>| {
            PathScope::new(globs.get_ref().clone())
                .map_err(|m| PolicyError::with_fix(path, text, globs.span().start, &m))
        };
        let secrets = scope(&raw.rotation.secrets)?;

        let window_offset = raw.rotation.window.as_ref().map(|w| w.span().start);
        let window = match raw.rotation.window {
            None => None,
            Some(w) => {
                let offset = w.span().start;
                let w = w.into_inner();
                for time in [&w.start, &w.end] {
                    if !is_hhmm(time) {
                        return Err(at(
                            offset,
                            format!("window time {time:?} is not HH:MM (UTC)"),
                            "write the window as { start = \"02:00\", end = \"05:00\" }".into(),
                        ));
                    }
                }
                Some(DailyWindow {
                    start: w.start,
                    end: w.end,
                })
            }
        };

        let schedule_fix =
            "write it as schedule = \"0 3 * * 1\" (cron, UTC) with schedule_window = \"3h\"";
        let schedule = match (raw.rotation.schedule, raw.rotation.schedule_window) {
            (None, None) => None,
            (Some(cron), Some(length)) => {
                if let Some(offset) = window_offset {
                    return Err(at(
                        offset,
                        "a workflow has a daily window or a schedule, not both".into(),
                        "keep one: the schedule's windows replace the daily window".into(),
                    ));
                }
                let offset = cron.span().start;
                Some(
                    super::schedule::Schedule::parse(cron.get_ref(), length.get_ref())
                        .map_err(|e| at(offset, e, schedule_fix.into()))?,
                )
            }
            (Some(cron), None) => {
                return Err(at(
                    cron.span().start,
                    "a schedule needs schedule_window, how long each window stays open".into(),
                    schedule_fix.into(),
                ))
            }
            (None, Some(length)) => {
                return Err(at(
                    length.span().start,
                    "schedule_window without a schedule".into(),
                    schedule_fix.into(),
                ))
            }
        };

        let mut steps: BTreeMap<Stage, Step> = BTreeMap::new();
        let mut min_checks = 1;
        let order: Vec<_> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        let order_fix = format!(
            "list at most one [[steps]] per stage, in this order: {} (research and map are optional; post-promotion checks go in [health])",
            order.join(", ")
        );
        for spanned in &raw.steps {
            let offset = spanned.span().start;
            let step = spanned.get_ref();
            if let Some((&last, _)) = steps.last_key_value() {
                if step.stage <= last {
                    return Err(at(
                        offset,
                        format!(
                            "step {} is stage `{}`, which cannot come after `{}`",
                            steps.len() + 1,
                            step.stage.as_str(),
                            last.as_str()
                        ),
                        order_fix.clone(),
                    ));
                }
            }
            if step.min_checks.is_some() && step.stage != Stage::Test {
                return Err(at(
                    offset,
                    format!("`min_checks` on the {} stage", step.stage.as_str()),
                    "move `min_checks` to the test stage's [[steps]] entry".into(),
                ));
            }
            if let Some(n) = step.min_checks {
                if n == 0 {
                    return Err(at(
                        offset,
                        "`min_checks = 0` would promote an untested credential".into(),
                        "set `min_checks` to 1 or more (2 for independent checks)".into(),
                    ));
                }
                min_checks = n;
            }
            steps.insert(
                step.stage,
                Step {
                    stage: step.stage,
                    role: step.role,
                    config: table_to_json(step.input.as_ref()),
                },
            );
        }
        if let Some(missing) = Stage::ALL
            .into_iter()
            .find(|s| s.is_required() && !steps.contains_key(s))
        {
            return Err(at(
                text.len(),
                format!("the workflow has no `{}` stage", missing.as_str()),
                format!(
                    "add [[steps]] with stage = \"{}\" and role = \"{}\"",
                    missing.as_str(),
                    missing.default_role()
                ),
            ));
        }

        let health = match raw.health {
            None => None,
            Some(h) => {
                let offset = h.span().start;
                let h = h.into_inner();
                if h.samples == 0 || h.max_failures >= h.samples {
                    return Err(at(
                        offset,
                        format!(
                            "health watch of {} samples allowing {} failures can never fail",
                            h.samples, h.max_failures
                        ),
                        "set `samples` to at least 1 and `max_failures` below `samples`".into(),
                    ));
                }
                Some(Health {
                    role: h.role,
                    config: table_to_json(h.input.as_ref()),
                    samples: h.samples,
                    max_failures: h.max_failures,
                    interval_ms: h.interval_ms,
                })
            }
        };

        let mut approvers = BTreeMap::new();
        let mut ssh_signers = None;
        let mut approval_rules = Vec::new();
        let mut policy_rule = None;
        if let Some(raw_approvals) = raw.approvals {
            for (name, key) in &raw_approvals.keys {
                let verifier = NoteVerifier::parse(key.get_ref()).map_err(|reason| {
                    at(
                        key.span().start,
                        format!("approver key of `{name}` is not a public key: {reason}"),
                        format!("paste the line `agentward approver new {name}` printed (its .pub file)"),
                    )
                })?;
                if verifier.name != *name {
                    return Err(at(
                        key.span().start,
                        format!("the key listed as `{name}` belongs to `{}`", verifier.name),
                        format!(
                            "list it as `{} = \"…\"`, or use {name}'s own key",
                            verifier.name
                        ),
                    ));
                }
                approvers.insert(name.clone(), verifier);
            }
            if let Some(file) = &raw_approvals.allowed_signers {
                // Relative to the workflow file, like the file it sits beside.
                let base = path.parent().unwrap_or(Path::new("."));
                let signers = AllowedSigners::load(&base.join(file.get_ref())).map_err(|e| {
                    let (message, fix) = e
                        .split_once("\n  fix: ")
                        .unwrap_or((&e, "see docs/orchestrator.md#ssh-approvals"));
                    at(file.span().start, message.to_string(), fix.to_string())
                })?;
                ssh_signers = Some(signers);
            }
            // Every approver named must have a key, and N of M must be
            // reachable: a rule that can never be met blocks for ever.
            let satisfiable = |offset: usize, required: usize, names: &[String]| {
                for name in names {
                    let ssh = ssh_signers.as_ref().is_some_and(|s| s.lists(name));
                    if !approvers.contains_key(name) && !ssh {
                        return Err(at(
                            offset,
                            format!("approver `{name}` has no key in [approvals.keys] or allowed_signers"),
                            format!("add `{name} = \"<the line from {name}.pub>\"` under [approvals.keys], or `{name} namespaces=\"agentward-approval\" ssh-ed25519 AAAA…` to the allowed_signers file"),
                        ));
                    }
                }
                let distinct: std::collections::BTreeSet<_> = names.iter().collect();
                if required == 0 || required > distinct.len() {
                    return Err(at(
                        offset,
                        format!(
                            "a rule requiring {required} of {} distinct approvers cannot be met as meant",
                            distinct.len()
                        ),
                        "set `required` between 1 and the number of listed approvers".into(),
                    ));
                }
                Ok(())
            };
            for rule in &raw_approvals.rules {
                let offset = rule.span().start;
                let r = rule.get_ref();
                satisfiable(offset, r.required, &r.approvers)?;
                approval_rules.push(ApprovalRule {
                    paths: scope(&r.paths)?,
                    required: r.required,
                    approvers: r.approvers.clone(),
                    line: line_of(text, offset),
                });
            }
            if let Some(rule) = &raw_approvals.policy {
                let r = rule.get_ref();
                satisfiable(rule.span().start, r.required, &r.approvers)?;
                policy_rule = Some(RequiredApproval {
                    paths: vec!["the policy".into()],
                    required: r.required,
                    approvers: r.approvers.clone(),
                });
            }
        }

        if let Some(w) = &raw.witness {
            let config = w.get_ref();
            let empty_command = config.command.as_ref().is_some_and(Vec::is_empty);
            if (config.command.is_none() && config.openbao.is_none()) || empty_command {
                return Err(at(
                    w.span().start,
                    "[witness] names no witness".into(),
                    "add command = [\"witness-client\", \"put\"] or openbao = \"agentward/witness/HOST\"".into(),
                ));
            }
            if let Some(kv) = &config.openbao {
                if kv.is_empty()
                    || kv
                        .split('/')
                        .any(|part| part.is_empty() || part == "." || part == "..")
                {
                    return Err(at(
                        w.span().start,
                        format!("[witness] openbao path {kv:?} is not a clean KV path"),
                        "write it as openbao = \"agentward/witness/HOST\" (relative to the mount)"
                            .into(),
                    ));
                }
            }
        }
        if let Some(c) = &raw.cluster {
            let ttl = c.get_ref().lease_ttl_s;
            if !LEASE_TTL_S.contains(&ttl) {
                return Err(at(
                    c.span().start,
                    format!("[cluster] lease_ttl_s = {ttl}"),
                    format!(
                        "give a lease of {} to {} seconds (default {})",
                        LEASE_TTL_S.start(),
                        LEASE_TTL_S.end(),
                        default_lease_ttl_s()
                    ),
                ));
            }
        }
        let concurrency = match &raw.rotation.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(n) if (1..=MAX_CONCURRENCY).contains(n.get_ref()) => *n.get_ref(),
            Some(n) => {
                return Err(at(
                    n.span().start,
                    format!("concurrency = {} items in flight", n.get_ref()),
                    format!(
                    "set `concurrency` between 1 (one item after another) and {MAX_CONCURRENCY}"
                ),
                ))
            }
        };
        let provider = issuer_kind(&steps[&Stage::Implement].config);
        let mut in_flight = BTreeMap::new();
        for (kind, limit) in &raw.providers {
            let offset = limit.in_flight.span().start;
            if *kind != provider {
                return Err(at(
                    offset,
                    format!("[providers.{kind}] names a provider this workflow does not use"),
                    format!(
                        "the implement step's issuer is `{provider}`: write [providers.{provider}]"
                    ),
                ));
            }
            if *limit.in_flight.get_ref() == 0 {
                return Err(at(
                    offset,
                    "in_flight = 0 would never reach the provider".into(),
                    "set `in_flight` to 1 or more".into(),
                ));
            }
            in_flight.insert(kind.clone(), *limit.in_flight.get_ref());
        }
        Ok(Workflow {
            path: path.to_path_buf(),
            digest: hex::encode(Sha256::digest(text.as_bytes())),
            secrets,
            cadence_days: raw.rotation.cadence_days,
            lead_days: raw.rotation.lead_days,
            window,
            schedule,
            notify: raw.rotation.notify,
            steps,
            min_checks,
            health,
            approvers,
            ssh_signers,
            approval_rules,
            policy_rule,
            witness: raw.witness.map(Spanned::into_inner),
            cluster: raw.cluster.map(Spanned::into_inner),
            concurrency,
            in_flight,
        })
    }

    /// The provider this workflow's credentials come from: the implement
    /// step's `issuer.kind`.
    pub fn provider(&self) -> String {
        issuer_kind(&self.step(Stage::Implement).config)
    }

    /// A required stage's step.
    pub fn step(&self, stage: Stage) -> &Step {
        &self.steps[&stage]
    }

    /// An optional stage's step, if the workflow has it.
    pub fn optional_step(&self, stage: Stage) -> Option<&Step> {
        self.steps.get(&stage)
    }

    /// Refuses a workflow whose roles the policy cannot run as the stages
    /// need: the implement stage must be able to write the secrets the
    /// workflow rotates, and every other role must exist.
    pub fn check_against(&self, policy: &Policy) -> Result<(), String> {
        let health = self.health.iter().map(|h| h.role);
        for role in self.steps.values().map(|s| s.role).chain(health) {
            policy.role(role).map_err(|e| e.to_string())?;
        }
        let implementer = self.step(Stage::Implement).role;
        let grants = &policy.role(implementer).map_err(|e| e.to_string())?.grants;
        let Some(write) = &grants.secrets_write else {
            return Err(format!(
                "{}: the implement stage runs {implementer}, which {} does not grant {}\n  fix: set role = \"implementer\" for the implement stage",
                self.path.display(),
                policy.path.display(),
                Capability::SecretsWrite.name()
            ));
        };
        for prefix in self.secrets.patterns() {
            let probe = prefix.replace("**", "x").replace('*', "x");
            if !write.get_ref().allows(&probe) {
                return Err(format!(
                    "{}: the workflow rotates {prefix}, but {implementer} may not write it under {}\n  fix: narrow `secrets` in [rotation], or add it to {implementer}'s secrets-write paths",
                    self.path.display(),
                    policy.path.display()
                ));
            }
        }
        Ok(())
    }

    /// The approval rules that cover any of `paths`.
    pub fn rules_for<'a>(&'a self, paths: &'a [String]) -> impl Iterator<Item = &'a ApprovalRule> {
        self.approval_rules
            .iter()
            .filter(move |rule| paths.iter().any(|p| rule.paths.allows(p)))
    }
}

fn is_hhmm(text: &str) -> bool {
    let Some((h, m)) = text.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

fn table_to_json(table: Option<&toml::Table>) -> serde_json::Value {
    table
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[rotation]
secrets = ["npm/**"]

[[steps]]
stage = "plan"
role = "planner"

[[steps]]
stage = "implement"
role = "implementer"
input = { length = 12 }

[[steps]]
stage = "review"
role = "reviewer"

[[steps]]
stage = "test"
role = "tester"
min_checks = 2
"#;

    fn parse(text: &str) -> Result<Workflow, String> {
        Workflow::parse(Path::new("policies/workflow.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_workflow_loads_with_defaults() {
        let w = parse(MINIMAL).unwrap();
        assert_eq!((w.cadence_days, w.lead_days, w.min_checks), (30, 7, 2));
        assert_eq!(w.step(Stage::Implement).config["length"], 12);
        assert_eq!(w.secrets.prefixes(), vec!["npm/".to_string()]);
    }

    #[test]
    fn stages_out_of_order_name_the_line_and_the_order() {
        let text = MINIMAL
            .replace("stage = \"review\"", "stage = \"swap\"")
            .replace("stage = \"test\"", "stage = \"review\"")
            .replace("stage = \"swap\"", "stage = \"test\"");
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("policies/workflow.toml:18:"), "{err}");
        assert!(
            err.contains("stage `review`, which cannot come after `test`"),
            "{err}"
        );
        assert!(
            err.contains("research, map, plan, implement, review, test"),
            "{err}"
        );
    }

    #[test]
    fn a_typo_gets_the_closest_name() {
        let err = parse(
            &MINIMAL
                .replace("cadence", "x")
                .replace("secrets =", "secrtes ="),
        )
        .unwrap_err();
        assert!(err.contains("did you mean `secrets`"), "{err}");
    }

    #[test]
    fn approval_rules_must_be_satisfiable_and_name_known_keys() {
        let text = format!("{MINIMAL}\n[approvals]\nrules = [{{ paths = [\"npm/prod/**\"], required = 2, approvers = [\"alice\"] }}]\n");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("approver `alice` has no key"), "{err}");
    }

    #[test]
    fn a_health_watch_that_cannot_fail_is_refused() {
        let text =
            format!("{MINIMAL}\n[health]\nrole = \"tester\"\nsamples = 2\nmax_failures = 2\n");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("can never fail"), "{err}");
    }

    #[test]
    fn concurrency_and_provider_limits_are_checked_against_the_issuer() {
        let w = parse(MINIMAL).unwrap();
        assert_eq!(
            (w.concurrency, w.provider()),
            (DEFAULT_CONCURRENCY, "generated".into())
        );
        let text = MINIMAL.replace("secrets = [", "concurrency = 0\nsecrets = [");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("set `concurrency` between 1"), "{err}");
        let text = format!("{MINIMAL}\n[providers.npm-registry]\nin_flight = 4\n");
        let err = parse(&text).unwrap_err();
        assert!(
            err.contains("[providers.npm-registry] names a provider this workflow does not use")
                && err.contains("write [providers.generated]"),
            "{err}"
        );
        let text = format!("{MINIMAL}\n[providers.generated]\nin_flight = 3\n");
        assert_eq!(parse(&text).unwrap().in_flight["generated"], 3);
    }

    #[test]
    fn a_cluster_lease_is_bounded_and_defaults_to_thirty_seconds() {
        assert_eq!(parse(MINIMAL).unwrap().cluster, None);
        let w = parse(&format!("{MINIMAL}\n[cluster]\n")).unwrap();
        assert_eq!(w.cluster.map(|c| c.lease_ttl_s), Some(30));
        let err = parse(&format!("{MINIMAL}\n[cluster]\nlease_ttl_s = 1\n")).unwrap_err();
        assert!(
            err.contains("[cluster] lease_ttl_s = 1")
                && err.contains("give a lease of 3 to 3600 seconds"),
            "{err}"
        );
        let err = parse(&format!("{MINIMAL}\n[cluster]\nlease_tll_s = 10\n")).unwrap_err();
        assert!(err.contains("lease_ttl_s"), "{err}");
    }
}
