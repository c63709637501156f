//! Hostile components, compiled from tests/hostile/, each meeting the
//! sandbox or the policy and losing in exactly the expected way.

mod support;

use agentward::policy::RoleName;
use agentward::runtime::RunOutcome;
use agentward::runtime::{artifacts, LimitHit, RunError, RuntimeError, MAX_WASM_STACK};
use support::Harness;

/// Runs `component` as a researcher granted only `log`.
fn run_hostile(component: &str, limits: &str, input: &str) -> Result<RunOutcome, RunError> {
    let h = Harness::new();
    let policy = h.role_policy("researcher", component, "log = {}", limits);
    h.run(&policy, RoleName::Researcher, input)
}

const SMALL_LIMITS: &str =
    "fuel = 50_000_000, wall_ms = 2_000, memory_mib = 32, output_bytes = 4096";

#[test]
fn ungranted_secrets_write_is_refused_at_link_time() {
    let h = Harness::new();
    let policy = h.role_policy(
        "planner",
        "hostile-secrets-write",
        "log = {}\nsecrets-meta = { paths = [\"npm/**\"] }",
        SMALL_LIMITS,
    );
    let err = h
        .host
        .prepare(&policy, RoleName::Planner)
        .err()
        .expect("refused");
    let component = artifacts::display(&artifacts::built_component("hostile-secrets-write"));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "role planner: component {component} imports agentward:host/secrets-write@0.1.1, which {} does not grant to planner",
            h.policy_path().display()
        )),
        "{message}"
    );
    assert!(
        message.contains("only the implementer may hold secrets-write"),
        "{message}"
    );
    assert!(matches!(err, RuntimeError::UngrantedImport { .. }));
    assert!(h.events().is_empty(), "nothing ran");
}

#[test]
fn ungranted_import_names_the_grant_to_add() {
    let h = Harness::new();
    // The implementer may hold secrets-write, but this policy does not grant it.
    let policy = h.role_policy(
        "implementer",
        "hostile-secrets-write",
        "log = {}",
        SMALL_LIMITS,
    );
    let message = h
        .host
        .prepare(&policy, RoleName::Implementer)
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("add `secrets-write = { paths = [\"npm/**\"] }` under [roles.implementer.grants] (line 5 of"),
        "{message}"
    );
}

#[test]
fn reading_etc_passwd_finds_no_filesystem() {
    match run_hostile("hostile-read-passwd", SMALL_LIMITS, "{}") {
        Err(RunError::Guest { role, message }) => {
            assert_eq!(role, RoleName::Researcher);
            assert!(message.contains("/etc/passwd:"), "{message}");
            assert!(message.contains("../../../../etc/passwd:"), "{message}");
            assert!(!message.contains("root:"), "{message}");
        }
        other => panic!("expected the guest to fail to read, got {other:?}"),
    }
}

#[test]
fn environment_and_arguments_are_empty() {
    std::env::set_var("AGENTWARD_TEST_CANARY", "env-canary-7f3a");
    let outcome = run_hostile("hostile-read-env", SMALL_LIMITS, "{}").expect("runs");
    assert_eq!(outcome.report.summary, "0 vars, 0 args");
    assert!(!outcome.report.output.contains("env-canary-7f3a"));
}

#[test]
fn sockets_are_denied_and_nothing_connects() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    match run_hostile("hostile-open-socket", SMALL_LIMITS, &format!("\"{addr}\"")) {
        Err(RunError::Guest { message, .. }) => {
            assert!(
                message.starts_with(&format!("connect {addr}:")),
                "{message}"
            );
            assert!(
                message.to_lowercase().contains("denied") || message.contains("not permitted"),
                "{message}"
            );
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
    assert!(
        listener.accept().is_err(),
        "no connection may reach the listener"
    );
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let err = run_hostile("hostile-infinite-loop", SMALL_LIMITS, "{}").unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Limit {
                role: RoleName::Researcher,
                limit: LimitHit::Fuel { limit: 50_000_000 }
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "role researcher was stopped: its fuel limit (limits.fuel = 50000000) ran out"
    );
}

#[test]
fn infinite_loop_meets_the_wall_clock_deadline() {
    let err = run_hostile(
        "hostile-infinite-loop",
        "fuel = 1_000_000_000_000, wall_ms = 200, memory_mib = 32",
        "{}",
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Limit {
                limit: LimitHit::WallClock { limit_ms: 200 },
                ..
            }
        ),
        "{err:?}"
    );
}

/// An hour's `std::thread::sleep` blocks inside WASI, where epoch
/// interruption cannot reach; the run still ends at `wall_ms`, and the same
/// host serves the next run.
#[test]
fn a_role_asleep_in_a_wasi_call_ends_at_its_deadline() {
    let h = Harness::new();
    let limits = "fuel = 1_000_000_000, wall_ms = 1_000, memory_mib = 32";
    let policy = h.role_policy("researcher", "hostile-sleep-forever", "log = {}", limits);
    let err = h.run(&policy, RoleName::Researcher, "{}").unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Limit {
                role: RoleName::Researcher,
                limit: LimitHit::WallClock { limit_ms: 1000 },
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "role researcher was stopped: its wall-clock deadline (limits.wall_ms = 1000) passed"
    );
    let next = h.role_policy(
        "researcher",
        "researcher",
        "log = {}\ndocs = { dir = \"docs\" }",
        limits,
    );
    let input = r#"{"topics":["npm"],"config":null}"#;
    h.run(&next, RoleName::Researcher, input)
        .expect("the host runs the next role");
}

#[test]
fn one_gib_allocation_hits_the_memory_limit() {
    let err = run_hostile("hostile-alloc-1gib", SMALL_LIMITS, "{}").unwrap_err();
    match &err {
        RunError::Limit {
            limit:
                LimitHit::Memory {
                    limit_mib,
                    requested_bytes,
                },
            ..
        } => {
            assert_eq!(*limit_mib, 32);
            assert!(*requested_bytes >= 1 << 30, "{requested_bytes}");
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("over its limit (limits.memory_mib = 32)"),
        "{err}"
    );
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    let err = run_hostile("hostile-stack-overflow", SMALL_LIMITS, "{}").unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Limit {
                limit: LimitHit::Stack {
                    limit_bytes: MAX_WASM_STACK
                },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn flooding_stdout_hits_the_output_cap() {
    let err = run_hostile("hostile-stdout-flood", SMALL_LIMITS, "{}").unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Limit {
                limit: LimitHit::Output {
                    stream: "stdout",
                    limit_bytes: 4096
                },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn reading_outside_the_path_scope_is_denied_with_the_fix() {
    let h = Harness::new();
    h.seed("prod/db-password", "db-canary-91c2");
    let policy = h.role_policy(
        "implementer",
        "hostile-read-out-of-scope",
        "secrets-read = { paths = [\"npm/**\"] }",
        SMALL_LIMITS,
    );
    let err = h
        .run(&policy, RoleName::Implementer, "\"prod/db-password\"")
        .unwrap_err();
    let expected = format!(
        "role implementer may not read secret `prod/db-password` (current); to allow it, change line 6 of {} to: secrets-read = {{ paths = [\"npm/**\", \"prod/db-password\"] }}",
        h.policy_path().display()
    );
    match &err {
        RunError::Guest { message, .. } => assert_eq!(message, &expected),
        other => panic!("expected a denial, got {other:?}"),
    }
    let denials = h.denials();
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0].call, "secrets-read.read");
    assert_eq!(denials[0].args["path"], "prod/db-password");
    assert_eq!(denials[0].outcome, format!("denied: {expected}"));
    assert!(!format!("{:?}", h.events()).contains("db-canary-91c2"));
}

#[test]
fn dot_dot_paths_cannot_escape_the_scope() {
    let h = Harness::new();
    h.seed("prod/db-password", "db-canary-91c2");
    let policy = h.role_policy(
        "implementer",
        "hostile-read-out-of-scope",
        "secrets-read = { paths = [\"npm/**\"] }",
        SMALL_LIMITS,
    );
    let err = h
        .run(
            &policy,
            RoleName::Implementer,
            "\"npm/../prod/db-password\"",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("may not read secret `npm/../prod/db-password`"),
        "{err}"
    );
}

#[test]
fn a_truncated_component_is_malformed() {
    let h = Harness::new();
    let bytes = std::fs::read(artifacts::built_component("planner")).unwrap();
    let path = h.dir.path().join("truncated.wasm");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let policy = h.role_policy("planner", "truncated.wasm", "log = {}", SMALL_LIMITS);
    let err = h.host.prepare(&policy, RoleName::Planner).err().unwrap();
    assert!(matches!(err, RuntimeError::Malformed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("truncated.wasm is not a valid WebAssembly component"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_wasm_is_malformed() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("notes.wasm"), b"#!/bin/sh\necho pwned\n").unwrap();
    let policy = h.role_policy("planner", "notes.wasm", "log = {}", SMALL_LIMITS);
    let err = h.host.prepare(&policy, RoleName::Planner).err().unwrap();
    assert!(
        err.to_string()
            .contains("it does not start with the WebAssembly magic bytes"),
        "{err}"
    );
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    let h = Harness::new();
    let wat = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/hostile/core-module.wat"
    ))
    .unwrap();
    let wasm = wat::parse_str(&wat).expect("the core module compiles from source");
    std::fs::write(h.dir.path().join("core.wasm"), wasm).unwrap();
    let policy = h.role_policy("planner", "core.wasm", "log = {}", SMALL_LIMITS);
    let err = h.host.prepare(&policy, RoleName::Planner).err().unwrap();
    assert!(matches!(err, RuntimeError::CoreModule { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("core.wasm is a core WebAssembly module, not a component"),
        "{err}"
    );
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
}

#[test]
fn the_host_serves_the_next_role_after_every_failure() {
    let h = Harness::new();
    let failing = [
        "hostile-infinite-loop",
        "hostile-alloc-1gib",
        "hostile-stack-overflow",
        "hostile-stdout-flood",
    ];
    for component in failing {
        let policy = h.role_policy("researcher", component, "log = {}", SMALL_LIMITS);
        assert!(
            h.run(&policy, RoleName::Researcher, "{}").is_err(),
            "{component}"
        );
    }
    // More runs than pool slots: a leaked slot would show up here.
    let policy = h.role_policy(
        "researcher",
        "researcher",
        "log = {}\ndocs = { dir = \"docs\" }",
        SMALL_LIMITS,
    );
    std::fs::write(
        h.dir.path().join("docs/npm.md"),
        "# npm\n\nrotate the token\n",
    )
    .unwrap();
    for _ in 0..40 {
        let outcome = h
            .run(
                &policy,
                RoleName::Researcher,
                &support::research_task(&["npm"]),
            )
            .expect("a healthy role still runs");
        assert_eq!(
            outcome.report.summary,
            "1 of 1 topics found in the docs: npm.md"
        );
    }
}
