//! `agentward rotate`, `resume`, `approve`, `show` and `approver new`: the
//! orchestrator at the command line.
//!
//! Exit codes: 0 every secret of the change is DONE (or nothing was due);
//! 1 a secret was ABORTED or ROLLED_BACK, or the change stopped (resume
//! it); 2 bad input; 3 the change waits for approvals or its window.

use super::Failure;
use agentward::audit::keys::NoteSigner;
use agentward::audit::{AuditKeys, AuditLog, Durability};
use agentward::cluster::Cluster;
use agentward::orchestrator::approvals;
use agentward::orchestrator::manifest::{ItemState, Manifest, ManifestError};
use agentward::orchestrator::workflow::Workflow;
use agentward::orchestrator::{Drive, Orchestrator, Progress, Quiet};
use agentward::policy::Policy;
use agentward::runtime::Host;
use agentward::store::overlay::DryRunStore;
use agentward::store::SecretStore;
use anyhow::{anyhow, Context};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code of a change that waits for approvals or its window.
const EXIT_WAITING: u8 = 3;

#[derive(clap::Args)]
pub(crate) struct Common {
    /// The policy file (default: PROJECT/policies/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The workflow file (default: PROJECT/policies/workflow.toml).
    #[arg(long)]
    workflow: Option<PathBuf>,
    /// Evaluate cadence and windows as of this time (RFC 3339, UTC) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Print one JSON document instead of progress and a table.
    #[arg(long)]
    json: bool,
    /// Also write a report: junit=FILE (one test case per secret and per
    /// check), markdown=FILE (a CI step summary) or json=FILE (the --json
    /// document). Repeatable; written even when the rotation fails.
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    reports: Vec<super::report::ReportSpec>,
    #[command(flatten)]
    store: super::store_args::StoreArgs,
}

#[derive(clap::Args)]
pub(crate) struct RotateArgs {
    /// Rotate this secret now, outside the window, as a suspected breach.
    #[arg(long, value_name = "PATH")]
    breach: Option<String>,
    /// Run the whole rotation against an in-memory overlay of the store:
    /// roles run, nothing real changes, the manifest says what would.
    #[arg(long)]
    dry_run: bool,
    /// Say what is due, why, and when its change would start (the
    /// workflow's schedule or window), and make no change.
    #[arg(long, conflicts_with_all = ["breach", "dry_run"])]
    due: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct ResumeArgs {
    /// The change id (`rotate` printed it; `ls manifests/`).
    change: String,
    /// PATH@VERSION: you revoked this credential at its issuer yourself
    /// (the change stopped because agentward could not); the claim is
    /// recorded in the audit log and the change goes on.
    #[arg(long, value_name = "PATH@VERSION")]
    revoked_by_hand: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["key", "ssh_signature", "print_message"])))]
pub(crate) struct ApproveArgs {
    change: String,
    /// The approver's private key (`agentward approver new NAME`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// An SSH signature of the approval message, made with `agentward
    /// approve CHANGE --print-message | ssh-keygen -Y sign -n
    /// agentward-approval -f KEY - > FILE`; the key must be in the
    /// workflow's allowed_signers.
    #[arg(long, value_name = "FILE")]
    ssh_signature: Option<PathBuf>,
    /// Print the exact message an approver signs for this change's current
    /// plan, and nothing else.
    #[arg(long)]
    print_message: bool,
    /// The plan hash the approver reviewed (`agentward show CHANGE`); the
    /// approval is refused if the change's plan is not this one.
    #[arg(long)]
    plan_hash: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct ShowArgs {
    change: String,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub(crate) enum ApproverCommand {
    /// Create an approver's ed25519 key pair: NAME.key (keep it private)
    /// and NAME.pub (its line goes under [approvals.keys] in the workflow).
    New {
        name: String,
        /// Where to write the two files.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// Everything a rotation command works with.
struct Session {
    policy: Policy,
    workflow: Workflow,
    store: Arc<dyn SecretStore>,
    dry: Option<Arc<DryRunStore>>,
    log: Arc<AuditLog>,
    keys: AuditKeys,
    host: Host,
    manifests: PathBuf,
    /// With `[cluster]` in the workflow, for a live change.
    cluster: Option<Cluster>,
}

impl Session {
    /// The policy's review ([`super::policy::admit`]) before anything runs.
    fn admit_policy(&self, project: &Path) -> Result<(), Failure> {
        super::policy::admit(
            project,
            &self.policy,
            Some(&self.workflow),
            self.store.as_ref(),
            &self.log,
            self.dry.is_some(),
        )
    }

    fn open(project: &Path, common: &Common, dry_run: bool) -> Result<Session, Failure> {
        let policy = Policy::load(&super::policy_path(project, common.policy.clone()), project)?;
        let workflow_path = super::workflow_path(project, common.workflow.clone());
        let workflow = Workflow::load(&workflow_path)?;
        let real = common.store.open(project)?;
        let dry = dry_run.then(|| Arc::new(DryRunStore::new(real.clone())));
        let store: Arc<dyn SecretStore> = match &dry {
            Some(dry) => dry.clone(),
            None => real,
        };
        let keys = super::audit_keys(project)?;
        // A dry run changes nothing real, so its records need not reach the
        // disk before each step; the closing checkpoint syncs them.
        let durability = if dry_run {
            Durability::Buffered
        } else {
            Durability::BeforeEffects
        };
        let mut log = AuditLog::open_dir(&project.join("logs"), durability)?;
        // The log is the real one in a dry run too: its checkpoints are
        // witnessed alike.
        if let Some(config) = &workflow.witness {
            log = log.with_witnessing(super::witness::from_workflow(
                config,
                &common.store.openbao,
            )?);
        }
        let log = Arc::new(log);
        let cluster = match &workflow.cluster {
            Some(config) if !dry_run => Some(Cluster::new(
                common.store.openbao.connect("the workflow's [cluster]")?,
                Duration::from_secs(config.lease_ttl_s),
            )),
            _ => None,
        };
        let redactor = agentward::audit::Redactor::new(*keys.hmac);
        let host = super::host_for(
            project,
            log.clone(),
            store.clone(),
            redactor,
            Some(workflow.concurrency),
        )?;
        Ok(Session {
            policy,
            workflow,
            store,
            dry,
            log,
            keys,
            host,
            manifests: project.join("manifests"),
            cluster,
        })
    }

    /// Takes the change for this host when it is one of a cluster's.
    fn hold(&self, orchestrator: &mut Orchestrator<'_>, change_id: &str) -> Result<(), Failure> {
        match &self.cluster {
            Some(cluster) => orchestrator
                .hold(cluster, change_id)
                .map_err(|e| Failure::Failed(e.into())),
            None => Ok(()),
        }
    }

    fn orchestrator<'s>(&'s self, progress: &'s dyn Progress) -> Result<Orchestrator<'s>, Failure> {
        Orchestrator::new(
            &self.host,
            &self.policy,
            &self.workflow,
            self.store.clone(),
            &self.log,
            &self.keys,
            self.manifests.clone(),
            self.dry.is_some(),
            progress,
        )
        .map_err(|e| Failure::BadInput(e.into()))
    }
}

fn now(common: &Common) -> Result<String, Failure> {
    match &common.now {
        None => Ok(agentward::time::now_rfc3339()),
        Some(t) => {
            use time::format_description::well_known::Rfc3339;
            // Normalised to UTC: every time the orchestrator compares is UTC.
            let parsed = time::OffsetDateTime::parse(t, &Rfc3339)
                .with_context(|| format!("--now {t:?} is not an RFC 3339 time"))?;
            Ok(parsed
                .to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .expect("formats"))
        }
    }
}

pub(crate) fn rotate(project: &Path, args: RotateArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let session = Session::open(project, &args.common, args.dry_run)?;
    session.admit_policy(project)?;
    let now = now(&args.common)?;
    let bar = Bar::new(args.common.json);
    let mut orchestrator = session.orchestrator(&bar)?;
    if args.due {
        return due(&session, &mut orchestrator, &now, args.common.json);
    }
    let planned = orchestrator
        .plan(args.breach.as_deref(), &now)
        .map_err(|e| match e {
            agentward::orchestrator::OrchestratorError::Refused(_) => Failure::BadInput(e.into()),
            e => Failure::Failed(e.into()),
        })?;
    let Some(mut manifest) = planned else {
        let doc = serde_json::json!({ "change_id": null, "items": [], "summary": "nothing due" });
        super::report::write_all(
            &args.common.reports,
            &super::report::Outcome {
                manifest: None,
                waiting: None,
                error: None,
                doc: &doc,
                wall_secs: started.elapsed().as_secs_f64(),
            },
        )?;
        if args.common.json {
            println!("{doc}");
        } else {
            println!("nothing is due for rotation");
        }
        return Ok(());
    };
    if !args.common.json {
        eprintln!(
            "change {} planned: {} secrets ({})",
            manifest.change_id,
            manifest.items.len(),
            if args.dry_run { "dry run" } else { "live" }
        );
    }
    session.hold(&mut orchestrator, &manifest.change_id)?;
    let drive = orchestrator.drive(&mut manifest, &now);
    finish(
        &session,
        &orchestrator,
        &mut manifest,
        drive,
        started,
        &args.common,
    )
}

/// `rotate --due`: the plan, and when it would start.
fn due(
    session: &Session,
    orchestrator: &mut Orchestrator<'_>,
    now: &str,
    json: bool,
) -> Result<(), Failure> {
    let plan = orchestrator
        .due(now)
        .map_err(|e| Failure::Failed(e.into()))?;
    let when = plan.not_before.clone().unwrap_or_else(|| "now".to_string());
    let schedule = session.workflow.schedule.as_ref().map(|s| {
        let at = time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
            .ok()
            .and_then(|t| s.window_from(t));
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        match at {
            Some((opens, closes)) => format!(
                "schedule `{}` (UTC): window {} – {}",
                s.expression,
                fmt(opens),
                fmt(closes)
            ),
            None => format!("schedule `{}` (UTC): no window ahead", s.expression),
        }
    });
    if json {
        let doc = serde_json::json!({
            "due": plan.items.iter().map(|i| serde_json::json!({
                "path": i.path, "current_version": i.current_version, "why": i.reason,
            })).collect::<Vec<_>>(),
            "starts": if plan.items.is_empty() { None } else { Some(&when) },
            "schedule": schedule,
            "notes": plan.notes,
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return Ok(());
    }
    if let Some(schedule) = &schedule {
        println!("{schedule}");
    }
    if plan.items.is_empty() {
        println!("nothing is due for rotation");
        return Ok(());
    }
    let mut rows = vec![["PATH".to_string(), "WHY".to_string(), "STARTS".to_string()]];
    for item in &plan.items {
        rows.push([item.path.clone(), item.reason.clone(), when.clone()]);
    }
    super::check::print_table(&rows);
    for note in &plan.notes {
        println!("note: {note}");
    }
    Ok(())
}

pub(crate) fn resume(project: &Path, args: ResumeArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let manifests = project.join("manifests");
    // A change another host of a cluster drove may not be here yet: taking
    // it brings it (below).
    let dry_run = match Manifest::load(&manifests, &args.change) {
        Ok(manifest) => {
            if manifest.dry_run
                && manifest.state != agentward::orchestrator::manifest::ChangeState::Closed
            {
                return Err(Failure::BadInput(anyhow!(
                    "change {} was a dry run, whose overlay lived only in that process\n  fix: run `agentward rotate --dry-run` again",
                    manifest.change_id
                )));
            }
            manifest.dry_run
        }
        Err(ManifestError::NotFound { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let session = Session::open(project, &args.common, dry_run)?;
    session.admit_policy(project)?;
    let now = now(&args.common)?;
    let bar = Bar::new(args.common.json);
    let mut orchestrator = session.orchestrator(&bar)?;
    for claim in &args.revoked_by_hand {
        let parsed = claim
            .rsplit_once('@')
            .and_then(|(path, v)| Some((path.to_string(), v.parse::<u32>().ok()?)));
        let Some(claim) = parsed else {
            return Err(Failure::BadInput(anyhow!(
                "--revoked-by-hand {claim:?}: expected PATH@VERSION, e.g. npm/bot-token@3"
            )));
        };
        orchestrator.revoked_by_hand.push(claim);
    }
    session.hold(&mut orchestrator, &args.change)?;
    let mut manifest = Manifest::load(&manifests, &args.change)?;
    if session.workflow.digest != manifest.workflow.sha256 {
        eprintln!(
            "note: {} changed since the change was planned; its plan and approvals stand as recorded",
            session.workflow.path.display()
        );
    }
    let drive = orchestrator.drive(&mut manifest, &now);
    finish(
        &session,
        &orchestrator,
        &mut manifest,
        drive,
        started,
        &args.common,
    )
}

/// What an approver signs with: their agentward key (`--key`) or an SSH
/// signature they made (`--ssh-signature`), as `approve` and `policy
/// approve` take it.
pub(crate) enum SignedBy {
    Key(Box<NoteSigner>),
    Ssh(String),
}

impl SignedBy {
    /// Loads the one of `key` and `ssh_signature` given (clap requires one).
    pub(crate) fn load(
        key: Option<&Path>,
        ssh_signature: Option<&Path>,
    ) -> Result<SignedBy, Failure> {
        match (key, ssh_signature) {
            (Some(key), _) => Ok(SignedBy::Key(Box::new(NoteSigner::load(key)?))),
            (None, Some(file)) => Ok(SignedBy::Ssh(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading the SSH signature {}", file.display()))?,
            )),
            (None, None) => unreachable!("clap requires --key or --ssh-signature"),
        }
    }

    pub(crate) fn signature(&self) -> approvals::Signature<'_> {
        match self {
            SignedBy::Key(signer) => approvals::Signature::Key(signer),
            SignedBy::Ssh(armored) => approvals::Signature::Ssh(armored),
        }
    }
}

pub(crate) fn approve(project: &Path, args: ApproveArgs) -> Result<(), Failure> {
    let manifests = project.join("manifests");
    // A change planned here is approved from its local copy. One of a
    // cluster's changes may have been planned on another host: taking it
    // brings its replica here, and the approval goes into the replica too,
    // for whichever host resumes it.
    let print_message = |m: &Manifest| -> Result<(), Failure> {
        std::io::stdout().write_all(&approvals::message(&m.change_id, &m.plan_hash))?;
        Ok(())
    };
    let local = manifests.join(format!("{}.json", args.change)).exists();
    if args.print_message && local {
        return print_message(&Manifest::load(&manifests, &args.change)?);
    }
    let session = Session::open(project, &args.common, false)?;
    let mut orchestrator = session.orchestrator(&Quiet)?;
    session.hold(&mut orchestrator, &args.change)?;
    let mut manifest = Manifest::load(&manifests, &args.change)?;
    if args.print_message {
        return print_message(&manifest);
    }
    let signed_by = SignedBy::load(args.key.as_deref(), args.ssh_signature.as_deref())?;
    let signature = signed_by.signature();
    let missing = orchestrator
        .approve(&mut manifest, signature, args.plan_hash.as_deref())
        .map_err(|e| Failure::BadInput(e.into()))?;
    let approver = &manifest.approvals.last().expect("just approved").approver;
    println!(
        "{approver} approved plan {} of change {}",
        manifest.plan_hash, manifest.change_id
    );
    if missing.is_empty() {
        println!(
            "approvals complete: run `agentward resume {}`",
            manifest.change_id
        );
    } else {
        for line in missing {
            println!("still missing: {line}");
        }
    }
    Ok(())
}

pub(crate) fn show(project: &Path, args: ShowArgs) -> Result<(), Failure> {
    let manifest = Manifest::load(&project.join("manifests"), &args.change)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&manifest).expect("json"));
        return Ok(());
    }
    println!(
        "change {} ({}, {:?} trigger{}): {}",
        manifest.change_id,
        if manifest.dry_run { "dry run" } else { "live" },
        manifest.trigger,
        manifest
            .breach
            .as_deref()
            .map_or(String::new(), |p| format!(" on {p}")),
        manifest.state.as_str()
    );
    println!("plan hash {}", manifest.plan_hash);
    for item in &manifest.plan.items {
        println!("  {}: {}", item.path, item.reason);
    }
    for note in &manifest.plan.notes {
        println!("  note: {note}");
    }
    for approval in &manifest.approvals {
        println!("approved by {} at {}", approval.approver, approval.ts);
    }
    print_items(&manifest);
    Ok(())
}

pub(crate) fn approver(command: ApproverCommand) -> Result<(), Failure> {
    let ApproverCommand::New { name, out } = command;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Failure::BadInput(anyhow!(
            "approver name {name:?}: use letters, digits, - and _"
        )));
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let signer = NoteSigner::generate(&name);
    let (private, public) = (
        out.join(format!("{name}.key")),
        out.join(format!("{name}.pub")),
    );
    signer.write(&private, &public)?;
    println!(
        "wrote {} (keep it private) and {}",
        private.display(),
        public.display()
    );
    println!("add to the workflow's [approvals.keys]:");
    println!("{name} = \"{}\"", signer.verifier().encode());
    Ok(())
}

/// Prints the outcome (a table, or JSON) and maps it to the exit code.
fn finish(
    session: &Session,
    orchestrator: &Orchestrator<'_>,
    manifest: &mut Manifest,
    drive: Result<Drive, agentward::orchestrator::OrchestratorError>,
    started: Instant,
    common: &Common,
) -> Result<(), Failure> {
    let wall = started.elapsed();
    let timing = &orchestrator.timing();
    let planned: Vec<String> = session
        .dry
        .as_ref()
        .map(|d| d.report().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    if session.dry.is_some() && drive.is_ok() {
        // A dry run writes its manifest at plan time and here, at the end,
        // not at every step: nothing real happens in between.
        manifest.save(&session.manifests)?;
    }
    let waiting = match &drive {
        Ok(Drive::AwaitingApproval(missing)) => {
            Some(format!("waiting for approval: {}", missing.join("; ")))
        }
        Ok(Drive::AwaitingWindow(at)) => Some(format!(
            "waiting for the rotation window, which opens at {at}"
        )),
        _ => None,
    };
    let guest = timing.in_roles.saturating_sub(timing.in_host_calls);
    let error = drive.as_ref().err().map(|e| e.to_string());
    let doc = {
        let items: Vec<_> = manifest
            .items
            .iter()
            .map(|i| {
                serde_json::json!({
                    "path": i.path,
                    "old_version": i.expected_current,
                    "new_version": i.new_version(),
                    "state": i.state,
                    "reason": i.reason,
                })
            })
            .collect();
        serde_json::json!({
            "change_id": manifest.change_id,
            "state": manifest.state,
            "dry_run": manifest.dry_run,
            "trigger": manifest.trigger,
            "plan_hash": manifest.plan_hash,
            "items": items,
            "waiting": waiting,
            "error": error,
            "planned_changes": planned,
            "timing": {
                "wall_ms": ms(wall),
                "role_runs": timing.role_runs,
                "roles_ms": ms(timing.in_roles),
                "guest_ms": ms(guest),
                "host_calls_ms": ms(timing.in_host_calls),
                "orchestrator_ms": ms(wall.saturating_sub(timing.roles_busy)),
                "host_calls_by_interface_ms": timing
                    .by_interface
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::json!(ms(*v))))
                    .collect::<serde_json::Map<_, _>>(),
            },
        })
    };
    super::report::write_all(
        &common.reports,
        &super::report::Outcome {
            manifest: Some(manifest),
            waiting: waiting.as_deref(),
            error: error.as_deref(),
            doc: &doc,
            wall_secs: wall.as_secs_f64(),
        },
    )?;
    if common.json {
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        print_items(manifest);
        if !planned.is_empty() {
            println!(
                "dry run: nothing real changed; the store would see {} changes:",
                planned.len()
            );
            for line in planned.iter().take(20) {
                println!("  {line}");
            }
            if planned.len() > 20 {
                println!(
                    "  … and {} more (manifests/{}.json)",
                    planned.len() - 20,
                    manifest.change_id
                );
            }
        }
        if let Some(w) = &waiting {
            println!("{w}");
        }
        println!(
            "{:.0} ms in all: {} role runs took {:.0} ms ({:.0} ms guest, {:.0} ms in host calls; summed over the runs in flight together); orchestration alone {:.0} ms",
            ms(wall),
            timing.role_runs,
            ms(timing.in_roles),
            ms(guest),
            ms(timing.in_host_calls),
            ms(wall.saturating_sub(timing.roles_busy))
        );
    }
    match drive {
        Err(e) => Err(Failure::Failed(e.into())),
        Ok(Drive::Closed) => {
            if manifest.items.iter().all(|i| i.state == ItemState::Done) {
                Ok(())
            } else {
                Err(Failure::Failed(anyhow!(
                    "change {} did not complete for every secret; `agentward audit timeline {}` shows why",
                    manifest.change_id,
                    manifest.change_id
                )))
            }
        }
        Ok(_) => Err(Failure::Code(
            EXIT_WAITING,
            anyhow!("{}", waiting.unwrap_or_default()),
        )),
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_items(manifest: &Manifest) {
    let mut rows = vec![[
        "PATH".to_string(),
        "FROM".to_string(),
        "TO".to_string(),
        "STATE".to_string(),
        "DETAIL".to_string(),
    ]];
    let version = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
    for item in &manifest.items {
        let detail = item.detail();
        rows.push([
            item.path.clone(),
            version(item.expected_current),
            version(item.new_version()),
            item.state.to_string(),
            detail.chars().take(100).collect(),
        ]);
    }
    super::check::print_table(&rows);
    let counts: Vec<String> = manifest
        .outcome()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!("change {}: {}", manifest.change_id, counts.join(", "));
}

/// An indicatif bar over the change's secrets, on stderr, shown only on a
/// terminal and never with --json.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(json: bool) -> Bar {
        use std::io::IsTerminal;
        let bar = if json || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(0)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} secrets {msg} ({eta})")
                .expect("a valid template"),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn started(&self, manifest: &Manifest) {
        self.0.set_length(manifest.items.len() as u64);
        self.0.set_position(
            manifest
                .items
                .iter()
                .filter(|i| i.state.is_terminal())
                .count() as u64,
        );
    }

    fn item_finished(&self, item: &agentward::orchestrator::manifest::Item) {
        self.0.inc(1);
        self.0.set_message(format!("{} {}", item.path, item.state));
        if self.0.position() == self.0.length().unwrap_or(0) {
            self.0.finish_and_clear();
        }
    }
}
