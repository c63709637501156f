//! Shared test harness: a temporary project directory, an in-memory store
//! and event sink, and a host wired to them.

#![allow(dead_code)] // each test binary uses a different part

use agentward::audit::{CallEvent, Decision, MemorySink, Redactor};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{Host, HostConfig, RunError, RunOutcome};
use agentward::store::{MemoryStore, SecretAttributes, SecretValue};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sink: Arc<MemorySink>,
    pub store: Arc<MemoryStore>,
    pub host: Host,
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        std::fs::create_dir_all(dir.path().join("repos")).unwrap();
        let sink = Arc::new(MemorySink::new());
        let store = Arc::new(MemoryStore::new());
        let host = Host::new(
            HostConfig::new(dir.path()),
            sink.clone(),
            store.clone(),
            Arc::new(Redactor::new([42; 32])),
        )
        .expect("host");
        Harness {
            dir,
            sink,
            store,
            host,
        }
    }

    /// Writes `toml` as the project's policy and loads it.
    pub fn policy(&self, toml: &str) -> Policy {
        let path = self.policy_path();
        std::fs::write(&path, toml).unwrap();
        Policy::load(&path).expect("test policy loads")
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policies/test.toml")
    }

    /// A policy giving `role` the component `component` with `grants`
    /// (inline TOML, one grant per line) and `limits` (inline table body).
    pub fn role_policy(&self, role: &str, component: &str, grants: &str, limits: &str) -> Policy {
        self.policy(&format!(
            "[roles.{role}]\ncomponent = \"{component}\"\nlimits = {{ {limits} }}\n\n[roles.{role}.grants]\n{grants}\n"
        ))
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
