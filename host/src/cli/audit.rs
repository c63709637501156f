//! `agentward audit …`: verify the log, render a timeline, recover after a crash.

use super::Failure;
use agentward::audit::keys::{NoteVerifier, VERIFIER_FILE};
use agentward::audit::log::{recover, LOG_FILE};
use agentward::audit::record::AuditRecord;
use agentward::audit::timeline::{render, Format};
use agentward::audit::verify::{verify_dir, verify_witnessed};
use anyhow::{anyhow, Context};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Check every record's hash, the chain, and every signed checkpoint.
    /// Exit codes: 0 verified; 10 a record was edited; 11 deleted;
    /// 12 reordered or chain broken; 13 truncated or rewritten since a
    /// checkpoint; 14 torn last record; 15 a model transcript changed
    /// since its record; 20 forged checkpoint; 21 checkpoint
    /// signed by another key; 2 unreadable input.
    Verify {
        /// The public key (default: PROJECT/keys/audit-signing.pub); with
        /// several --logs, one per log in the same order, or one for all.
        #[arg(long)]
        key: Vec<PathBuf>,
        /// The logs directory (default: PROJECT/logs); repeat it for
        /// several hosts' logs, each verified and reported on its own.
        #[arg(long)]
        logs: Vec<PathBuf>,
        /// Also check the log against what a witness holds: `openbao:PATH`
        /// (the server of --openbao-addr) or a signed note FILE the witness
        /// kept; one per --logs, in the same order. Fails when the log is
        /// behind the witness or differs from it.
        #[arg(long)]
        witness: Vec<String>,
        #[command(flatten)]
        openbao: super::store_args::OpenBaoArgs,
    },
    /// A readable timeline: who did what, when, on which secret, allowed or denied.
    Timeline {
        /// Only this change id.
        change: Option<String>,
        #[arg(long, value_enum, default_value = "terminal")]
        format: TimelineFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The logs directory (default: PROJECT/logs).
        #[arg(long)]
        logs: Option<PathBuf>,
    },
    /// Cut a torn last record left by a crash, keeping its bytes beside the log.
    Recover {
        /// The logs directory (default: PROJECT/logs).
        #[arg(long)]
        logs: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum TimelineFormat {
    Terminal,
    Markdown,
    Html,
}

pub(crate) fn run(project: &Path, command: Command) -> Result<(), Failure> {
    let logs_dir = |logs: Option<PathBuf>| logs.unwrap_or_else(|| project.join("logs"));
    match command {
        Command::Verify {
            key,
            logs,
            witness,
            openbao,
        } => verify(project, key, logs, witness, &openbao),
        Command::Timeline {
            change,
            format,
            out,
            logs,
        } => {
            let records = read_records(&logs_dir(logs).join(LOG_FILE))?;
            let format = match format {
                TimelineFormat::Terminal => Format::Terminal {
                    colour: out.is_none() && std::io::stdout().is_terminal(),
                },
                TimelineFormat::Markdown => Format::Markdown,
                TimelineFormat::Html => Format::Html,
            };
            let text = render(&records, change.as_deref(), format);
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::Recover { logs } => {
            let path = logs_dir(logs).join(LOG_FILE);
            match recover(&path)? {
                None => println!("{} has no torn record; nothing to do", path.display()),
                Some(recovery) => println!(
                    "cut a torn record of {} bytes from {}; its bytes are in {}",
                    recovery.cut_bytes,
                    path.display(),
                    recovery.saved_to.display()
                ),
            }
            Ok(())
        }
    }
}

/// `audit verify`: each log on its own line, with its own key and
/// witness; the first failure's exit code when any fails.
fn verify(
    project: &Path,
    keys: Vec<PathBuf>,
    logs: Vec<PathBuf>,
    witnesses: Vec<String>,
    openbao: &super::store_args::OpenBaoArgs,
) -> Result<(), Failure> {
    let logs = if logs.is_empty() {
        vec![project.join("logs")]
    } else {
        logs
    };
    let keys = match keys.len() {
        0 => vec![super::keys_dir(project).join(VERIFIER_FILE); logs.len()],
        1 => vec![keys[0].clone(); logs.len()],
        n if n == logs.len() => keys,
        n => {
            return Err(Failure::BadInput(anyhow!(
                "{n} --key for {} --logs\n  fix: give one --key for all logs, or one per --logs in the same order",
                logs.len()
            )))
        }
    };
    if !witnesses.is_empty() && witnesses.len() != logs.len() {
        return Err(Failure::BadInput(anyhow!(
            "{} --witness for {} --logs\n  fix: give one --witness per --logs, in the same order",
            witnesses.len(),
            logs.len()
        )));
    }
    let mut failed = None;
    for (i, (dir, key)) in logs.iter().zip(&keys).enumerate() {
        let verifier = NoteVerifier::load(key)?;
        let log = dir.join(LOG_FILE);
        let result = match witnesses.get(i) {
            None => verify_dir(dir, &verifier).map(|v| (v, String::new())),
            Some(spec) => {
                let witness = super::witness::from_spec(spec, openbao)?;
                let note = witness
                    .latest()
                    .map_err(|e| anyhow!("witness {}: {e}", witness.name()))?
                    .ok_or_else(|| {
                        anyhow!(
                            "witness {} holds no checkpoint\n  fix: check the witness path; a log whose rotations were witnessed has one",
                            witness.name()
                        )
                    })?;
                verify_witnessed(dir, &verifier, &witness.name(), &note).map(|v| {
                    (
                        v,
                        format!("; it holds what witness {} holds", witness.name()),
                    )
                })
            }
        };
        match result {
            Ok((verified, witnessed)) => println!(
                "verified {} records in {}; {} signed checkpoints, the latest covering {} records (key {}){witnessed}",
                verified.records,
                log.display(),
                verified.checkpoints,
                verified.signed_size,
                verifier.name
            ),
            Err(tamper) => {
                println!("FAILED {}: {tamper}", log.display());
                failed.get_or_insert((tamper.exit_code(), log.display().to_string(), tamper.to_string()));
            }
        }
    }
    match failed {
        None => Ok(()),
        Some((code, log, tamper)) => Err(Failure::Code(
            code,
            anyhow!("audit log verification failed: {log}: {tamper}"),
        )),
    }
}

/// Every complete record; a timeline is for reading, so a torn tail is
/// skipped here (verify is where it is reported).
fn read_records(path: &Path) -> anyhow::Result<Vec<AuditRecord>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut records = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        match serde_json::from_str(&line) {
            Ok(record) => records.push(record),
            Err(e) => eprintln!("warning: {} line {}: {e}", path.display(), number + 1),
        }
    }
    Ok(records)
}
