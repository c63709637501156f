//! Witnesses: every signed checkpoint is also handed to someone outside
//! the host's `logs/`, so that cutting the log's tail and deleting the
//! later checkpoints no longer goes unnoticed.
//!
//! A checkpoint alone proves only what its file still says: whoever can
//! rewrite `logs/` can remove the last records and the checkpoints that
//! signed them, and `audit verify` then passes on the shorter log. A
//! witness keeps the latest checkpoint where the host's writer cannot
//! take it back: `audit verify --witness …` fails when the log is behind
//! what the witness holds or differs from it.
//!
//! Two kinds: a [`CommandWitness`] (the signed note on stdin of a command
//! the workflow names: a transparency service's client, a copy to another
//! machine) and, above this layer, OpenBao's KV (monotonic by
//! check-and-set). A witness that does not take a checkpoint is an error
//! of [`super::AuditLog::checkpoint`] when the configuration requires
//! witnessing, so a rotation stops before its next effect; otherwise it is
//! a warning.

use super::checkpoint::Checkpoint;
use std::sync::Arc;
use std::time::Duration;

/// A witness command that does not answer in this time is killed: the
/// checkpoint is then not taken.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

pub trait Witness: Send + Sync {
    /// Which witness, for messages: `command sh -c …`, `openbao:PATH`.
    fn name(&self) -> String;
    /// Hands over a signed checkpoint (`note`, whose parsed form is
    /// `checkpoint`); `Err`: it was not taken, and why.
    fn witness(&self, note: &str, checkpoint: &Checkpoint) -> Result<(), String>;
    /// The latest signed checkpoint it holds, for `audit verify`.
    fn latest(&self) -> Result<Option<String>, String>;
}

/// The witnesses of one log, and whether a checkpoint must be taken by
/// every one of them.
#[derive(Clone)]
pub struct Witnessing {
    pub witnesses: Vec<Arc<dyn Witness>>,
    pub required: bool,
}

/// Why a checkpoint went unwitnessed.
#[derive(Debug, thiserror::Error)]
#[error("witness {witness} did not take the checkpoint of {size} records: {reason}\n  fix: {fix}")]
pub struct WitnessError {
    pub witness: String,
    pub size: u64,
    pub reason: String,
    pub fix: &'static str,
}

impl Witnessing {
    /// Hands `note` to every witness. With `required`, the first refusal is
    /// the error; without, refusals are warnings on stderr.
    pub fn hand(&self, note: &str, checkpoint: &Checkpoint) -> Result<(), WitnessError> {
        for witness in &self.witnesses {
            if let Err(reason) = witness.witness(note, checkpoint) {
                let error = WitnessError {
                    witness: witness.name(),
                    size: checkpoint.size,
                    reason,
                    fix: "make the witness reachable and run the command again (`agentward resume` for a rotation); \
                          `required = false` under [witness] lets work go on with a warning",
                };
                if self.required {
                    return Err(error);
                }
                eprintln!("warning: {error}");
            }
        }
        Ok(())
    }
}

/// A command that receives each signed checkpoint on stdin, with
/// `AGENTWARD_CHECKPOINT_SIZE`, `_ROOT` and `_ORIGIN` in its environment;
/// exit status 0 within 10 s means taken ([`crate::external::run`]).
pub struct CommandWitness {
    pub argv: Vec<String>,
}

impl Witness for CommandWitness {
    fn name(&self) -> String {
        format!("command `{}`", self.argv.join(" "))
    }

    fn witness(&self, note: &str, checkpoint: &Checkpoint) -> Result<(), String> {
        let size = checkpoint.size.to_string();
        let env = [
            ("AGENTWARD_CHECKPOINT_SIZE", size.as_str()),
            ("AGENTWARD_CHECKPOINT_ROOT", checkpoint.root.as_str()),
            ("AGENTWARD_CHECKPOINT_ORIGIN", checkpoint.origin.as_str()),
        ];
        crate::external::run(&self.argv, note.as_bytes(), &env, COMMAND_TIMEOUT).map_err(
            |e| match e.said() {
                Some(said) => format!("{e}: {said}"),
                None => e.to_string(),
            },
        )
    }

    fn latest(&self) -> Result<Option<String>, String> {
        Err("a command witness is written to, not read back; pass the note it kept as --witness FILE".into())
    }
}

/// A signed note a witness kept, in a file: what `audit verify --witness
/// FILE` checks the log against.
pub struct NoteFile(pub std::path::PathBuf);

impl Witness for NoteFile {
    fn name(&self) -> String {
        self.0.display().to_string()
    }

    fn witness(&self, _note: &str, _checkpoint: &Checkpoint) -> Result<(), String> {
        Err("a note file is read, not written".into())
    }

    fn latest(&self) -> Result<Option<String>, String> {
        std::fs::read_to_string(&self.0)
            .map(Some)
            .map_err(|e| format!("cannot read {}: {e}", self.0.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "agentward/test".into(),
            size: 7,
            root: "ab".repeat(32),
        }
    }

    #[test]
    fn a_command_gets_the_note_and_its_refusal_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept.note");
        let taking = CommandWitness {
            argv: vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "cat > {} && test \"$AGENTWARD_CHECKPOINT_SIZE\" = 7",
                    kept.display()
                ),
            ],
        };
        taking.witness("the note\n", &checkpoint()).unwrap();
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "the note\n");
        let refusing = CommandWitness {
            argv: vec!["sh".into(), "-c".into(), "echo full >&2; exit 3".into()],
        };
        let why = refusing.witness("n", &checkpoint()).unwrap_err();
        assert!(
            why.contains("exit status: 3") && why.contains("full"),
            "{why}"
        );
        let w = Witnessing {
            witnesses: vec![Arc::new(refusing)],
            required: true,
        };
        let err = w.hand("n", &checkpoint()).unwrap_err().to_string();
        assert!(
            err.contains("command `sh -c echo full") && err.contains("7 records"),
            "{err}"
        );
        let optional = Witnessing {
            required: false,
            ..w
        };
        optional.hand("n", &checkpoint()).unwrap();
    }
}
