//! `rotate --report junit=… --report markdown=… --report json=…`: the
//! commands docs/ci.md gives CI, run word for word (but for the project
//! and a fixed `--now`), and the JUnit file read back by a real JUnit
//! consumer, `junitparser` from PyPI (scripts/install-junitparser.sh).

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::rotation::{agentward, text, NOW};

const CANARY: &str = "npm_hello_agent_demo_value_0001";

/// A project holding the hello-agent seed under the default policy and
/// workflow (host-generated tokens: nothing outside the machine).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = agentward(dir.path(), &["init", dir.path().to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-agent/seed.json");
    let out = agentward(
        dir.path(),
        &["secrets", "import", seed.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    dir
}

/// The `agentward …` command lines of docs/ci.md's first block.
fn ci_commands() -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ci.md"))
        .unwrap();
    let block = doc
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/ci.md opens with a sh block");
    block
        .lines()
        .filter_map(|l| l.strip_prefix("agentward "))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Every test case of a JUnit file as junitparser reads it:
/// `[suite, case, "passed" | "failure" | "skipped" | "error", message]`.
fn junit_cases(file: &Path) -> Vec<Value> {
    let dir = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-junitparser.sh"))
        .output()
        .expect("bash runs");
    assert!(
        dir.status.success(),
        "{}",
        String::from_utf8_lossy(&dir.stderr)
    );
    let dir = String::from_utf8_lossy(&dir.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let script = r#"
import json, sys
from junitparser import JUnitXml
cases = []
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        result = case.result[0] if case.result else None
        kind = "passed" if result is None else type(result).__name__.lower()
        cases.append([suite.name, case.name, kind, None if result is None else result.message])
print(json.dumps(cases))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .env("PYTHONPATH", dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "junitparser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn run_ci_commands(p: &Path) {
    let commands = ci_commands();
    assert_eq!(commands.len(), 2, "check and the dry run: {commands:?}");
    for command in commands {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        if args[0] == "rotate" {
            args.extend(["--now", NOW]);
        }
        // Reports go where the docs say, relative to the runner's checkout.
        let out = Command::new(env!("CARGO_BIN_EXE_agentward"))
            .current_dir(p)
            .arg("--project")
            .arg(p)
            .args(&args)
            .env("AGENTWARD_CACHE_DIR", support::rotation::cache_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
}

#[test]
fn the_ci_dry_run_writes_reports_that_a_junit_consumer_reads() {
    let p = project();
    run_ci_commands(p.path());
    let reports = p.path().join("reports");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("rotation.json")).unwrap())
            .unwrap();
    let change = json["change_id"].as_str().unwrap().to_string();
    assert_eq!(json["dry_run"], true);
    let due: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(due.contains(&"npm/registry-token"), "{json:#}");

    let cases = junit_cases(&reports.join("rotation.xml"));
    for path in &due {
        let rotation = cases
            .iter()
            .find(|c| c[0] == *path && c[1] == "rotation")
            .unwrap_or_else(|| panic!("no rotation case for {path}: {cases:?}"));
        assert_eq!(rotation[2], "passed", "{rotation:?}");
        assert!(
            cases
                .iter()
                .any(|c| c[0] == *path && c[1].as_str().unwrap().starts_with("check: ")),
            "one case per check: {cases:?}"
        );
    }
    assert!(cases.iter().all(|c| c[2] == "passed"), "{cases:?}");

    let md = std::fs::read_to_string(reports.join("rotation.md")).unwrap();
    for expected in [
        format!("## agentward rotation `{change}` (dry run)"),
        "| Secret | From | To | State | Detail |".to_string(),
        "| `npm/registry-token` | v1 | v2 | DONE |".to_string(),
        "None outstanding.".to_string(),
        format!("agentward audit timeline {change} --format html"),
    ] {
        assert!(md.contains(&expected), "{expected:?} not in\n{md}");
    }
    for report in ["rotation.xml", "rotation.md", "rotation.json"] {
        let text = std::fs::read_to_string(reports.join(report)).unwrap();
        assert!(!text.contains(CANARY), "{report} holds a secret value");
    }
}

#[test]
fn a_failed_check_is_a_junit_failure_carrying_the_reason() {
    let p = project();
    // The tester's check asks a registry that is not there: the new token
    // fails verification and the change aborts.
    let workflow = p.path().join("policies/workflow.toml");
    let text_before = std::fs::read_to_string(&workflow).unwrap();
    let with_check = text_before.replace(
        "min_checks = 1",
        "min_checks = 1\ninput = { checks = [ { name = \"auth\", url = \"http://127.0.0.1:4873/-/whoami\" } ] }",
    );
    assert_ne!(with_check, text_before);
    std::fs::write(&workflow, with_check).unwrap();
    let xml = p.path().join("out/rotation.xml");
    let out = agentward(
        p.path(),
        &[
            "rotate",
            "--now",
            NOW,
            "--report",
            &format!("junit={}", xml.display()),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let cases = junit_cases(&xml);
    let rotation = cases
        .iter()
        .find(|c| c[0] == "npm/registry-token" && c[1] == "rotation")
        .unwrap();
    assert_eq!(rotation[2], "failure", "{rotation:?}");
    assert!(
        rotation[3]
            .as_str()
            .unwrap()
            .contains("verification failed"),
        "{rotation:?}"
    );
    let auth = cases
        .iter()
        .find(|c| c[0] == "npm/registry-token" && c[1] == "check: auth")
        .unwrap();
    assert_eq!(auth[2], "failure", "{auth:?}");
    assert!(
        auth[3]
            .as_str()
            .unwrap()
            .contains("GET http://127.0.0.1:4873/-/whoami"),
        "the failure carries the check's detail: {auth:?}"
    );
}
