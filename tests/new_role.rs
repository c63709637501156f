//! `agentward new role`: for each language, the scaffold builds with that
//! language's own toolchain, passes `check` under the stanza the command
//! printed, and runs its sample task with its log line on record; bad names,
//! roles and directories are refused before anything is written.
//!
//! The Rust build shares target/scaffold-roles between runs; the Python one
//! uses the componentize-py that scripts/build-python-roles.sh installs; the
//! JavaScript one installs the pinned componentize-js from the npm registry.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::cli::{agentward, init, text};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The componentize-py of the repository's own Python roles.
fn componentize_py() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/build-python-roles.sh"))
        .arg("reviewer")
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let venv = std::env::var_os("AGENTWARD_PYTHON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/tools/python"));
    venv.join("bin/componentize-py")
}

/// Scaffolds `hello-LANG` as the researcher in a new project, builds it
/// with build.sh, and writes the printed stanza as policies/hello.toml.
fn scaffold_build_check_run(lang: &str) {
    let project = init();
    let name = format!("hello-{lang}");
    let dir = project.path().join("roles").join(&name);
    let out = agentward(
        project.path(),
        &[
            "new",
            "role",
            &name,
            "--lang",
            lang,
            "--as",
            "researcher",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stanza = text(&out.stdout);
    assert_eq!(
        stanza,
        format!(
            "[roles.researcher]\ncomponent = \"roles/{name}/{name}.wasm\"\n\n\
             [roles.researcher.grants]\nlog = {{}}\n"
        )
    );
    assert!(
        text(&out.stderr).contains("build.sh"),
        "{}",
        text(&out.stderr)
    );
    let policy = project.path().join("policies/hello.toml");
    std::fs::write(&policy, &stanza).unwrap();

    let mut build = Command::new(dir.join("build.sh"));
    match lang {
        "rust" => build.env("CARGO_TARGET_DIR", repo().join("target/scaffold-roles")),
        "python" => build.env("COMPONENTIZE_PY", componentize_py()),
        _ => &mut build,
    };
    let built = build.output().expect("build.sh runs");
    assert!(
        built.status.success(),
        "{}{}",
        text(&built.stdout),
        text(&built.stderr)
    );
    let component = dir.join(format!("{name}.wasm"));
    assert_eq!(
        text(&built.stdout).lines().last().map(PathBuf::from),
        Some(component.clone())
    );

    let policy_arg = policy.to_str().unwrap();
    let checked = agentward(
        project.path(),
        &["check", "--no-workflow", "--policy", policy_arg],
    );
    let report = text(&checked.stdout);
    assert!(
        checked.status.success(),
        "{report}{}",
        text(&checked.stderr)
    );
    let row = report
        .lines()
        .find(|l| l.starts_with("researcher"))
        .unwrap_or_else(|| panic!("no researcher row: {report}"));
    assert!(row.contains(" log ["), "imports only log: {row}");
    assert!(row.contains(&format!("roles/{name}/{name}.wasm]")), "{row}");
    assert!(row.trim_end().ends_with("ok"), "{row}");

    let input = r#"{"hello":"world"}"#;
    let ran = agentward(
        project.path(),
        &[
            "run",
            "researcher",
            "--policy",
            policy_arg,
            "--input",
            input,
        ],
    );
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert_eq!(report["role"], "researcher");
    assert_eq!(report["output"]["role"], name.as_str());
    assert_eq!(report["output"]["input_bytes"], input.len());
    assert_eq!(
        report["summary"],
        format!("{name} read {} bytes of input", input.len()).as_str()
    );
    // The sample's log call went through mediation onto the record.
    let log = std::fs::read_to_string(project.path().join("logs/audit.jsonl")).unwrap();
    assert!(
        log.contains(&format!("{name}: hello, outside a change")),
        "{log}"
    );
    let verified = agentward(project.path(), &["audit", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
}

#[test]
fn a_rust_role_builds_checks_and_runs() {
    scaffold_build_check_run("rust");
}

#[test]
fn a_python_role_builds_checks_and_runs() {
    scaffold_build_check_run("python");
}

#[test]
fn a_javascript_role_builds_checks_and_runs() {
    scaffold_build_check_run("javascript");
}

#[test]
fn bad_names_roles_and_directories_are_refused_before_anything_is_written() {
    let project = init();
    let p = project.path();
    let refused = |args: &[&str], says: &str| {
        let out = agentward(p, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    let out_dir = p.join("roles/x");
    let out = out_dir.to_str().unwrap();
    for (name, lang, slot, says) in [
        (
            "Bad_Name",
            "rust",
            Some("planner"),
            "`Bad_Name` is not a role name: use kebab-case",
        ),
        (
            "license-check",
            "python",
            None,
            "say which role it runs as: --as ROLE",
        ),
        (
            "license-check",
            "python",
            Some("auditor"),
            "--as auditor: not a role; roles are: planner, implementer",
        ),
    ] {
        let mut args = vec!["new", "role", name, "--lang", lang, "--out", out];
        args.extend(slot.iter().flat_map(|slot| ["--as", *slot]));
        refused(&args, says);
    }
    assert!(!out_dir.exists());
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("mine.txt"), "keep me").unwrap();
    refused(
        &[
            "new",
            "role",
            "reviewer",
            "--lang",
            "javascript",
            "--out",
            out,
        ],
        "is not empty; name another directory with --out",
    );
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        1,
        "nothing was added beside mine.txt"
    );
}
