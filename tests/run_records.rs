//! Every role run on record, however it ends, and every WASI operation the
//! sandbox refuses: real hostile components against a real audit log.

mod support;

use agentward::audit::record::AuditRecord;
use agentward::audit::timeline::{self, Format};
use agentward::audit::{AuditLog, CallEvent, Decision, Durability, RUN_CALL};
use agentward::capabilities::DENIALS_RECORDED_PER_CALL;
use agentward::policy::RoleName;
use std::sync::Arc;
use support::Harness;

const LIMITS: &str = "fuel = 50_000_000, wall_ms = 2_000, memory_mib = 32, output_bytes = 4096";

/// Runs `component` as a researcher granted only `log`; its result's text
/// and the events of the run.
fn run(component: &str, limits: &str, input: &str) -> (Result<String, String>, Vec<CallEvent>) {
    let h = Harness::new();
    let policy = h.role_policy("researcher", component, "log = {}", limits);
    let result = h
        .run(&policy, RoleName::Researcher, input)
        .map(|outcome| outcome.report.summary)
        .map_err(|e| e.to_string());
    (result, h.events())
}

fn runs(events: &[CallEvent]) -> Vec<&CallEvent> {
    events.iter().filter(|e| e.call == RUN_CALL).collect()
}

#[test]
fn every_run_leaves_one_record_naming_what_stopped_it() {
    let cases = [
        ("hostile-infinite-loop", LIMITS, Some("limits.fuel")),
        (
            "hostile-infinite-loop",
            "fuel = 1_000_000_000_000, wall_ms = 300",
            Some("limits.wall_ms"),
        ),
        (
            "hostile-sleep-forever",
            "wall_ms = 300",
            Some("limits.wall_ms"),
        ),
        ("hostile-alloc-1gib", LIMITS, Some("limits.memory_mib")),
        ("hostile-stack-overflow", LIMITS, Some("max_wasm_stack")),
        ("hostile-stdout-flood", LIMITS, Some("limits.output_bytes")),
        ("hostile-read-passwd", LIMITS, None),
        ("hostile-read-env", LIMITS, None),
    ];
    for (component, limits, stopped_by) in cases {
        let (result, events) = run(component, limits, "{}");
        let records = runs(&events);
        assert_eq!(records.len(), 1, "{component}: {events:#?}");
        let record = records[0];
        assert!(
            std::ptr::eq(record, events.last().unwrap()),
            "{component}: the run's record comes after its calls'"
        );
        assert_eq!(record.role, "researcher");
        assert_eq!(record.component.len(), 64, "the component's digest");
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(message) => message.clone(),
        };
        assert_eq!(record.outcome, outcome, "{component}");
        assert_eq!(
            record.args.get("limit").and_then(|v| v.as_str()),
            stopped_by,
            "{component}: {record:?}"
        );
        let fuel_used = record.args["fuel_used"].as_u64().unwrap();
        let fuel_limit = record.args["fuel_limit"].as_u64().unwrap();
        assert!(fuel_used > 0 && fuel_used <= fuel_limit, "{record:?}");
        if stopped_by == Some("limits.fuel") {
            assert_eq!(fuel_used, fuel_limit, "it ran until its fuel was gone");
        }
        let started = record.args["started"].as_str().unwrap();
        assert!(
            started <= record.ts.as_str(),
            "{started} after {}",
            record.ts
        );
    }
}

#[test]
fn refused_wasi_operations_are_denials_naming_the_capability_to_grant() {
    let (result, events) = run("hostile-read-passwd", LIMITS, "{}");
    assert!(result.is_err(), "nothing was read");
    let opens: Vec<_> = events
        .iter()
        .filter(|e| e.call == "wasi.filesystem.open")
        .collect();
    // The guest's libc asks for the directories once and remembers none.
    assert_eq!(opens.len(), 1, "{events:#?}");
    assert_eq!(opens[0].decision, Decision::Deny);
    let message = &opens[0].outcome;
    assert!(
        message.starts_with("denied: role researcher may not open a file: a role's sandbox has no directories; to do it through the host, add `docs = { dir = \"docs\" }` or `workspace = "),
        "{message}"
    );
    assert!(
        message.contains("under [roles.researcher.grants] (line "),
        "{message}"
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (result, events) = run("hostile-open-socket", LIMITS, &format!("\"{addr}\""));
    assert!(result.unwrap_err().contains("denied"));
    let sockets: Vec<_> = events
        .iter()
        .filter(|e| e.call == "wasi.sockets.tcp")
        .collect();
    assert_eq!(sockets.len(), 1, "{events:#?}");
    assert_eq!(sockets[0].decision, Decision::Deny);
    assert_eq!(sockets[0].args["family"], "ipv4");
    assert!(
        sockets[0]
            .outcome
            .contains("may not open a TCP socket: a role's sandbox has no sockets; to do it through the host, add `http = "),
        "{}",
        sockets[0].outcome
    );
}

#[test]
fn a_role_that_touches_no_sandboxed_operation_leaves_no_denial() {
    let (result, events) = run("hostile-read-env", LIMITS, "{}");
    assert_eq!(result.unwrap(), "0 vars, 0 args");
    assert!(
        events.iter().all(|e| e.decision == Decision::Allow),
        "{events:#?}"
    );
}

#[test]
fn a_flood_of_refusals_is_counted_and_not_written_one_by_one() {
    let h = Harness::new();
    let policy = h.role_policy("researcher", "hostile-socket-flood", "log = {}", LIMITS);
    let tries = 5_000;
    let outcome = h
        .run(&policy, RoleName::Researcher, &tries.to_string())
        .expect("every try is refused, and the role reports it");
    assert_eq!(
        outcome.report.summary,
        format!("{tries} of {tries} refused")
    );
    let events = h.events();
    let recorded = events
        .iter()
        .filter(|e| e.call == "wasi.sockets.tcp")
        .count() as u64;
    assert_eq!(recorded, DENIALS_RECORDED_PER_CALL);
    let record = runs(&events)[0];
    assert_eq!(record.args["denied"]["wasi.sockets.tcp"], tries);
    assert_eq!(
        record.args["denials_unrecorded"],
        tries - DENIALS_RECORDED_PER_CALL
    );
    // The host is unharmed: the same host runs the next role.
    let policy = h.role_policy("researcher", "hostile-read-env", "log = {}", LIMITS);
    h.run(&policy, RoleName::Researcher, "{}").expect("runs");
}

#[test]
fn the_timeline_shows_runs_and_sandbox_denials() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open_dir(dir.path(), Durability::Buffered).unwrap());
    let h = Harness::with_sink(log.clone());
    for (component, input) in [
        ("hostile-infinite-loop", "{}".to_string()),
        ("hostile-socket-flood", "40".to_string()),
    ] {
        let policy = h.role_policy("researcher", component, "log = {}", LIMITS);
        let _ = h.run(&policy, RoleName::Researcher, &input);
    }
    let records: Vec<AuditRecord> = std::fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = timeline::render(&records, None, Format::Terminal { colour: false });
    let row = |call: &str| {
        text.lines()
            .filter(|l| l.contains(call))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let stopped = row("role researcher was stopped");
    assert!(stopped.contains("fuel 50000000 of 50000000"), "{text}");
    assert!(stopped.contains("stopped by limits.fuel"), "{text}");
    assert!(row("wasi.sockets.tcp").contains("ipv4 socket"), "{text}");
    let unrecorded = 40 - DENIALS_RECORDED_PER_CALL;
    assert!(
        text.contains(&format!("40 denied ({unrecorded} unrecorded)")),
        "{text}"
    );
    let html = timeline::render(&records, None, Format::Html);
    assert!(html.contains("stopped by limits.fuel"), "{html}");
}

#[test]
fn a_role_out_of_its_own_stack_is_told_so_in_one_line() {
    let (result, events) = run("hostile-shadow-stack-overflow", LIMITS, "{}");
    let message = result.unwrap_err();
    assert!(
        message.starts_with("role researcher was stopped: it overflowed its own stack in linear memory, recursing in "),
        "{message}"
    );
    assert!(message.contains("-zstack-size"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(!message.contains("out of bounds"), "{message}");
    let record = runs(&events)[0];
    assert_eq!(record.args["limit"], "the component's stack size");
}
