//! A canary secret run through every capability, by the real binary, in a
//! real project: it must not appear in any file under logs/ or manifests/,
//! nor in anything the commands print.

mod support;

use std::path::Path;
use std::process::Command;
use support::EchoServer;

const CANARY: &str = "npm_CANARY_everywhere_8c1d2e";

/// Runs agentward in `project` and returns everything it printed.
fn agentward(project: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentward"))
        .arg("--project")
        .arg(project)
        .args(args)
        .env("AGENTWARD_CACHE_DIR", project.join(".cache"))
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

#[test]
fn a_canary_crosses_every_capability_and_never_lands_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    let (ok, mut printed) = agentward(project, &["init", project.to_str().unwrap()]);
    assert!(ok, "{printed}");
    std::fs::create_dir_all(project.join("repos/app")).unwrap();
    std::fs::write(
        project.join("repos/app/.npmrc"),
        "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
    )
    .unwrap();
    let seed = project.join("seed.json");
    std::fs::write(
        &seed,
        format!(r#"{{"npm/token": {{"value": "{CANARY}", "expires": "2026-12-01T00:00:00Z"}}}}"#),
    )
    .unwrap();
    let server = EchoServer::start(CANARY, 1);
    let policy = project.join("policies/canary.toml");
    std::fs::write(
        &policy,
        format!(
            r#"
[roles.planner]
component = "planner"
[roles.planner.grants]
log = {{}}
secrets-meta = {{ paths = ["npm/**"] }}

[roles.implementer]
component = "hostile-leak-secret"
[roles.implementer.grants]
log = {{}}
secrets-read = {{ paths = ["npm/**"] }}
workspace = {{ roots = ["repos"], mode = "propose" }}

[roles.tester]
component = "tester"
[roles.tester.grants]
secrets-meta = {{ paths = ["npm/**"] }}
handles = {{ paths = ["npm/**"] }}
http = {{ origins = ["{}"], methods = ["GET"] }}
sql = {{}}

[roles.reviewer]
component = "reviewer"
[roles.reviewer.grants]
log = {{}}
workspace = {{ roots = ["repos"], mode = "read" }}
model = {{}}
"#,
            server.origin
        ),
    )
    .unwrap();
    let (ok, out) = agentward(project, &["secrets", "import", seed.to_str().unwrap()]);
    assert!(ok, "{out}");
    printed.push_str(&out);
    let policy = policy.to_str().unwrap();
    let planner_input = support::plan_task(&["npm/"], "2026-11-25T00:00:00Z");
    let tester_input = support::test_task(
        "npm/token",
        1,
        "current",
        support::auth_check(&format!("{}/-/whoami", server.origin)),
    );
    let reviewer_input = support::review_task(
        "npm/token",
        1,
        &[(
            "repos",
            "app/.npmrc",
            "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
        )],
    );
    let runs: [(&str, &str); 4] = [
        ("planner", &planner_input),
        ("implementer", "\"npm/token\""),
        ("tester", &tester_input),
        ("reviewer", &reviewer_input),
    ];
    for (role, input) in runs {
        let (ok, out) = agentward(
            project,
            &[
                "run",
                role,
                "--policy",
                policy,
                "--change-id",
                "01JCANARY",
                "--input",
                input,
            ],
        );
        assert!(ok, "{role}: {out}");
        printed.push_str(&out);
    }
    // The tester really used the value: the server saw it.
    assert_eq!(
        server.seen_authorization.lock().unwrap().as_slice(),
        [format!("Bearer {CANARY}")]
    );
    for args in [
        &["audit", "verify"][..],
        &["audit", "timeline"],
        &["audit", "timeline", "--format", "markdown"],
        &["audit", "timeline", "--format", "html"],
    ] {
        let (ok, out) = agentward(project, args);
        assert!(ok, "{args:?}: {out}");
        printed.push_str(&out);
    }
    let calls = std::fs::read_to_string(project.join("logs/audit.jsonl")).unwrap();
    for call in [
        "secrets-meta.describe",
        "secrets-read.read",
        "log.log",
        "workspace.propose-change",
        "handles.acquire",
        "http.send",
        "workspace.read-file",
    ] {
        assert!(
            calls.contains(&format!("\"call\":\"{call}\"")),
            "{call} was exercised"
        );
    }
    assert!(
        printed.contains("hmac-sha256:"),
        "the leak attempts were redacted, not absent"
    );
    assert!(!printed.contains(CANARY), "printed: {printed}");
    for dir in ["logs", "manifests"] {
        let everything = support::all_text_under(&project.join(dir));
        assert!(!everything.is_empty() || dir == "manifests");
        assert!(!everything.contains(CANARY), "{dir}/ holds the canary");
    }
}
