//! The Reviewer written in Python (plugins/python/reviewer, built with
//! componentize-py by scripts/build-python-roles.sh) under the same host,
//! the same grants and the same workflow as the Rust roles.
//!
//! The build script needs python3 and, on its first run, PyPI; it then
//! keeps its venv in target/tools/python and rebuilds only what changed.

mod support;

use agentward::policy::RoleName;
use agentward::runtime::RuntimeError;
use agentward_handoff::SignOff;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use support::rotation::{self, Bot, Project, Setup, NOW};
use support::verdaccio::Verdaccio;
use support::{review_task, Harness};

const WORKSPACE_IMPORT: &str = "agentward:host/workspace@0.1.1";

/// The Python reviewer component, built once per test binary.
fn python_reviewer() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-python-roles.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("reviewer")
            .output()
            .expect("bash runs scripts/build-python-roles.sh");
        assert!(
            out.status.success(),
            "building the Python roles failed\n  fix: install python3 with venv and pip, and let it reach PyPI once\n{}",
            rotation::text(&out)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let path = PathBuf::from(stdout.lines().last().expect("the script prints the path"));
        assert!(path.is_absolute() && path.is_file(), "{}", path.display());
        path
    })
}

/// The reviewer's grants in tests/rotation.rs and policies/default.toml.
const REVIEWER_GRANTS: &str = "log = {}\nworkspace = { roots = [\"repos\"], mode = \"read\" }";

fn reviewer_policy(h: &Harness, component: &Path) -> agentward::policy::Policy {
    h.role_policy("reviewer", component.to_str().unwrap(), REVIEWER_GRANTS, "")
}

#[test]
fn the_python_reviewer_links_under_the_reviewers_grants_only() {
    let component = python_reviewer();
    let h = Harness::new();
    let policy = reviewer_policy(&h, component);
    let report = h
        .host
        .inspect(policy.role(RoleName::Reviewer).unwrap())
        .unwrap();
    let ours: Vec<&str> = report
        .imports
        .iter()
        .map(String::as_str)
        .filter(|i| i.starts_with("agentward:"))
        .collect();
    assert!(ours.contains(&WORKSPACE_IMPORT), "{:?}", report.imports);
    assert!(
        ours.contains(&"agentward:host/log@0.1.1"),
        "{:?}",
        report.imports
    );
    h.host
        .prepare(&policy, RoleName::Reviewer)
        .expect("the reviewer's grants are enough");

    // Without `workspace` the role is refused before it runs, by name.
    let without = h.role_policy("reviewer", component.to_str().unwrap(), "log = {}", "");
    let err = match h.host.prepare(&without, RoleName::Reviewer) {
        Err(e) => e,
        Ok(_) => panic!("a reviewer without workspace was linked"),
    };
    assert!(
        matches!(&err, RuntimeError::UngrantedImport { import, .. } if import == WORKSPACE_IMPORT),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("role reviewer")
            && message.contains(WORKSPACE_IMPORT)
            && message.contains("does not grant"),
        "{message}"
    );
}

#[test]
fn the_python_reviewer_rejects_a_plaintext_token() {
    let component = python_reviewer();
    let h = Harness::new();
    let policy = reviewer_policy(&h, component);
    h.repo_file("app/.npmrc", "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n");
    let outcome = h
        .run(
            &policy,
            RoleName::Reviewer,
            &review_task(
                "npm/token",
                2,
                &[(
                    "repos",
                    "app/.npmrc",
                    "registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=npm_literal\n",
                )],
            ),
        )
        .unwrap();
    assert_eq!(
        outcome.report.summary,
        "rejected version 2 of npm/token: 1 findings"
    );
    let sign_off: SignOff = serde_json::from_str(&outcome.report.output).unwrap();
    assert_eq!((sign_off.path.as_str(), sign_off.version), ("npm/token", 2));
    assert!(!sign_off.approved);
    assert_eq!(sign_off.findings.len(), 1, "{sign_off:?}");
    assert_eq!(sign_off.findings[0].file.as_deref(), Some("app/.npmrc"));
    assert_eq!(
        sign_off.findings[0].message,
        "line 2 holds a plaintext credential"
    );
    // The one log call lands in the audit trail; the file read too.
    let calls: Vec<String> = h.events().iter().map(|e| e.call.clone()).collect();
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("log.")).count(),
        1,
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == "workspace.read-file"),
        "{calls:?}"
    );
}

/// Tasks on which the Python reviewer must hand off exactly what the Rust
/// one does.
fn parity_tasks() -> Vec<String> {
    let reference = "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n";
    let mut tasks = vec![
        // Unchanged, changed, new, and a plaintext password among them.
        review_task(
            "npm/token",
            2,
            &[
                (
                    "repos",
                    "same/.npmrc",
                    "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
                ),
                ("repos", "app/.npmrc", reference),
                ("repos", "new/.npmrc", reference),
            ],
        ),
        review_task(
            "npm/token",
            3,
            &[(
                "repos",
                "app/.npmrc",
                "a=1\r\n//h/:_password=hunter2\r\n_authToken=\n_authToken= ${X} \n",
            )],
        ),
        // A file outside the allowed names, and a root the role may not read.
        review_task("npm/token", 2, &[("repos", "app/package.json", "{}\n")]),
        review_task("npm/token", 2, &[("elsewhere", "app/.npmrc", reference)]),
    ];
    // Changes of another version, and a proposal missing.
    let mut mismatched: Value = serde_json::from_str(&tasks[0]).unwrap();
    mismatched["changes"]["version"] = 7.into();
    mismatched["proposed"].as_array_mut().unwrap().pop();
    tasks.push(mismatched.to_string());
    // Other allowed names from the step's config.
    let mut configured: Value = serde_json::from_str(&tasks[2]).unwrap();
    configured["config"] = serde_json::json!({ "allowed_files": ["package.json", ".yarnrc"] });
    tasks.push(configured.to_string());
    tasks
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[test]
fn the_python_and_rust_reviewers_hand_off_the_same_sign_off() {
    let python = python_reviewer();
    let h = Harness::new();
    h.repo_file("same/.npmrc", "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n");
    h.repo_file("app/.npmrc", "//127.0.0.1:4873/:_authToken=npm_old\n");
    h.repo_file("app/package.json", "{}\n");
    // Compiling each component once (the harness keeps no on-disk cache).
    let started = std::time::Instant::now();
    h.host
        .load(&agentward::runtime::artifacts::built_component("reviewer"))
        .unwrap();
    let rust_compile = started.elapsed();
    let started = std::time::Instant::now();
    h.host.load(python).unwrap();
    let python_compile = started.elapsed();
    let rust_policy = h.role_policy("reviewer", "reviewer", REVIEWER_GRANTS, "");
    let rust = h.host.prepare(&rust_policy, RoleName::Reviewer).unwrap();
    let python_policy = reviewer_policy(&h, python);
    let py = h.host.prepare(&python_policy, RoleName::Reviewer).unwrap();
    let task = |input: &str| agentward::capabilities::Task {
        change_id: "01JTESTCHANGE0000000000000".into(),
        input: input.into(),
    };
    let (mut rust_times, mut python_times) = (Vec::new(), Vec::new());
    let (mut rust_fuel, mut python_fuel) = (0, 0);
    for input in parity_tasks() {
        let expected = h.host.run(&rust, &task(&input)).unwrap();
        let got = h.host.run(&py, &task(&input)).unwrap();
        assert_eq!(got.report.summary, expected.report.summary, "{input}");
        let (got_json, expected_json): (Value, Value) = (
            serde_json::from_str(&got.report.output).unwrap(),
            serde_json::from_str(&expected.report.output).unwrap(),
        );
        assert_eq!(got_json, expected_json, "{input}");
        // It parses as the handoff record, unknown fields refused.
        let _: SignOff = serde_json::from_str(&got.report.output).unwrap();
        rust_times.push(expected.duration);
        python_times.push(got.duration);
        rust_fuel = rust_fuel.max(expected.fuel_used);
        python_fuel = python_fuel.max(got.fuel_used);
    }
    // A malformed task fails both with the same kind of message.
    let broken = r#"{"path":"npm/token","version":2}"#;
    let err = h.host.run(&py, &task(broken)).unwrap_err().to_string();
    assert!(
        err.contains("reviewer input:") && err.contains("changes"),
        "{err}"
    );

    // What it costs: one Host::run, instantiation included (medians).
    for _ in 0..5 {
        let input = &parity_tasks()[0];
        rust_times.push(h.host.run(&rust, &task(input)).unwrap().duration);
        python_times.push(h.host.run(&py, &task(input)).unwrap().duration);
    }
    let rust_size = std::fs::metadata(agentward::runtime::artifacts::built_component("reviewer"))
        .unwrap()
        .len();
    let python_size = std::fs::metadata(python).unwrap().len();
    eprintln!(
        "reviewer component: rust {rust_size} bytes, python {python_size} bytes; \
         compile: rust {rust_compile:?}, python {python_compile:?}; \
         one Host::run (median of {}): rust {:?}, python {:?}; \
         most fuel in one run: rust {rust_fuel}, python {python_fuel}",
        rust_times.len(),
        median(rust_times),
        median(python_times)
    );
}

/// A project of the shared rotation setup (tests/support/rotation.rs) whose
/// reviewer is the Python component, by absolute path, and whose
/// Implementer stages `repos/app/.npmrc`, so the Python reviewer has a file
/// to read and judge; `review` is the review step's input table.
fn project(v: &Verdaccio, bot: &Bot, review: &str) -> Project {
    let reviewer = python_reviewer().to_str().unwrap();
    let p = rotation::project(
        v,
        bot,
        &Setup {
            reviewer,
            ..Setup::default()
        },
    );
    let workflow_file = p.path().join("policies/workflow.toml");
    let workflow = std::fs::read_to_string(&workflow_file).unwrap();
    let issuer_end = format!("password = \"registry/{}-password\" }}", bot.name);
    let review_step = "stage = \"review\"\nrole = \"reviewer\"\n";
    assert!(workflow.contains(&issuer_end) && workflow.contains(review_step));
    let workflow = workflow
        .replacen(
            &issuer_end,
            &format!("{issuer_end}, npmrc = [ {{ root = \"repos\", file = \"app/.npmrc\" }} ]"),
            1,
        )
        .replacen(
            review_step,
            &format!("{review_step}input = {{ {review} }}\n"),
            1,
        );
    std::fs::write(&workflow_file, workflow).unwrap();
    std::fs::create_dir_all(p.path().join("repos/app")).unwrap();
    std::fs::write(
        p.path().join("repos/app/.npmrc"),
        format!(
            "@agentward:registry={url}/\n//127.0.0.1/:_authToken=npm_placeholder\n",
            url = v.url()
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_rotation_reviewed_by_the_python_reviewer_is_done() {
    let v = rotation::registry();
    let bot = rotation::bot(&v, "pyclean");
    let p = project(&v, &bot, "");
    let out = p.run(&["rotate", "--now", NOW, "--json"]);
    assert!(out.status.success(), "{}", rotation::text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = summary["change_id"].as_str().unwrap();
    assert_eq!(rotation::assert_invariants(&p, &v, &bot, change), "DONE");
    let manifest = p.manifest(change);
    let item = &manifest["items"][0];
    assert_eq!(item["findings"], serde_json::json!([]), "{manifest:#}");
    assert_eq!(
        item["staged"][0]["file"], "app/.npmrc",
        "the reviewer had a file to review: {manifest:#}"
    );
    // The reviewer that signed it off was the Python component.
    let python_digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(python_reviewer()).unwrap(),
        ))
    };
    let log = support::all_text_under(&p.path().join("logs"));
    assert!(
        log.contains(&python_digest),
        "no audit record names the Python reviewer's digest {python_digest}"
    );
}

#[test]
fn a_rotation_the_python_reviewer_rejects_is_aborted_with_its_finding() {
    let v = rotation::registry();
    let bot = rotation::bot(&v, "pyreject");
    // Only .yarnrc may change, and the Implementer stages an .npmrc.
    let p = project(&v, &bot, r#"allowed_files = [".yarnrc"]"#);
    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", rotation::text(&out));
    let change = p.change_id();
    assert_eq!(
        rotation::assert_invariants(&p, &v, &bot, &change),
        "ABORTED"
    );
    let manifest = p.manifest(&change);
    let item = &manifest["items"][0];
    let message = r#"not an allowed file (allowed: [".yarnrc"])"#;
    let reason = item["reason"].as_str().unwrap();
    assert!(
        reason.contains("the reviewer rejected the change")
            && reason.contains(&format!("app/.npmrc: {message}")),
        "{reason}"
    );
    assert_eq!(item["findings"][0]["message"], message, "{manifest:#}");
}
