//! The `agentward` binary: init, check, run, and its exit codes.

mod support;

use std::path::Path;
use support::cli::{agentward, init, text};

const CANARY: &str = "npm_CANARY_cli_77aa";

#[test]
fn init_creates_the_project_layout_privately() {
    use std::os::unix::fs::PermissionsExt;
    let dir = init();
    for sub in ["secrets", "policies", "logs", "manifests"] {
        let meta = std::fs::metadata(dir.path().join(sub)).unwrap();
        assert!(meta.is_dir(), "{sub}");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{sub}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("policies/default.toml")).unwrap(),
        include_str!("../policies/default.toml")
    );
    // A second init keeps the operator's policy.
    std::fs::write(dir.path().join("policies/default.toml"), "# mine\n").unwrap();
    let out = agentward(dir.path(), &["init", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("policies/default.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn check_passes_on_the_default_policy() {
    let dir = init();
    let out = agentward(dir.path(), &["check"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("all 6 roles match their grants"),
        "{stdout}"
    );
    let planner = stdout.lines().find(|l| l.starts_with("planner ")).unwrap();
    assert!(planner.contains("log, secrets-meta"), "{planner}");
    assert!(planner.trim_end().ends_with("ok"), "{planner}");
}

#[test]
fn check_fails_on_an_ungranted_import() {
    let dir = init();
    let policy = dir.path().join("policies/hostile.toml");
    std::fs::write(
        &policy,
        "[roles.planner]\ncomponent = \"hostile-secrets-write\"\n[roles.planner.grants]\nlog = {}\n",
    )
    .unwrap();
    let out = agentward(dir.path(), &["check", "--policy", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("planner ") && l.contains("MISMATCH")),
        "{stdout}"
    );
    assert!(
        stderr.contains("imports agentward:host/secrets-write@0.1.1, which")
            && stderr.contains("does not grant to planner"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: 1 of 1 roles do not match"),
        "{stderr}"
    );
}

#[test]
fn a_policy_typo_exits_2_with_the_line() {
    let dir = init();
    let policy = dir.path().join("policies/typo.toml");
    std::fs::write(
        &policy,
        "[roles.planner]\ncomponent = \"planner\"\n[roles.planner.grants]\nlogg = {}\n",
    )
    .unwrap();
    let out = agentward(dir.path(), &["check", "--policy", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("typo.toml:4:1: unknown field `logg`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `log`?"), "{stderr}");
}

/// Writes a seed file holding the canary and imports it into the project.
fn import_canary(dir: &Path) {
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        format!(
            r#"{{"npm/token": {{"value": "{CANARY}", "expires": "2026-12-01T00:00:00Z", "origins": ["https://registry.example.com"]}}}}"#
        ),
    )
    .unwrap();
    let out = agentward(dir, &["secrets", "import", seed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("imported npm/token as version 1, labelled current"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains(CANARY) && !text(&out.stderr).contains(CANARY));
}

#[test]
fn run_prints_the_report_and_logs_events_without_values() {
    let dir = init();
    import_canary(dir.path());
    let input = support::plan_task(&["npm/"], "2026-11-25T00:00:00Z");
    let out = agentward(dir.path(), &["run", "planner", "--input", &input]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // The imported expiry falls inside the 14-day lead time.
    assert_eq!(report["summary"], "1 secrets due, 0 not due");
    let plan: agentward_handoff::Plan = serde_json::from_value(report["output"].clone()).unwrap();
    assert_eq!(plan.items.len(), 1);
    assert_eq!(plan.items[0].path, "npm/token");
    assert_eq!(plan.items[0].current_version, Some(1));
    assert_eq!(
        plan.items[0].reason,
        "expires 2026-12-01T00:00:00Z, within 14 days"
    );
    assert!(report.get("dry_run").is_none());
    let events = std::fs::read_to_string(dir.path().join("logs/audit.jsonl")).unwrap();
    // Two secrets-meta calls, the planner's log line, and the run's own record.
    assert_eq!(events.lines().count(), 4);
    assert!(events
        .lines()
        .last()
        .unwrap()
        .contains("\"call\":\"role.run\""));
    assert!(
        !stdout.contains(CANARY) && !events.contains(CANARY) && !text(&out.stderr).contains(CANARY)
    );
    let verify = agentward(dir.path(), &["audit", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(
        text(&verify.stdout).starts_with("verified 4 records in"),
        "{}",
        text(&verify.stdout)
    );
}

/// Every file under `dir` with a hash of its bytes (and its mode).
fn hash_tree(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(path, "dir".to_string());
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let mode = meta.permissions().mode();
                out.insert(
                    path,
                    format!("{mode:o} {}", hex::encode(sha2::Sha256::digest(bytes))),
                );
            }
        }
    }
    out
}

#[test]
fn init_creates_a_private_store_key_and_keeps_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = init();
    let kek = dir.path().join("keys/store-kek.key");
    let meta = std::fs::metadata(&kek).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let before = std::fs::read(&kek).unwrap();
    let out = agentward(dir.path(), &["init", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("kept existing store key"));
    assert_eq!(std::fs::read(&kek).unwrap(), before);
}

#[test]
fn secrets_import_refuses_an_origin_that_is_not_an_origin() {
    let dir = init();
    let seed = dir.path().join("bad-seed.json");
    std::fs::write(
        &seed,
        r#"{"npm/token": {"value": "v", "origins": ["https://registry.example.com/npm/"]}}"#,
    )
    .unwrap();
    let out = agentward(dir.path(), &["secrets", "import", seed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("secret npm/token: origin \"https://registry.example.com/npm/\" is not scheme://host[:port]"), "{stderr}");
    assert!(
        stderr.contains("fix: write it as the http grant does"),
        "{stderr}"
    );
    let out = agentward(dir.path(), &["secrets", "list"]);
    assert!(
        text(&out.stdout).ends_with("0 secrets\n"),
        "nothing was imported"
    );
}

#[test]
fn secrets_import_then_list_shows_metadata_never_values() {
    let dir = init();
    import_canary(dir.path());
    // A second import keeps the existing secret.
    let seed = dir.path().join("seed.json");
    let out = agentward(dir.path(), &["secrets", "import", seed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("kept existing npm/token (1 versions)"));
    let out = agentward(dir.path(), &["secrets", "list", "npm/"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let row = stdout.lines().find(|l| l.starts_with("npm/token")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            "npm/token",
            "1",
            "current=1",
            "2026-12-01T00:00:00Z",
            "https://registry.example.com"
        ]
    );
    assert!(stdout.ends_with("1 secrets\n"), "{stdout}");
    assert!(!stdout.contains(CANARY));
    let out = agentward(dir.path(), &["secrets", "list", "prod/"]);
    assert!(text(&out.stdout).ends_with("0 secrets\n"));
    // The value is on disk only sealed.
    let everything: Vec<u8> = hash_tree(&dir.path().join("secrets"))
        .keys()
        .filter(|p| p.is_file())
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(!String::from_utf8_lossy(&everything).contains(CANARY));
}

#[test]
fn secrets_import_dry_run_writes_nothing() {
    let dir = init();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        format!(r#"{{"npm/token": {{"value": "{CANARY}"}}}}"#),
    )
    .unwrap();
    let secrets = dir.path().join("secrets");
    let before = hash_tree(&secrets);
    let out = agentward(
        dir.path(),
        &["secrets", "import", seed.to_str().unwrap(), "--dry-run"],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        stdout,
        "would import npm/token as version 1, labelled current\n\
         dry run: nothing was written; planned changes:\n  \
         would create version 1 of npm/token labelled pending\n  \
         would put label current of npm/token on version 1\n  \
         would remove label pending of npm/token from version 1\n  \
         would set the attributes of npm/token (no expiry)\n"
    );
    assert_eq!(hash_tree(&secrets), before);
    let out = agentward(dir.path(), &["secrets", "list"]);
    assert!(text(&out.stdout).ends_with("0 secrets\n"));
}

#[test]
fn a_malformed_seed_exits_2_without_quoting_it() {
    let dir = init();
    let seed = dir.path().join("seed.json");
    // A value where an object belongs: serde would quote it.
    std::fs::write(&seed, format!(r#"{{"npm/token": "{CANARY}"}}"#)).unwrap();
    let out = agentward(dir.path(), &["secrets", "import", seed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("seed.json:1:") && stderr.contains("not a seed file"),
        "{stderr}"
    );
    assert!(!stderr.contains(CANARY), "{stderr}");
    let out = agentward(dir.path(), &["secrets", "list"]);
    assert!(text(&out.stdout).ends_with("0 secrets\n"));
}

#[test]
fn run_dry_run_reports_the_writes_and_leaves_the_store_alone() {
    let dir = init();
    import_canary(dir.path());
    let secrets = dir.path().join("secrets");
    let before = hash_tree(&secrets);
    let out = agentward(
        dir.path(),
        &[
            "run",
            "implementer",
            "--dry-run",
            "--change-id",
            "01JDRYRUN",
            "--input",
            &support::mint_task("npm/token", Some(1), true, &[]),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"], "minted version 2 of npm/token (pending)");
    assert_eq!(
        report["dry_run"],
        serde_json::json!([
            "would create version 2 of npm/token labelled pending (change 01JDRYRUN)"
        ])
    );
    assert_eq!(hash_tree(&secrets), before, "a dry run changed secrets/");
    assert!(!stdout.contains(CANARY));
    // The same run for real does write.
    let out = agentward(
        dir.path(),
        &[
            "run",
            "implementer",
            "--input",
            &support::mint_task("npm/token", Some(1), false, &[]),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(hash_tree(&secrets), before);
    let out = agentward(dir.path(), &["secrets", "list"]);
    assert!(
        text(&out.stdout).contains("current=1 pending=2"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_missing_or_open_store_key_exits_2_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = init();
    let kek = dir.path().join("keys/store-kek.key");
    std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o640)).unwrap();
    for args in [&["secrets", "list"][..], &["run", "researcher"]] {
        let out = agentward(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("must not be readable by group or others (mode 640)")
                && stderr.contains("fix: chmod 600"),
            "{stderr}"
        );
    }
    std::fs::remove_file(&kek).unwrap();
    let out = agentward(dir.path(), &["run", "researcher"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("store-kek.key: is missing")
            && stderr.contains("`agentward init")
            && stderr.contains("restore"),
        "{stderr}"
    );
}

fn run_researcher(dir: &Path, change: &str) {
    let input = r#"{"topics":["npm"],"config":null}"#;
    let out = agentward(
        dir,
        &["run", "researcher", "--change-id", change, "--input", input],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn audit_verify_exit_codes_tell_tampering_apart() {
    let dir = init();
    run_researcher(dir.path(), "01JA");
    run_researcher(dir.path(), "01JB");
    let log = dir.path().join("logs/audit.jsonl");
    let original = std::fs::read_to_string(&log).unwrap();
    // Each run searches the (empty) docs, logs that nothing was found, and
    // leaves its own record.
    assert_eq!(original.lines().count(), 6);

    let edited = original.replacen("\"role\":\"researcher\"", "\"role\":\"planner\"", 1);
    std::fs::write(&log, edited).unwrap();
    let out = agentward(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(10));
    assert!(
        text(&out.stderr).contains("line 1 (seq 0): the record's contents do not match its hash"),
        "{}",
        text(&out.stderr)
    );

    let first = original.lines().next().unwrap().to_string() + "\n";
    std::fs::write(&log, first).unwrap();
    let out = agentward(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(13), "{}", text(&out.stderr));

    std::fs::write(&log, &original).unwrap();
    let other = init();
    let wrong_key = other.path().join("keys/audit-signing.pub");
    let out = agentward(
        dir.path(),
        &["audit", "verify", "--key", wrong_key.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(21), "{}", text(&out.stderr));
    let out = agentward(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn audit_timeline_renders_every_format() {
    let dir = init();
    run_researcher(dir.path(), "01JTIMELINE");
    let out = agentward(dir.path(), &["audit", "timeline", "01JTIMELINE"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let terminal = text(&out.stdout);
    assert!(
        terminal.contains("01JTIMELINE") && terminal.contains("researcher"),
        "{terminal}"
    );
    assert!(
        !terminal.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    let out = agentward(dir.path(), &["audit", "timeline", "--format", "markdown"]);
    let markdown = text(&out.stdout);
    assert!(
        markdown.contains("| ") && markdown.contains("log.log"),
        "{markdown}"
    );
    let html_path = dir.path().join("timeline.html");
    let html_arg = html_path.to_str().unwrap();
    let out = agentward(
        dir.path(),
        &["audit", "timeline", "--format", "html", "--out", html_arg],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("01JTIMELINE"));
}

#[test]
fn run_failures_exit_1_and_name_the_role() {
    let dir = init();
    let out = agentward(
        dir.path(),
        &["run", "planner", "--input", r#"{"prefixes":["npm/"]}"#],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("role planner failed: planner input: missing field `now`"),
        "{stderr}"
    );
}

#[test]
fn unknown_role_and_bad_json_exit_2() {
    let dir = init();
    let out = agentward(dir.path(), &["run", "auditor"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown role `auditor`; roles are: planner, implementer"));
    let out = agentward(dir.path(), &["run", "planner", "--input", "{not json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--input is not valid JSON"));
}

#[test]
fn completions_and_man_pages_come_from_the_real_flags() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = agentward(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for word in ["rotate", "resume", "dry-run", "watch", "grace-ms"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = agentward(dir.path(), &["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );

    let man = dir.path().join("man1");
    let out = agentward(dir.path(), &["man", "--out", man.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for page in [
        "agentward.1",
        "agentward-rotate.1",
        "agentward-secrets-exec.1",
    ] {
        let roff =
            std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH"),
            "{page}: {roff}"
        );
    }
    let exec = std::fs::read_to_string(man.join("agentward-secrets-exec.1")).unwrap();
    assert!(exec.contains("grace"), "the page documents --grace-ms");
}

#[test]
fn precompile_fills_the_cache_and_check_names_stale_and_foreign_entries() {
    let dir = init();
    let cache = dir.path().join(".cache");
    let out = agentward(
        dir.path(),
        &["precompile", "--out", cache.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    assert!(!files.is_empty(), "{table}");
    for file in &files {
        let (digest, engine) = file
            .strip_suffix(".cwasm")
            .unwrap()
            .split_once('-')
            .unwrap();
        assert_eq!(digest.len(), 64, "named by the component's sha256: {file}");
        assert_eq!(engine.len(), 16, "and the engine's hash: {file}");
        assert!(table.contains(file.as_str()), "{file} not in\n{table}");
    }
    // A second run finds everything compiled.
    let again = agentward(
        dir.path(),
        &["precompile", "--out", cache.to_str().unwrap()],
    );
    let again = text(&again.stdout);
    assert!(!again.contains("compiled in"), "{again}");
    assert!(again.contains("already cached"), "{again}");

    let (digest, engine) = files[0]
        .strip_suffix(".cwasm")
        .unwrap()
        .split_once('-')
        .unwrap();
    let foreign = format!("{digest}-{}.cwasm", "0".repeat(16));
    let stale = format!("{}-{engine}.cwasm", "a".repeat(64));
    std::fs::copy(cache.join(&files[0]), cache.join(&foreign)).unwrap();
    std::fs::copy(cache.join(&files[0]), cache.join(&stale)).unwrap();
    let out = agentward(dir.path(), &["check"]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    assert!(report.contains(&format!("{foreign}: foreign")), "{report}");
    assert!(report.contains(&format!("{stale}: stale")), "{report}");
}

#[test]
fn a_schedule_says_what_is_due_and_when_and_changes_wait_for_its_window() {
    let dir = init();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-agent/seed.json");
    let out = agentward(dir.path(), &["secrets", "import", seed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let workflow = dir.path().join("policies/workflow.toml");
    let original = std::fs::read_to_string(&workflow).unwrap();
    // Mondays 03:00 UTC for three hours; 2026-11-25 is a Wednesday.
    let scheduled = original.replace(
        "lead_days = 7",
        "lead_days = 7\nschedule = \"0 3 * * 1\"\nschedule_window = \"3h\"",
    );
    std::fs::write(&workflow, &scheduled).unwrap();
    let wednesday = "2026-11-25T03:00:00Z";
    let out = agentward(dir.path(), &["rotate", "--due", "--now", wednesday]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let due = text(&out.stdout);
    for expected in [
        "window 2026-11-30T03:00:00Z – 2026-11-30T06:00:00Z",
        "npm/registry-token  expires 2026-12-01T00:00:00Z, within 7 days  2026-11-30T03:00:00Z",
    ] {
        assert!(due.contains(expected), "{expected:?} not in\n{due}");
    }
    assert!(
        std::fs::read_dir(dir.path().join("manifests"))
            .unwrap()
            .next()
            .is_none(),
        "--due makes no change"
    );
    // Outside the window a cadence change waits (exit 3) ...
    let out = agentward(dir.path(), &["rotate", "--now", wednesday]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("opens at 2026-11-30T03:00:00Z"));
    let change = std::fs::read_dir(dir.path().join("manifests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find_map(|n| n.strip_suffix(".json").map(str::to_string))
        .unwrap();
    // ... and goes ahead once it is open.
    let out = agentward(
        dir.path(),
        &["resume", &change, "--now", "2026-11-30T04:00:00Z"],
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // A schedule without its window length, or beside a daily window, is
    // refused with the line and the fix.
    for (broken, says) in [
        (
            original.replace("lead_days = 7", "lead_days = 7\nschedule = \"0 3 * * 1\""),
            "a schedule needs schedule_window",
        ),
        (
            scheduled.replace(
                "lead_days = 7",
                "lead_days = 7\nwindow = { start = \"01:00\", end = \"02:00\" }",
            ),
            "a daily window or a schedule, not both",
        ),
        (
            original.replace(
                "lead_days = 7",
                "lead_days = 7\nschedule = \"0 25 * * 1\"\nschedule_window = \"3h\"",
            ),
            "hour `25` is not a number from 0 to 23",
        ),
    ] {
        std::fs::write(&workflow, broken).unwrap();
        let out = agentward(dir.path(), &["rotate", "--due", "--now", wednesday]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(says) && err.contains("workflow.toml:"),
            "{err}"
        );
        assert!(err.contains("fix: "), "{err}");
    }
}

/// `policy pin` writes each component's sha256 into the policy, keeping
/// its comments; a component swapped afterwards is refused before it is
/// compiled, naming both digests.
#[test]
fn a_pinned_component_that_changed_is_refused_before_compiling() {
    use agentward::runtime::artifacts::built_component;
    use sha2::{Digest, Sha256};
    let dir = init();
    let p = dir.path();
    // The researcher runs a copy inside the project, so the test can swap it.
    std::fs::create_dir_all(p.join("components")).unwrap();
    let copy = p.join("components/researcher.wasm");
    std::fs::copy(built_component("researcher"), &copy).unwrap();
    let policy = p.join("policies/default.toml");
    let original = std::fs::read_to_string(&policy).unwrap().replace(
        "component = \"researcher\"",
        "component = \"components/researcher.wasm\"",
    );
    std::fs::write(&policy, &original).unwrap();
    let out = agentward(p, &["policy", "pin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("pinned 6 components"),
        "{}",
        text(&out.stdout)
    );
    let pinned = std::fs::read_to_string(&policy).unwrap();
    assert_eq!(pinned.matches("sha256 = \"").count(), 6, "{pinned}");
    let first_comment = original.lines().next().unwrap();
    assert!(pinned.starts_with(first_comment), "comments stay");
    let digest = |file: &Path| hex::encode(Sha256::digest(std::fs::read(file).unwrap()));
    let reviewed = digest(&copy);
    assert!(
        pinned.contains(&format!(
            "component = {{ name = \"components/researcher.wasm\", sha256 = \"{reviewed}\" }}"
        )),
        "{pinned}"
    );
    run_researcher(p, "01JCHANGEPINNED00000000000");

    // Someone swaps the reviewed component for another one.
    std::fs::copy(built_component("planner"), &copy).unwrap();
    let swapped = digest(&copy);
    let input = r#"{"topics":["npm"],"config":null}"#;
    let out = agentward(p, &["run", "researcher", "--input", input]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "has sha256 {swapped}, but the policy pins {reviewed}"
        )) && stderr.contains("agentward policy pin"),
        "{stderr}"
    );
    let compiled = std::fs::read_dir(p.join(".cache"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .any(|name| name.starts_with(&swapped));
    assert!(!compiled, "the swapped component was compiled");

    // A pin that is not a sha256 is a policy error with its line.
    let bad = pinned.replace(&reviewed, "abc");
    std::fs::write(&policy, bad).unwrap();
    let out = agentward(p, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("not 64 lower-case hex digits") && stderr.contains("default.toml:"),
        "{stderr}"
    );
}

/// `policy diff` names each grant a change widens or narrows, in words and
/// as JSON; `policy --help` lists it beside `pin`.
#[test]
fn policy_diff_names_every_grant_widened_or_narrowed() {
    let dir = init();
    let p = dir.path();
    let old = p.join("policies/default.toml");
    let default_policy = std::fs::read_to_string(&old).unwrap();
    let planner_meta = "secrets-meta = { paths = [\"npm/**\"] }";
    assert!(
        default_policy.contains(planner_meta),
        "the default planner grant moved"
    );
    let new = p.join("policies/proposed.toml");
    std::fs::write(
        &new,
        default_policy.replacen(
            planner_meta,
            "secrets-meta = { paths = [\"npm/**\", \"prod/**\"] }",
            1,
        ),
    )
    .unwrap();
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = agentward(p, &["policy", "diff", old, new]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("WIDENED"))
        .expect(&stdout);
    assert!(
        line.contains("planner") && line.contains("secrets-meta.paths adds \"prod/**\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 widened, 0 narrowed, 0 changed"),
        "{stdout}"
    );
    let out = agentward(p, &["policy", "diff", new, old, "--json"]);
    let changes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        changes,
        serde_json::json!([{
            "role": "planner",
            "direction": "narrowed",
            "field": "secrets-meta.paths",
            "what": "drops \"prod/**\"",
        }])
    );
    let help = text(&agentward(p, &["policy", "--help"]).stdout);
    assert!(help.contains("diff") && help.contains("pin"), "{help}");
}

#[test]
fn a_role_out_of_its_own_stack_fails_in_one_line_and_verbose_shows_where() {
    use agentward::runtime::artifacts::built_component;
    let dir = init();
    let p = dir.path();
    let hostile = built_component("hostile-shadow-stack-overflow");
    let policy = p.join("policies/default.toml");
    let text_of = std::fs::read_to_string(&policy).unwrap().replace(
        "component = \"researcher\"",
        &format!("component = {:?}", hostile.display().to_string()),
    );
    std::fs::write(&policy, text_of).unwrap();
    let out = agentward(p, &["run", "researcher"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0]
            .contains("role researcher was stopped: it overflowed its own stack in linear memory"),
        "{stderr}"
    );
    let out = agentward(p, &["run", "researcher", "--verbose"]);
    let verbose = text(&out.stderr);
    assert!(
        verbose.lines().count() > 16,
        "the backtrace follows: {verbose}"
    );
    assert!(verbose.contains("wasm backtrace:"), "{verbose}");
    let recursing = lines[0]
        .split("recursing in ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .unwrap();
    assert!(
        verbose.matches(&format!("<{recursing}>")).count() >= 16,
        "{recursing} fills the backtrace: {verbose}"
    );
}
