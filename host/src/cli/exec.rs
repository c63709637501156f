//! `agentward secrets exec`: a command with secrets in its environment, and
//! with `--watch` a supervisor that restarts it when a secret it holds
//! changes version (Vault Agent's process supervisor is the model).
//!
//! The values reach only the child's environment, never the terminal, a
//! file or the log. Each start is on record before the values leave (the
//! paths, versions and keyed digests of the values, the command line with
//! any value scrubbed from it, the operator), and each end after: the
//! child's exit, or the version change that restarted it. A restart sends
//! SIGTERM, waits `--grace-ms`, then sends SIGKILL: a consumer that drains
//! its connections gets the time to, one that hangs does not keep the old
//! credential in use.

use super::Failure;
use agentward::audit::{AuditKeys, AuditLog, CallEvent, Durability, EventSink, Redactor};
use agentward::store::{Label, SecretStore, SecretValue};
use anyhow::Context;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct ExecArgs {
    /// `VAR=PATH` or `VAR=PATH@LABEL` (label current by default).
    #[arg(long = "env", value_name = "VAR=PATH[@LABEL]", required = true)]
    env: Vec<String>,
    /// Keep the command running: restart it whenever a version it was
    /// given stops holding its label (a rotation promoted a new one).
    #[arg(long)]
    watch: bool,
    /// With --watch: how often to look at the store.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    poll_ms: u64,
    /// With --watch: how long a restarted command has between SIGTERM and
    /// SIGKILL.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    grace_ms: u64,
    #[command(flatten)]
    pub(crate) store: super::store_args::StoreArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// One `--env`: where a variable's value comes from.
struct Source {
    var: String,
    path: String,
    label: Label,
}

fn sources(env: &[String]) -> Result<Vec<Source>, Failure> {
    env.iter()
        .map(|spec| {
            let (var, from) = spec
                .split_once('=')
                .with_context(|| format!("--env {spec:?}: expected VAR=PATH or VAR=PATH@LABEL"))?;
            let (path, label) = match from.split_once('@') {
                Some((path, label)) => (
                    path,
                    Label::parse(label).with_context(|| {
                        format!("--env {spec:?}: label must be current, pending or previous")
                    })?,
                ),
                None => (from, Label::Current),
            };
            Ok(Source {
                var: var.to_string(),
                path: path.to_string(),
                label,
            })
        })
        .collect()
}

/// The values a start hands the child, and the versions they are.
struct Injected {
    values: Vec<(String, SecretValue)>,
    versions: Vec<Option<u32>>,
}

fn versions(store: &dyn SecretStore, sources: &[Source]) -> Result<Vec<Option<u32>>, Failure> {
    sources
        .iter()
        .map(|s| {
            Ok(store
                .describe(&s.path)
                .map_err(|e| Failure::Failed(e.into()))?
                .holder(s.label))
        })
        .collect()
}

fn inject(store: &dyn SecretStore, sources: &[Source]) -> Result<Injected, Failure> {
    // A promotion between looking at the version and reading the value
    // would pair one version's number with another's value: read until
    // the versions hold still around the read.
    loop {
        let before = versions(store, sources)?;
        let values = sources
            .iter()
            .map(|s| {
                let value = store
                    .read(&s.path, s.label)
                    .map_err(|e| Failure::Failed(e.into()))?;
                Ok((s.var.clone(), value))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        if versions(store, sources)? == before {
            return Ok(Injected {
                values,
                versions: before,
            });
        }
    }
}

/// Set by SIGTERM or SIGINT to the supervisor: stop the child and leave.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn on_stop_signals() {
    let handler = request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL.
fn terminate(child: &mut Child, grace: Duration) -> std::io::Result<(ExitStatus, &'static str)> {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) on our own child's pid, which has not been reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok((status, "exited after SIGTERM"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill()?;
    Ok((child.wait()?, "killed (SIGKILL) after the grace period"))
}

/// Writes the audit records of the starts and ends of the children.
struct Recorder<'a> {
    log: AuditLog,
    keys: &'a AuditKeys,
    redactor: Redactor,
    command: Vec<String>,
    operator: String,
}

impl Recorder<'_> {
    fn args(&self, sources: &[Source], injected: &Injected, start: u32) -> Map<String, Value> {
        let exposed: Vec<&str> = injected.values.iter().map(|(_, v)| v.expose()).collect();
        let mut args = Map::new();
        for ((source, (_, value)), version) in
            sources.iter().zip(&injected.values).zip(&injected.versions)
        {
            args.insert(
                source.var.clone(),
                json!({
                    "path": source.path,
                    "label": source.label.as_str(),
                    "version": version,
                    "value": self.redactor.digest(value.expose()),
                }),
            );
        }
        // The command line as typed, with any injected value replaced by
        // its digest (an operator may have pasted one into an argument).
        let argv: Vec<String> = self
            .command
            .iter()
            .map(|a| self.redactor.scrub(a, exposed.iter().copied()).into_owned())
            .collect();
        args.insert("command".into(), json!(argv));
        args.insert("operator".into(), json!(self.operator));
        args.insert("start".into(), json!(start));
        args
    }

    fn record(&self, args: &Map<String, Value>, outcome: &str) -> Result<(), Failure> {
        let event = CallEvent::by_host("", "operator", "", "secrets.exec", args.clone(), outcome);
        self.log.record(&event)?;
        Ok(())
    }

    fn seal(&self) -> Result<(), Failure> {
        self.log.checkpoint(self.keys)?;
        Ok(())
    }
}

fn spawn(command: &[String], injected: &Injected) -> std::io::Result<Child> {
    let mut child = std::process::Command::new(&command[0]);
    child.args(&command[1..]);
    for (var, value) in &injected.values {
        child.env(var, value.expose());
    }
    child.spawn()
}

fn exit_result(program: &str, status: ExitStatus) -> Result<(), Failure> {
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Code(
            u8::try_from(code).unwrap_or(1),
            anyhow::anyhow!("{program} exited with status {code}"),
        )),
        None => Err(Failure::Failed(anyhow::anyhow!(
            "{program} was killed by a signal"
        ))),
    }
}

/// What one child's life ended with.
enum End {
    Exited(ExitStatus),
    /// A version it holds changed (these are the versions now): start it
    /// again.
    Restart(Vec<Option<u32>>),
    /// The supervisor was told to stop.
    Stopped,
}

pub(crate) fn run(project: &Path, store: &dyn SecretStore, args: ExecArgs) -> Result<(), Failure> {
    let sources = sources(&args.env)?;
    let keys = super::audit_keys(project)?;
    let recorder = Recorder {
        log: AuditLog::open_dir(&project.join("logs"), Durability::EachRecord)?,
        keys: &keys,
        redactor: Redactor::new(*keys.hmac),
        command: args.command.clone(),
        operator: std::env::var("USER").unwrap_or_else(|_| format!("uid {}", users_uid())),
    };
    let program = &args.command[0];
    if args.watch {
        on_stop_signals();
    }
    let poll = Duration::from_millis(args.poll_ms.max(10));
    let grace = Duration::from_millis(args.grace_ms);
    for start in 1.. {
        let injected = inject(store, &sources)?;
        let record = recorder.args(&sources, &injected, start);
        // On record before the value leaves: a failing log stops the command.
        recorder.record(&record, agentward::capabilities::INTENT)?;
        let mut child = match spawn(&args.command, &injected) {
            Ok(child) => child,
            Err(e) => {
                recorder.record(&record, &format!("failed: cannot run {program}: {e}"))?;
                recorder.seal()?;
                return Err(Failure::Failed(
                    anyhow::Error::new(e).context(format!("running {program}")),
                ));
            }
        };
        let started_with = injected.versions;
        drop(injected.values);
        let end = if args.watch {
            watch(store, &sources, &started_with, &mut child, poll)?
        } else {
            End::Exited(
                child
                    .wait()
                    .with_context(|| format!("waiting for {program}"))?,
            )
        };
        match end {
            End::Exited(status) => {
                recorder.record(&record, &format!("ok: {status}"))?;
                recorder.seal()?;
                return exit_result(program, status);
            }
            End::Restart(now) => {
                let (status, how) =
                    terminate(&mut child, grace).with_context(|| format!("stopping {program}"))?;
                let changed: Vec<String> = sources
                    .iter()
                    .zip(started_with.iter().zip(&now))
                    .filter(|(_, (was, is))| was != is)
                    .map(|(s, (was, is))| {
                        format!(
                            "{} {} v{} → v{}",
                            s.path,
                            s.label.as_str(),
                            show(*was),
                            show(*is)
                        )
                    })
                    .collect();
                recorder.record(
                    &record,
                    &format!("ok: restarted on {}; {how} ({status})", changed.join(", ")),
                )?;
                recorder.seal()?;
                eprintln!(
                    "agentward: {} changed; restarting {program}",
                    changed.join(", ")
                );
            }
            End::Stopped => {
                let (status, how) =
                    terminate(&mut child, grace).with_context(|| format!("stopping {program}"))?;
                recorder.record(&record, &format!("ok: stopped by signal; {how} ({status})"))?;
                recorder.seal()?;
                return Ok(());
            }
        }
    }
    unreachable!("the loop returns")
}

fn show(version: Option<u32>) -> String {
    version.map_or("-".into(), |v| v.to_string())
}

/// Waits until the child exits, a version it holds changes, or a stop is
/// asked for. A store that cannot be read for a while leaves the child
/// running on what it has.
fn watch(
    store: &dyn SecretStore,
    sources: &[Source],
    started_with: &[Option<u32>],
    child: &mut Child,
    poll: Duration,
) -> Result<End, Failure> {
    let mut next_look = Instant::now() + poll;
    loop {
        if let Some(status) = child.try_wait().context("waiting for the command")? {
            return Ok(End::Exited(status));
        }
        if STOP.load(Ordering::SeqCst) {
            return Ok(End::Stopped);
        }
        if Instant::now() >= next_look {
            next_look = Instant::now() + poll;
            match versions(store, sources) {
                Ok(now) if now != started_with => return Ok(End::Restart(now)),
                Ok(_) => {}
                Err(Failure::Failed(e) | Failure::BadInput(e) | Failure::Code(_, e)) => {
                    eprintln!(
                        "agentward: cannot look at the store ({e:#}); the command keeps running"
                    )
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn users_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}
