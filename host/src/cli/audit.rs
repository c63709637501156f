//! `agentward audit …`: verify the log, render a timeline, recover after a crash.

use super::Failure;
use agentward::audit::keys::{NoteVerifier, VERIFIER_FILE};
use agentward::audit::log::{recover, LOG_FILE};
use agentward::audit::record::AuditRecord;
use agentward::audit::timeline::{render, Format};
use agentward::audit::verify::verify_dir;
use anyhow::{anyhow, Context};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Check every record's hash, the chain, and every signed checkpoint.
    /// Exit codes: 0 verified; 10 a record was edited; 11 deleted;
    /// 12 reordered or chain broken; 13 truncated or rewritten since a
    /// checkpoint; 14 torn last record; 20 forged checkpoint; 21 checkpoint
    /// signed by another key; 2 unreadable input.
    Verify {
        /// The public key (default: PROJECT/keys/audit-signing.pub).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The logs directory (default: PROJECT/logs).
        #[arg(long)]
        logs: Option<PathBuf>,
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
        Command::Verify { key, logs } => {
            let key = key.unwrap_or_else(|| super::keys_dir(project).join(VERIFIER_FILE));
            let verifier = NoteVerifier::load(&key)?;
            let logs = logs_dir(logs);
            match verify_dir(&logs, &verifier) {
                Ok(verified) => {
                    println!(
                        "verified {} records in {}; {} signed checkpoints, the latest covering {} records (key {})",
                        verified.records,
                        logs.join(LOG_FILE).display(),
                        verified.checkpoints,
                        verified.signed_size,
                        verifier.name
                    );
                    Ok(())
                }
                Err(tamper) => Err(Failure::Code(
                    tamper.exit_code(),
                    anyhow!("audit log verification failed: {tamper}"),
                )),
            }
        }
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
