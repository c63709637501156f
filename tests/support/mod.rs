//! Shared test harness: a temporary project directory, an in-memory store
//! and event sink, and a host wired to them.

#![allow(dead_code)] // each test binary uses a different part

pub mod bao_cluster;
pub mod cli;
pub mod cluster_host;
pub mod example;
pub mod latency;
pub mod llama;
pub mod openbao;
pub mod postgres;
pub mod postgres_rotation;
pub mod rotation;
pub mod tls;
pub mod verdaccio;

use agentward::audit::{CallEvent, Decision, EventSink, MemorySink, Redactor};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{Host, HostConfig, RunError, RunOutcome};
use agentward::store::{MemoryStore, SecretAttributes, SecretValue};
use agentward_handoff::{
    Changes, ImplementTask, PlanTask, ReviewTask, StagedFile, TestPurpose, TestTask, Trigger,
};
use std::path::PathBuf;
use std::sync::Arc;

/// The harness host's redaction key: events carry values as keyed digests.
const REDACTION_KEY: [u8; 32] = [42; 32];

pub struct Harness {
    pub dir: tempfile::TempDir,
    /// Events, unless the harness was built `with_sink`.
    pub sink: Arc<MemorySink>,
    pub store: Arc<MemoryStore>,
    pub host: Host,
}

impl Harness {
    pub fn new() -> Self {
        Self::build(None, None)
    }

    /// A harness whose events go to `sink` instead of memory.
    pub fn with_sink(sink: Arc<dyn EventSink>) -> Self {
        Self::build(Some(sink), None)
    }

    /// A harness whose host asks `resolver` what `http` origins' names
    /// resolve to.
    pub fn with_resolver(resolver: Arc<dyn agentward::net::egress::Resolve>) -> Self {
        Self::build(None, Some(resolver))
    }

    fn build(
        sink: Option<Arc<dyn EventSink>>,
        resolver: Option<Arc<dyn agentward::net::egress::Resolve>>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        std::fs::create_dir_all(dir.path().join("repos")).unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        let memory = Arc::new(MemorySink::new());
        let store = Arc::new(MemoryStore::new());
        let mut config = HostConfig::new(dir.path());
        if let Some(resolver) = resolver {
            config.resolver = resolver;
        }
        let host = Host::new(
            config,
            sink.unwrap_or_else(|| memory.clone()),
            store.clone(),
            Arc::new(Redactor::new(REDACTION_KEY)),
        )
        .expect("host");
        Harness {
            dir,
            sink: memory,
            store,
            host,
        }
    }

    /// Writes `toml` as the project's policy and loads it.
    pub fn policy(&self, toml: &str) -> Policy {
        let path = self.policy_path();
        std::fs::write(&path, toml).unwrap();
        Policy::load(&path, self.dir.path()).expect("test policy loads")
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policies/test.toml")
    }

    /// A policy giving `role` the component `component` with `grants`
    /// (inline TOML, one grant per line) and `limits` (inline table body).
    /// The tester and implementer components import `sql` (database
    /// checks, the postgres provider): a test that grants none gets
    /// `sql = {}`, which reaches no database.
    pub fn role_policy(&self, role: &str, component: &str, grants: &str, limits: &str) -> Policy {
        // The in-tree components link interfaces a test may not use: an
        // empty grant links each and reaches nothing.
        let linked_only = [
            ("tester", "sql"),
            ("implementer", "sql"),
            ("reviewer", "model"),
            ("researcher", "model"),
        ];
        let stubs: String = linked_only
            .iter()
            .filter(|(c, grant)| *c == component && !grants.contains(&format!("{grant} =")))
            .map(|(_, grant)| format!("{grant} = {{}}\n"))
            .collect();
        self.policy(&format!(
            "[roles.{role}]\ncomponent = \"{component}\"\nlimits = {{ {limits} }}\n\n[roles.{role}.grants]\n{grants}\n{stubs}"
        ))
    }

    /// Writes `contents` to `repos/PATH` in the project.
    pub fn repo_file(&self, path: &str, contents: &str) {
        let full = self.dir.path().join("repos").join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }

    pub fn seed(&self, path: &str, value: &str) {
        self.store
            .insert_current(path, SecretValue::new(value), SecretAttributes::default());
    }

    pub fn run(
        &self,
        policy: &Policy,
        role: RoleName,
        input: &str,
    ) -> Result<RunOutcome, RunError> {
        let prepared = self.host.prepare(policy, role).expect("role prepares");
        self.host.run(
            &prepared,
            &Task {
                change_id: "01JTESTCHANGE0000000000000".into(),
                input: input.into(),
            },
        )
    }

    /// How the harness's events record `value`.
    pub fn digest(&self, value: &str) -> String {
        Redactor::new(REDACTION_KEY).digest(value)
    }

    pub fn events(&self) -> Vec<CallEvent> {
        self.sink.events()
    }

    pub fn denials(&self) -> Vec<CallEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.decision == Decision::Deny)
            .collect()
    }
}

/// A one-request-at-a-time HTTP server on 127.0.0.1 that answers 200 when
/// the `authorization` header is `Bearer <expected>` (401 otherwise) and
/// echoes that header back in the body, so a test can see both what reached
/// the server and what the guest was shown.
pub struct EchoServer {
    pub origin: String,
    pub seen_authorization: Arc<std::sync::Mutex<Vec<String>>>,
}

impl EchoServer {
    pub fn start(expected: &str, requests: usize) -> EchoServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (expected, record) = (format!("Bearer {expected}"), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut authorization = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") {
                            authorization = value.trim().to_string();
                        }
                    }
                }
                record.lock().unwrap().push(authorization.clone());
                let status = if authorization == expected {
                    "200 OK"
                } else {
                    "401 Unauthorized"
                };
                let body = format!("{{\"you_sent\":\"{authorization}\"}}");
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        EchoServer {
            origin,
            seen_authorization: seen,
        }
    }
}

/// Every file under `dir`, read as text where it is text.
pub fn all_text_under(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&all_text_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

/// A [`ResearchTask`] for `topics`, with no config.
pub fn research_task(topics: &[&str]) -> String {
    serde_json::to_string(&agentward_handoff::ResearchTask {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        config: serde_json::Value::Null,
    })
    .unwrap()
}

/// A cadence [`PlanTask`] for `now` over `prefixes`: due within 14 days,
/// on a 90-day cadence, no window, no earlier failures.
pub fn plan_task(prefixes: &[&str], now: &str) -> String {
    serde_json::to_string(&PlanTask {
        now: now.into(),
        trigger: Trigger::Cadence,
        breach: None,
        prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        cadence_days: 90,
        lead_days: 14,
        window: None,
        failures: Vec::new(),
        briefing: Default::default(),
        usages: Vec::new(),
        config: serde_json::Value::Null,
    })
    .unwrap()
}

/// An [`ImplementTask::Mint`] of `path` whose current version is
/// `expected_current`, staging the `.npmrc` files `npmrc` (root, file).
pub fn mint_task(
    path: &str,
    expected_current: Option<u32>,
    dry_run: bool,
    npmrc: &[(&str, &str)],
) -> String {
    let npmrc: Vec<StagedFile> = npmrc.iter().map(|(r, f)| staged(r, f)).collect();
    serde_json::to_string(&ImplementTask::Mint {
        path: path.into(),
        expected_current,
        current_credential_id: None,
        retry_since: None,
        files: npmrc,
        dry_run,
        config: serde_json::Value::Null,
    })
    .unwrap()
}

pub fn staged(root: &str, file: &str) -> StagedFile {
    StagedFile {
        root: root.into(),
        file: file.into(),
    }
}

/// A [`ReviewTask`] of version `version` of `path` whose changes staged
/// each `(root, file)` of `files` with the proposed contents beside it.
pub fn review_task(path: &str, version: u32, files: &[(&str, &str, &str)]) -> String {
    serde_json::to_string(&ReviewTask {
        path: path.into(),
        version,
        changes: Changes {
            path: path.into(),
            version,
            credential_id: None,
            expires: None,
            staged: files.iter().map(|(r, f, _)| staged(r, f)).collect(),
            validation: Vec::new(),
        },
        proposed: files.iter().map(|(_, _, c)| c.to_string()).collect(),
        config: serde_json::Value::Null,
    })
    .unwrap()
}

/// A [`TestTask`] verifying version `version` of `path` under `label`,
/// with `checks` as its config's HTTP checks
/// (`[{"name", "url", "expect_status"}]`).
pub fn test_task(path: &str, version: u32, label: &str, checks: serde_json::Value) -> String {
    serde_json::to_string(&TestTask {
        purpose: TestPurpose::Verify,
        path: path.into(),
        version,
        label: label.into(),
        dry_run: false,
        config: serde_json::json!({ "checks": checks }),
    })
    .unwrap()
}

/// One HTTP check for [`test_task`]: GET `url`, expecting HTTP 200.
pub fn auth_check(url: &str) -> serde_json::Value {
    serde_json::json!([{ "name": "auth", "url": url, "expect_status": 200 }])
}
