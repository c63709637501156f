//! The audit witnesses a command hands checkpoints to (`[witness]` in the
//! workflow) or checks the log against (`audit verify --witness`).
//!
//! The OpenBao witness keeps the latest signed checkpoint of one host's
//! log in a KV v2 record and moves it forward only: a write is a
//! check-and-set on the version it read, and a checkpoint of fewer records
//! than it holds, or of another root for the size it holds, is refused. A
//! host that lost its tail, or one whose log was cut and re-signed, can
//! then not move the witness back, and `audit verify --witness` sees the
//! difference. KV v2 also keeps the record's earlier versions.

use super::store_args::OpenBaoArgs;
use super::Failure;
use agentward::audit::checkpoint::Checkpoint;
use agentward::audit::witness::{CommandWitness, NoteFile, Witness, Witnessing};
use agentward::orchestrator::workflow::WitnessConfig;
use agentward::store::openbao::{KvRecord, OpenBaoStore};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct OpenBaoWitness {
    store: OpenBaoStore,
    path: String,
}

impl OpenBaoWitness {
    fn held(&self) -> Result<Option<KvRecord>, String> {
        self.store.record(&self.path).map_err(|e| e.to_string())
    }
}

impl Witness for OpenBaoWitness {
    fn name(&self) -> String {
        format!("openbao:{} at {}", self.path, self.store.addr())
    }

    fn witness(&self, note: &str, checkpoint: &Checkpoint) -> Result<(), String> {
        // Two tries: a lost check-and-set is re-read and judged again.
        for _ in 0..2 {
            let (version, data) = self.held()?.unwrap_or_default();
            if let Some(size) = data.get("size").and_then(Value::as_u64) {
                let root = data.get("root").and_then(Value::as_str).unwrap_or("");
                if size > checkpoint.size {
                    return Err(format!(
                        "it holds a checkpoint of {size} records, and this log's has {}: the log lost records it had signed",
                        checkpoint.size
                    ));
                }
                if size == checkpoint.size {
                    return if root == checkpoint.root {
                        Ok(())
                    } else {
                        Err(format!(
                            "it holds another root for {size} records ({root}, this log's is {}): the log was rewritten",
                            checkpoint.root
                        ))
                    };
                }
            }
            let mut next = Map::new();
            next.insert("note".into(), json!(note));
            next.insert("size".into(), json!(checkpoint.size));
            next.insert("root".into(), json!(checkpoint.root));
            next.insert("origin".into(), json!(checkpoint.origin));
            if self
                .store
                .write_record(&self.path, version, &next)
                .map_err(|e| e.to_string())?
            {
                return Ok(());
            }
        }
        Err("another writer kept moving the record (check-and-set lost twice)".into())
    }

    fn latest(&self) -> Result<Option<String>, String> {
        Ok(self
            .held()?
            .and_then(|(_, data)| data.get("note").and_then(Value::as_str).map(str::to_string)))
    }
}

/// The witnesses `[witness]` names, reached with `conn` for OpenBao.
pub(crate) fn from_workflow(
    config: &WitnessConfig,
    conn: &OpenBaoArgs,
) -> Result<Witnessing, Failure> {
    let mut witnesses: Vec<Arc<dyn Witness>> = Vec::new();
    if let Some(argv) = &config.command {
        witnesses.push(Arc::new(CommandWitness { argv: argv.clone() }));
    }
    if let Some(path) = &config.openbao {
        witnesses.push(Arc::new(OpenBaoWitness {
            store: conn.connect("the workflow's openbao witness")?,
            path: path.clone(),
        }));
    }
    Ok(Witnessing {
        witnesses,
        required: config.required,
    })
}

/// `--witness openbao:PATH` (the server of --openbao-addr) or `--witness
/// FILE` (a signed note a witness kept).
pub(crate) fn from_spec(spec: &str, conn: &OpenBaoArgs) -> Result<Box<dyn Witness>, Failure> {
    Ok(match spec.strip_prefix("openbao:") {
        Some(path) => Box::new(OpenBaoWitness {
            store: conn.connect("--witness openbao:…")?,
            path: path.to_string(),
        }),
        None => Box::new(NoteFile(PathBuf::from(spec))),
    })
}
