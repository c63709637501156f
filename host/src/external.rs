//! Commands the operator names in the workflow (a notifier, an audit
//! witness): run without a shell unless they name one, given their input
//! on stdin and a few `AGENTWARD_*` variables, judged by their exit status,
//! and killed at a deadline, so a command that hangs cannot hold a rotation
//! (or the audit log's lock) hostage.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How an operator's command went wrong; [`std::fmt::Display`] names the
/// program.
#[derive(Debug)]
pub enum CommandError {
    Empty,
    Spawn {
        program: String,
        reason: String,
    },
    Failed {
        program: String,
        status: ExitStatus,
        stderr: String,
    },
    TimedOut {
        program: String,
        after: Duration,
    },
    Wait(String),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Empty => write!(f, "the command is empty"),
            CommandError::Spawn { program, reason } => write!(f, "cannot run {program}: {reason}"),
            CommandError::Failed {
                program, status, ..
            } => {
                write!(f, "{program} exited with {status}")
            }
            CommandError::TimedOut { program, after } => write!(
                f,
                "{program} did not finish within {} s and was killed",
                after.as_secs()
            ),
            CommandError::Wait(reason) => f.write_str(reason),
        }
    }
}

impl CommandError {
    /// The last line the command wrote to stderr, if it failed and said
    /// anything: usually why.
    pub fn said(&self) -> Option<&str> {
        match self {
            CommandError::Failed { stderr, .. } => stderr.trim().lines().last(),
            _ => None,
        }
    }
}

/// Runs `argv` with `input` on stdin and `env` added to the host's
/// environment, waiting at most `timeout`.
pub fn run(
    argv: &[String],
    input: &[u8],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<(), CommandError> {
    let (program, args) = argv.split_first().ok_or(CommandError::Empty)?;
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CommandError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })?;
    // A command that exits without reading its input is judged by its
    // exit status, not by the broken pipe.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    // Read beside the wait, so a chatty command never blocks on a full
    // pipe; a channel, so a grandchild keeping the pipe open cannot keep us.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (said_tx, said_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        let _ = stderr.read_to_end(&mut said);
        let _ = said_tx.send(String::from_utf8_lossy(&said).into_owned());
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Err(e) => return Err(CommandError::Wait(e.to_string())),
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::TimedOut {
                    program: program.clone(),
                    after: timeout,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    if status.success() {
        Ok(())
    } else {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        Err(CommandError::Failed {
            program: program.clone(),
            status,
            stderr: said_rx.recv_timeout(wait).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn input_env_status_and_stderr_reach_the_caller() {
        let ok = run(
            &sh("test \"$(cat)\" = note && test \"$X\" = 1"),
            b"note",
            &[("X", "1")],
            Duration::from_secs(10),
        );
        assert!(ok.is_ok(), "{ok:?}");
        let failed = run(
            &sh("echo full >&2; exit 3"),
            b"",
            &[],
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert_eq!(failed.to_string(), "sh exited with exit status: 3");
        assert_eq!(failed.said(), Some("full"));
    }

    #[test]
    fn a_command_that_hangs_is_killed_at_its_deadline() {
        let hung = run(&sh("sleep 30"), b"", &[], Duration::from_millis(300)).unwrap_err();
        assert!(matches!(hung, CommandError::TimedOut { .. }), "{hung}");
        assert_eq!(
            hung.to_string(),
            "sh did not finish within 0 s and was killed"
        );
    }
}
