//! The mediation point: one event per call, denials as values, redaction,
//! and failing closed when the audit sink cannot record.

mod support;

use agentward::audit::record::AuditRecord;
use agentward::audit::{AuditLog, Decision, Durability, Redactor};
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{artifacts, RunError};
use agentward::store::SecretStore;
use agentward_handoff::Verification;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use support::{auth_check, mint_task, plan_task, test_task, EchoServer, Harness};

const CANARY: &str = "npm_CANARY_5a1f0c77e2";

/// What the implementer imports: its issuers mint over `http` with `handles`.
const IMPLEMENTER_GRANTS: &str = "log = {}\nsecrets-write = { paths = [\"npm/**\"] }\nhandles = { paths = [\"npm/**\"] }\nhttp = { origins = [\"http://127.0.0.1:4873\"], methods = [\"GET\", \"POST\", \"DELETE\"] }\nworkspace = { roots = [\"repos\"], mode = \"propose\" }";

fn planner_policy(h: &Harness) -> Policy {
    h.role_policy(
        "planner",
        "planner",
        "log = {}\nsecrets-meta = { paths = [\"npm/**\"] }",
        "fuel = 100_000_000",
    )
}

#[test]
fn every_call_leaves_exactly_one_event_with_every_field() {
    let h = Harness::new();
    h.seed("npm/token", CANARY);
    h.seed("prod/db", "other");
    let policy = planner_policy(&h);
    h.run(
        &policy,
        RoleName::Planner,
        &plan_task(&[""], "2026-11-25T00:00:00Z"),
    )
    .expect("planner runs");
    let events = h.events();
    let calls: Vec<&str> = events.iter().map(|e| e.call.as_str()).collect();
    // list, one describe per path in scope (prod/db is filtered out), one
    // log, and the run's own record last.
    assert_eq!(
        calls,
        [
            "secrets-meta.list-paths",
            "secrets-meta.describe",
            "log.log",
            "role.run"
        ]
    );
    let digest = hex::encode(Sha256::digest(
        std::fs::read(artifacts::built_component("planner")).unwrap(),
    ));
    for event in &events {
        assert_eq!(event.role, "planner");
        assert_eq!(event.component, digest);
        assert_eq!(event.change_id, "01JTESTCHANGE0000000000000");
        assert_eq!(event.decision, Decision::Allow);
        assert_eq!(event.outcome, "ok");
        assert!(event.ts.ends_with('Z'));
    }
    assert_eq!(
        events[0].args["returned"], 1,
        "prod/db is outside the scope"
    );
    assert_eq!(events[1].args["path"], "npm/token");
    assert_eq!(events[2].args["message"], "0 due, 1 not due");
}

#[test]
fn a_canary_secret_never_leaves_in_plain_text() {
    let h = Harness::new();
    h.seed("npm/token", CANARY);
    let policy = h.role_policy(
        "implementer",
        "hostile-leak-secret",
        "log = {}\nsecrets-read = { paths = [\"npm/**\"] }\nworkspace = { roots = [\"repos\"], mode = \"propose\" }",
        "fuel = 100_000_000",
    );
    let outcome = h
        .run(&policy, RoleName::Implementer, "\"npm/token\"")
        .expect("runs");
    let redacted = Redactor::new([42; 32]).digest(CANARY);
    // Everything the run produced, as one haystack.
    let produced = format!(
        "{:?}\n{:?}\n{}\n{}\n{:?}",
        h.events(),
        outcome.report,
        outcome.stdout,
        outcome.stderr,
        outcome.proposals
    );
    assert!(!produced.contains(CANARY), "the canary leaked: {produced}");
    assert!(
        outcome.stdout.contains(&format!("stdout: {redacted}")),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stderr.contains(&format!("stderr: {redacted}")),
        "{}",
        outcome.stderr
    );
    assert!(outcome.report.summary.contains(&redacted));
    assert!(
        outcome.proposals.is_empty(),
        "a plaintext secret cannot be proposed"
    );
    let events = h.events();
    let read = events
        .iter()
        .find(|e| e.call == "secrets-read.read")
        .unwrap();
    assert_eq!(
        read.args["value"],
        redacted.as_str(),
        "auditors can match the digest"
    );
    let log = events.iter().find(|e| e.call == "log.log").unwrap();
    assert_eq!(
        log.args["message"],
        format!("the secret is {redacted}").as_str()
    );
    assert_eq!(log.args["level"], "warn");
    let proposal = events
        .iter()
        .rfind(|e| e.call == "workspace.propose-change")
        .unwrap();
    assert!(proposal
        .outcome
        .starts_with("invalid: proposed contents of `leak.txt` contain a secret value"));
    // The denied read had the value in its path: the event's outcome is scrubbed.
    let denied = events.iter().find(|e| e.decision == Decision::Deny);
    assert!(
        denied.is_none(),
        "npm/<value> is inside the scope, so it is a not-found, not a denial"
    );
}

#[test]
fn effectful_calls_record_an_intent_first() {
    let h = Harness::new();
    let policy = h.role_policy(
        "implementer",
        "implementer",
        IMPLEMENTER_GRANTS,
        "fuel = 100_000_000",
    );
    h.run(
        &policy,
        RoleName::Implementer,
        &mint_task("npm/token", None, false, &[]),
    )
    .expect("runs");
    let events = h.events();
    let writes: Vec<&str> = events
        .iter()
        .filter(|e| e.call == "secrets-write.generate")
        .map(|e| e.outcome.as_str())
        .collect();
    assert_eq!(writes, ["intent", "ok"]);
    let stored = h.store.describe("npm/token").unwrap();
    assert_eq!(stored.versions.len(), 1);
    assert_eq!(
        stored.versions[0].change_id.as_deref(),
        Some("01JTESTCHANGE0000000000000")
    );
    let digest = events
        .iter()
        .find(|e| e.outcome == "ok" && e.call.starts_with("secrets-write"))
        .unwrap()
        .args["value"]
        .clone();
    assert!(digest.as_str().unwrap().starts_with("hmac-sha256:"));
}

/// A full disk: the sink cannot write, so the write is refused, nothing is
/// stored, and the run fails naming the audit sink.
#[test]
fn a_full_disk_refuses_the_call_and_fails_the_run() {
    let h = Harness::with_sink(Arc::new(
        AuditLog::open(std::path::Path::new("/dev/full"), Durability::EachRecord).unwrap(),
    ));
    let policy = h.role_policy(
        "implementer",
        "implementer",
        IMPLEMENTER_GRANTS,
        "fuel = 100_000_000",
    );
    let err = h
        .run(
            &policy,
            RoleName::Implementer,
            &mint_task("npm/token", None, false, &[]),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Audit {
                role: RoleName::Implementer,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("/dev/full"), "{err}");
    assert!(
        h.store.list("").unwrap().is_empty(),
        "nothing unrecorded was stored"
    );
}

/// A sink that records but cannot make records durable (a disk that
/// accepts writes and then fails `fdatasync`).
struct UnsyncableSink(agentward::audit::MemorySink);

impl agentward::audit::EventSink for UnsyncableSink {
    fn record(
        &self,
        event: &agentward::audit::CallEvent,
    ) -> Result<(), agentward::audit::SinkError> {
        self.0.record(event)
    }

    fn sync(&self) -> Result<(), agentward::audit::SinkError> {
        Err(agentward::audit::SinkError {
            target: "test sink".into(),
            source: std::io::Error::other("fdatasync failed"),
        })
    }
}

/// An effect waits for its intent to be durable: when it cannot be, the
/// effect does not happen.
#[test]
fn an_intent_that_cannot_be_made_durable_stops_the_effect() {
    let h = Harness::with_sink(Arc::new(UnsyncableSink(Default::default())));
    let policy = h.role_policy(
        "implementer",
        "implementer",
        IMPLEMENTER_GRANTS,
        "fuel = 100_000_000",
    );
    let err = h
        .run(
            &policy,
            RoleName::Implementer,
            &mint_task("npm/token", None, false, &[]),
        )
        .unwrap_err();
    assert!(matches!(err, RunError::Audit { .. }), "{err:?}");
    assert!(err.to_string().contains("fdatasync failed"), "{err}");
    assert!(
        h.store.list("").unwrap().is_empty(),
        "the write did not happen"
    );
}

#[test]
fn handles_reach_the_server_but_never_the_guest() {
    let h = Harness::new();
    h.seed("npm/token", CANARY);
    let server = EchoServer::start(CANARY, 1);
    let policy = h.role_policy(
        "tester",
        "tester",
        &format!("handles = {{ paths = [\"npm/**\"] }}\nhttp = {{ origins = [\"{}\"], methods = [\"GET\"] }}\nsecrets-meta = {{ paths = [\"npm/**\"] }}", server.origin),
        "fuel = 100_000_000",
    );
    let input = test_task(
        "npm/token",
        1,
        "current",
        auth_check(&format!("{}/-/whoami", server.origin)),
    );
    let outcome = h.run(&policy, RoleName::Tester, &input).expect("runs");
    assert_eq!(
        server.seen_authorization.lock().unwrap().as_slice(),
        [format!("Bearer {CANARY}")]
    );
    assert_eq!(
        outcome.report.summary,
        "2 of 2 checks passed on version 1 of npm/token (current)"
    );
    let verification: Verification = serde_json::from_str(&outcome.report.output).unwrap();
    assert!(verification.checks[1].detail.contains("HTTP 200"));
    assert!(!outcome.report.output.contains(CANARY));
    let send = h
        .events()
        .into_iter()
        .rfind(|e| e.call == "http.send")
        .unwrap();
    assert_eq!(send.args["status"], 200);
    assert_eq!(send.args["headers"], serde_json::json!(["authorization"]));
    assert!(!format!("{:?}", h.events()).contains(CANARY));
}

#[test]
fn a_response_echoing_the_secret_is_scrubbed() {
    let h = Harness::new();
    h.seed("npm/token", CANARY);
    // This server rejects the token and echoes the header it received.
    let server = EchoServer::start("something-else", 1);
    let policy = h.role_policy(
        "tester",
        "tester",
        &format!(
            "handles = {{ paths = [\"npm/**\"] }}\nhttp = {{ origins = [\"{}\"], methods = [\"GET\"] }}\nsecrets-meta = {{ paths = [\"npm/**\"] }}",
            server.origin
        ),
        "fuel = 100_000_000",
    );
    let url = format!("{}/", server.origin);
    let input = test_task("npm/token", 1, "current", auth_check(&url));
    let outcome = h.run(&policy, RoleName::Tester, &input).expect("runs");
    let verification: Verification = serde_json::from_str(&outcome.report.output).unwrap();
    let redacted = Redactor::new([42; 32]).digest(CANARY);
    let auth = &verification.checks[1];
    assert!(!auth.passed);
    // The check shows the start of the body the guest was given.
    assert_eq!(
        auth.detail,
        format!(r#"GET {url}: HTTP 401 (expected 200) {{"you_sent":"Bearer {redacted}"}}"#),
        "the guest saw the echo, scrubbed"
    );
    assert!(!outcome.report.output.contains(CANARY));
    assert!(!format!("{:?}", h.events()).contains(CANARY));
}

#[test]
fn http_to_an_origin_not_granted_is_denied_with_the_line() {
    let h = Harness::new();
    h.seed("npm/token", CANARY);
    let policy = h.role_policy(
        "tester",
        "tester",
        "handles = { paths = [\"npm/**\"] }\nhttp = { origins = [\"http://127.0.0.1:4873\"], methods = [\"GET\"] }\nsecrets-meta = { paths = [\"npm/**\"] }",
        "fuel = 100_000_000",
    );
    let input = test_task(
        "npm/token",
        1,
        "current",
        auth_check("http://localhost:9/-/whoami"),
    );
    // The denial reaches the guest as a value: the check fails with it.
    let outcome = h.run(&policy, RoleName::Tester, &input).unwrap();
    let verification: Verification = serde_json::from_str(&outcome.report.output).unwrap();
    assert!(!verification.passed());
    let expected = format!(
        "GET http://localhost:9/-/whoami: role tester may not send http requests to http://localhost:9; to allow it, change line 7 of {} to: http = {{ origins = [\"http://127.0.0.1:4873\", \"http://localhost:9\"], methods = [\"GET\"], max_body_bytes = 1048576, timeout_ms = 10000 }}",
        h.policy_path().display()
    );
    assert_eq!(verification.checks[1].detail, expected);
    let denied = h.denials();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].call, "http.send");
}

#[test]
fn store_errors_reach_the_guest_as_values() {
    let h = Harness::new();
    let policy = h.role_policy(
        "tester",
        "tester",
        "handles = { paths = [\"npm/**\"] }\nhttp = { origins = [\"http://127.0.0.1:4873\"], methods = [\"GET\"] }\nsecrets-meta = { paths = [\"npm/**\"] }",
        "fuel = 100_000_000",
    );
    let input = test_task(
        "npm/missing",
        1,
        "current",
        auth_check("http://127.0.0.1:4873/-/whoami"),
    );
    let err = h.run(&policy, RoleName::Tester, &input).unwrap_err();
    assert_eq!(
        err.to_string(),
        "role tester failed: handle for npm/missing: secret npm/missing does not exist"
    );
    for call in ["secrets-meta.describe", "handles.acquire"] {
        let event = h.events().into_iter().find(|e| e.call == call).unwrap();
        assert_eq!(event.decision, Decision::Allow, "{call}");
        assert_eq!(
            event.outcome, "not found: secret npm/missing does not exist",
            "{call}"
        );
    }
}

#[test]
fn the_audit_log_holds_one_chained_record_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open_dir(dir.path(), Durability::Buffered).unwrap());
    let h = Harness::with_sink(log.clone());
    h.seed("npm/token", CANARY);
    let policy = planner_policy(&h);
    h.run(
        &policy,
        RoleName::Planner,
        &plan_task(&["npm/"], "2026-11-25T00:00:00Z"),
    )
    .unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    let records: Vec<AuditRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let calls: Vec<&str> = records.iter().map(|r| r.body.event.call.as_str()).collect();
    assert_eq!(
        calls,
        [
            "secrets-meta.list-paths",
            "secrets-meta.describe",
            "log.log",
            "role.run"
        ]
    );
    assert_eq!(records[1].body.prev, records[0].hash);
    assert_eq!(records[2].body.seq, 2);
    assert!(!text.contains(CANARY));
}
