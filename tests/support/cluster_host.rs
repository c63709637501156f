//! One host of a cluster as the cluster tests and bench run it: its own
//! project directory (manifests/, logs/, audit keys) and its own
//! `agentward` processes, sharing only the OpenBao server or cluster, as
//! the runners of a CI fleet would.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub use super::rotation::text;

pub const NOW: &str = "2026-12-07T03:00:00Z";
pub const LEASE_TTL_S: u64 = 4;

/// One host: a project rotating the secrets under `npm/GROUP/`.
pub struct HostProject {
    dir: tempfile::TempDir,
    pub name: String,
    addrs: String,
    token_file: PathBuf,
}

impl HostProject {
    /// With `cluster`, the workflow has `[cluster]` (and a witness).
    pub fn new(name: &str, group: &str, addrs: &str, token: &str, cluster: bool) -> HostProject {
        let dir = super::cli::init();
        let workflow = dir.path().join("policies/workflow.toml");
        let text = std::fs::read_to_string(&workflow).unwrap();
        let text = text.replacen(
            "secrets = [\"npm/**\"]",
            &format!("secrets = [\"npm/{group}/**\"]\nconcurrency = 16"),
            1,
        );
        let text = if cluster {
            format!(
                "{text}\n[cluster]\nlease_ttl_s = {LEASE_TTL_S}\n\n[witness]\nopenbao = \"agentward-witness/{name}\"\n"
            )
        } else {
            text
        };
        std::fs::write(&workflow, text).unwrap();
        let token_file = dir.path().join("bao-token");
        std::fs::write(&token_file, token).unwrap();
        HostProject {
            dir,
            name: name.to_string(),
            addrs: addrs.to_string(),
            token_file,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str], failpoint: Option<&str>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agentward"));
        command
            .arg("--project")
            .arg(self.path())
            .args(args)
            .args([
                "--store",
                "openbao",
                "--openbao-addr",
                &self.addrs,
                "--openbao-token-file",
                self.token_file.to_str().unwrap(),
            ])
            .env("AGENTWARD_CACHE_DIR", cache_dir())
            .env_remove("BAO_TOKEN")
            .env_remove(agentward::orchestrator::failpoint::VARIABLE);
        if let Some(point) = failpoint {
            command.env(agentward::orchestrator::failpoint::VARIABLE, point);
        }
        command
    }

    pub fn run(&self, args: &[&str], failpoint: Option<&str>) -> Output {
        self.command(args, failpoint).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args, None)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The changes planned in this project, by id.
    pub fn change_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.path().join("manifests"))
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        ids.sort();
        ids
    }

    /// The change planned in this project (there is one).
    pub fn change_id(&self) -> String {
        let mut ids = self.change_ids();
        assert_eq!(ids.len(), 1, "one change in {}: {ids:?}", self.name);
        ids.pop().unwrap()
    }

    pub fn manifest(&self, change: &str) -> Value {
        let out = super::cli::agentward(self.path(), &["show", change, "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `audit verify` of this host's log, against its witness in OpenBao.
    pub fn verify_log(&self) {
        let witness = format!("openbao:agentward-witness/{}", self.name);
        let out = Command::new(env!("CARGO_BIN_EXE_agentward"))
            .arg("--project")
            .arg(self.path())
            .args([
                "audit",
                "verify",
                "--witness",
                &witness,
                "--openbao-addr",
                &self.addrs,
                "--openbao-token-file",
                self.token_file.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", self.name, text(&out));
    }
}

pub fn cache_dir() -> PathBuf {
    std::env::temp_dir().join(format!("agentward-cluster-cache-{}", std::process::id()))
}

/// Imports `n` secrets `npm/GROUP/service-NNN`, due for rotation, through
/// `host`.
pub fn seed(host: &HostProject, group: &str, n: usize) -> Vec<String> {
    let paths: Vec<String> = (0..n)
        .map(|i| format!("npm/{group}/service-{i:03}"))
        .collect();
    let doc: serde_json::Map<String, Value> = paths
        .iter()
        .map(|p| {
            (
                p.clone(),
                serde_json::json!({ "value": format!("npm_seed_{}_{}", p.replace('/', "_"), "x".repeat(24)), "expires": "2026-12-09T00:00:00Z" }),
            )
        })
        .collect();
    let file = host.path().join(format!("seed-{group}.json"));
    std::fs::write(&file, Value::Object(doc).to_string()).unwrap();
    let out = host.run(&["secrets", "import", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    paths
}

/// Every secret has exactly the seeded version and one rotated version,
/// the rotated one current, nothing pending.
pub fn assert_rotated_once(store: &agentward::store::openbao::OpenBaoStore, paths: &[String]) {
    use agentward::store::{Label, SecretStore};
    for path in paths {
        let meta = store.describe(path).unwrap();
        let versions: Vec<u32> = meta.versions.iter().map(|v| v.version).collect();
        assert_eq!(versions, vec![1, 2], "{path}: versions {versions:?}");
        let current: Vec<u32> = meta
            .versions
            .iter()
            .filter(|v| v.labels.contains(&Label::Current))
            .map(|v| v.version)
            .collect();
        assert_eq!(current, vec![2], "{path}: current {current:?}");
        assert!(
            meta.versions
                .iter()
                .all(|v| !v.labels.contains(&Label::Pending)),
            "{path}: a version is still pending"
        );
    }
}
