//! Hostile components, compiled from tests/hostile/, against each
//! capability's own edges: links out of the directories `docs` and
//! `workspace` grant, a flood of `log` calls, a 64 MiB argument, probing
//! `secrets-meta` for which secrets exist, and components of a contract the
//! host does not speak. Each is contained in exactly the expected way, and
//! the same host serves the next role.

mod support;

use agentward::audit::{CallEvent, Decision};
use agentward::policy::RoleName;
use agentward::runtime::{artifacts, LimitHit, RunError, RuntimeError};
use std::collections::BTreeMap;
use std::path::Path;
use support::Harness;

/// What the files outside the project hold: it must never reach a role,
/// an error or a record.
const CANARY: &str = "link-canary-5e1d";

/// Records of `call` with `decision`.
fn records<'e>(events: &'e [CallEvent], call: &str, decision: Decision) -> Vec<&'e CallEvent> {
    events
        .iter()
        .filter(|e| e.call == call && e.decision == decision)
        .collect()
}

/// Runs a role that makes one attempt per line of its input and reports
/// `ATTEMPT => ANSWER` per line: each attempt's answer.
fn answers(
    h: &Harness,
    policy: &agentward::policy::Policy,
    role: RoleName,
    attempts: &[&str],
) -> (BTreeMap<String, String>, agentward::runtime::RunOutcome) {
    let outcome = h
        .run(policy, role, &attempts.join("\n"))
        .expect("the role runs; every attempt is an error value");
    let answers = outcome
        .report
        .output
        .lines()
        .map(|line| {
            let (attempt, answer) = line.split_once(" => ").unwrap();
            (attempt.to_string(), answer.to_string())
        })
        .collect();
    (answers, outcome)
}

/// The researcher, on the same host, still finds a document.
fn next_role_runs(h: &Harness) {
    std::fs::write(
        h.dir.path().join("docs/npm.md"),
        "# npm\n\nrotate the token\n",
    )
    .unwrap();
    let grants = "log = {}\ndocs = { dir = \"docs\" }";
    let policy = h.role_policy("researcher", "researcher", grants, "");
    let outcome = h
        .run(
            &policy,
            RoleName::Researcher,
            &support::research_task(&["npm"]),
        )
        .expect("the host runs the next role");
    assert!(
        outcome
            .report
            .summary
            .starts_with("1 of 1 topics found in the docs"),
        "{outcome:?}"
    );
}

/// Outside the project: `canary.md`, `hard.md` and `dir/inner.md`, each
/// holding the canary. Inside it, under `docs/` and `repos/`: a symlink to
/// the first, a symlink to the directory, a hard link of the second, and a
/// file of its own; `repos/` also has a symlink to that file.
fn plant_links(project: &Path, outside: &Path) {
    for file in ["canary.md", "hard.md", "dir/inner.md"] {
        let path = outside.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("# outside\n{CANARY}\n")).unwrap();
    }
    std::fs::write(project.join("docs/guide.md"), "# guide\nrotate npm\n").unwrap();
    std::fs::write(project.join("repos/README.md"), "hello\n").unwrap();
    for granted in ["docs", "repos"] {
        let dir = project.join(granted);
        std::os::unix::fs::symlink(outside.join("canary.md"), dir.join("escape.md")).unwrap();
        std::os::unix::fs::symlink(outside.join("dir"), dir.join("escape-dir")).unwrap();
        std::fs::hard_link(outside.join("hard.md"), dir.join("hard.md")).unwrap();
    }
    std::os::unix::fs::symlink("README.md", project.join("repos/inside.md")).unwrap();
}

#[test]
fn links_out_of_docs_and_workspace_are_refused_by_name() {
    let h = Harness::new();
    let outside = tempfile::tempdir().unwrap();
    plant_links(h.dir.path(), outside.path());
    let policy = h.role_policy(
        "implementer",
        "hostile-follow-links",
        "docs = { dir = \"docs\" }\nworkspace = { roots = [\"repos\"], mode = \"propose\" }",
        "",
    );
    let attempts = [
        "search outside",
        "docs guide.md",
        "docs escape.md",
        "docs escape-dir/inner.md",
        "docs hard.md",
        "read repos inside.md",
        "read repos escape.md",
        "read repos escape-dir/inner.md",
        "read repos hard.md",
        "list repos escape-dir",
        "propose repos escape.md",
        "propose repos escape-dir/inner.md",
        "propose repos hard.md",
    ];
    let (answers, outcome) = answers(&h, &policy, RoleName::Implementer, &attempts);
    let out_through_link = |path: &str, place: &str, dir: &str| {
        format!(
            "err Error::Invalid(\"`{path}` in {place} leads outside it through a symbolic link, which is not followed; \
             fix: put the file itself (or a copy) under {dir}/ in place of the link\")"
        )
    };
    // Three names: outside, docs/ and repos/.
    let hard_linked = |place: &str, dir: &str| {
        format!(
            "err Error::Invalid(\"`hard.md` in {place} has 3 hard links, and another of its names may be outside it, \
             so it is not read; fix: give it a name of its own with \
             `cp {dir}/hard.md {dir}/hard.md.copy && mv {dir}/hard.md.copy {dir}/hard.md`\")"
        )
    };
    let (docs, repos) = ("the docs directory", "workspace root `repos`");
    let expected = [
        // Nothing outside is indexed: the word only it holds finds nothing.
        "ok \"\"".to_string(),
        r##"ok "# guide\nrotate npm\n""##.to_string(),
        out_through_link("escape.md", docs, "docs"),
        out_through_link("escape-dir", docs, "docs"),
        hard_linked(docs, "docs"),
        r#"ok "hello\n""#.to_string(),
        out_through_link("escape.md", repos, "repos"),
        out_through_link("escape-dir/inner.md", repos, "repos"),
        hard_linked(repos, "repos"),
        out_through_link("escape-dir", repos, "repos"),
        out_through_link("escape.md", repos, "repos"),
        out_through_link("escape-dir/inner.md", repos, "repos"),
        hard_linked(repos, "repos"),
    ];
    assert_eq!(answers.len(), attempts.len());
    for (attempt, answer) in attempts.iter().zip(&expected) {
        assert_eq!(&answers[*attempt], answer, "{attempt}");
    }
    assert!(outcome.proposals.is_empty(), "{:?}", outcome.proposals);
    // The operator learns on the indexing call which files are not served.
    let events = h.events();
    let search = records(&events, "docs.search", Decision::Allow)[0];
    assert_eq!(search.args["not_served"].as_array().unwrap().len(), 3);
    let everything = format!("{outcome:?}{:?}", h.events());
    assert!(!everything.contains(CANARY), "the canary leaked");
    next_role_runs(&h);
}

#[test]
fn a_million_log_calls_are_recorded_up_to_max_messages() {
    let h = Harness::new();
    let policy = h.role_policy("researcher", "hostile-log-flood", "log = {}", "");
    let outcome = h
        .run(&policy, RoleName::Researcher, "1000000")
        .expect("log has no error channel; the role finishes");
    assert_eq!(outcome.report.summary, "called log 1000000 times");
    let events = h.events();
    assert_eq!(records(&events, "log.log", Decision::Allow).len(), 1000);
    let denied = records(&events, "log.log", Decision::Deny);
    // The mediation point records the first 16 denials of a call in a run.
    assert_eq!(denied.len(), 16);
    assert_eq!(
        denied[0].outcome,
        format!(
            "denied: role researcher may not log more than 1000 messages in one run (max_messages = 1000); \
             to allow it, change line 6 of {} to: log = {{ max_message_bytes = 4096, max_messages = 1001 }}",
            h.policy_path().display()
        )
    );
    // The run's own record counts every refused message.
    let run = records(&events, "role.run", Decision::Allow)[0];
    assert_eq!(run.args["denied"]["log.log"], 999_000);
    // The budget is per run: the same host records the next run's messages.
    let before = events.len();
    h.run(&policy, RoleName::Researcher, "3").expect("runs");
    let next = &h.events()[before..];
    assert_eq!(records(next, "log.log", Decision::Allow).len(), 3);
}

/// Every capability `hostile-huge-argument` may pass its argument to.
const HUGE_ARGUMENT_GRANTS: &str =
    "log = {}\ndocs = { dir = \"docs\" }\nsecrets-meta = { paths = [\"npm/**\"] }";

/// `hostile-huge-argument` against `target`, with room to build the string.
fn huge_argument(target: &str) -> (Harness, String) {
    let h = Harness::new();
    let policy = h.role_policy(
        "researcher",
        "hostile-huge-argument",
        HUGE_ARGUMENT_GRANTS,
        "memory_mib = 256",
    );
    let outcome = h.run(&policy, RoleName::Researcher, target).expect("runs");
    // No record carries the argument whole.
    for event in h.events() {
        let size = serde_json::to_string(&event.args).unwrap().len() + event.outcome.len();
        assert!(size < 8 * 1024, "{} recorded {size} bytes", event.call);
    }
    (h, outcome.report.summary)
}

#[test]
fn a_64_mib_argument_is_cut_or_refused_and_never_recorded_whole() {
    let (h, summary) = huge_argument("log");
    assert_eq!(summary, "logged");
    let events = h.events();
    let logged = records(&events, "log.log", Decision::Allow)[0];
    let message = logged.args["message"].as_str().unwrap();
    assert_eq!(message, format!("{}…[truncated]", "A".repeat(4096)));

    for (target, call, key) in [
        ("docs", "docs.search", "query"),
        ("secrets-meta", "secrets-meta.describe", "path"),
    ] {
        let (h, summary) = huge_argument(target);
        let refusal = format!(
            "argument `{key}` of {call} is 67108864 bytes, over the host's limit of 65536 bytes per argument"
        );
        assert_eq!(summary, format!("Error::Invalid({refusal:?})"));
        let events = h.events();
        let refused = records(&events, call, Decision::Deny)[0];
        assert_eq!(refused.outcome, format!("invalid: {refusal}"));
        let kept = refused.args[key].as_str().unwrap();
        assert_eq!(kept, format!("{}…[truncated]", "A".repeat(256)));
        next_role_runs(&h);
    }

    // Under the default memory limit the argument cannot even be built.
    let h = Harness::new();
    let policy = h.role_policy(
        "researcher",
        "hostile-huge-argument",
        HUGE_ARGUMENT_GRANTS,
        "",
    );
    match h.run(&policy, RoleName::Researcher, "log").unwrap_err() {
        RunError::Limit {
            limit: LimitHit::Memory { limit_mib: 64, .. },
            ..
        } => {}
        other => panic!("expected the memory limit, got {other:?}"),
    }
}

#[test]
fn secrets_meta_gives_no_sign_of_which_secrets_exist_outside_its_scope() {
    let h = Harness::new();
    h.seed("prod/db-password", "db-canary-91c2");
    h.seed("npm/token", "npm-canary-3b7e");
    let policy = h.role_policy(
        "planner",
        "hostile-probe-meta",
        "secrets-meta = { paths = [\"npm/**\"] }",
        "",
    );
    let probes = [
        "prod/db-password",
        "prod/no-such-secret",
        "npm/../prod/db-password",
        "npm/token",
        "npm/no-such-token",
    ];
    let (answers, _) = answers(&h, &policy, RoleName::Planner, &probes);
    // Out of scope, a secret that exists and one that does not get the
    // same answer, word for word but for the path the role asked about.
    let denial = |path: &str| {
        format!(
            "err Error::Denied(\"role planner may not describe secret `{path}`; to allow it, change line 6 of {} to: \
             secrets-meta = {{ paths = [\\\"npm/**\\\", \\\"{path}\\\"] }}\")",
            h.policy_path().display()
        )
    };
    for path in &probes[..3] {
        assert_eq!(answers[*path], denial(path));
    }
    // In scope, the role may know what exists.
    assert_eq!(answers["npm/token"], "ok 1 versions");
    assert!(answers["npm/no-such-token"].starts_with("err Error::NotFound("));
    // The records name the same denial; no value is in them.
    let events = h.events();
    assert_eq!(
        records(&events, "secrets-meta.describe", Decision::Deny).len(),
        3
    );
    let everything = format!("{:?}", h.events());
    assert!(!everything.contains("db-canary-91c2") && !everything.contains("npm-canary-3b7e"));
}

#[test]
fn a_component_built_against_an_unknown_wit_version_is_refused_by_name() {
    let h = Harness::new();
    let policy = h.role_policy("researcher", "hostile-wit-0-9-0", "log = {}", "");
    let err = h.host.prepare(&policy, RoleName::Researcher).err().unwrap();
    assert!(
        matches!(err, RuntimeError::UnknownVersion { .. }),
        "{err:?}"
    );
    let component = artifacts::display(&artifacts::built_component("hostile-wit-0-9-0"));
    assert_eq!(
        err.to_string(),
        format!(
            "role researcher: component {component} imports agentward:host/log@0.9.0, a version of `log` \
             this host does not provide (it provides agentward:host/log at 0.1.0, 0.1.1)\n  \
             fix: build the component against agentward:host@0.1.1, the WIT in this host's wit/ (see docs/plugins/)"
        )
    );
    assert!(h.events().is_empty(), "nothing ran");
    // A component of a version the host does know runs on the same host.
    let known = h.role_policy(
        "researcher",
        "wit-0-1-0",
        "log = {}\ndocs = { dir = \"docs\" }",
        "",
    );
    h.run(&known, RoleName::Researcher, "npm")
        .expect("0.1.0 runs");
}

#[test]
fn a_component_of_the_wrong_world_is_refused_naming_what_it_exports() {
    let h = Harness::new();
    let policy = h.role_policy("researcher", "hostile-wrong-world", "log = {}", "");
    let err = h.host.prepare(&policy, RoleName::Researcher).err().unwrap();
    let RuntimeError::WrongWorld { exports, .. } = &err else {
        panic!("expected the wrong world, got {err:?}");
    };
    assert_eq!(exports.len(), 1, "{exports:?}");
    assert!(exports[0].starts_with("wasi:cli/run@0.2."), "{exports:?}");
    let component = artifacts::display(&artifacts::built_component("hostile-wrong-world"));
    assert_eq!(
        err.to_string(),
        format!(
            "role researcher: component {component} is not a role: no exported instance named \
             `agentward:host/agent@0.1.1`; it exports {}\n  fix: export agentward:host/agent@0.1.1 \
             (its `run` is what the host calls), as every role world does: `export_role!` in \
             agentward-sdk, or `export agent;` in a world of your own (see docs/plugins/)",
            exports[0]
        )
    );
    assert!(h.events().is_empty(), "nothing ran");
    next_role_runs(&h);
}
