//! The Planner role written in JavaScript (plugins/js/planner), built with
//! componentize-js by scripts/build-js-roles.sh.
//!
//! It links under the planner's grants and is refused without
//! `secrets-meta`; it imports no WASI at all; on the same store and task it
//! plans exactly what the Rust planner plans; and it drives a whole
//! rotation through the real `agentward` binary against a real Verdaccio.
//!
//! Needs node (20 or newer) and npm; the first build installs the pinned
//! componentize-js from the npm registry into target/tools/js/.

mod support;

use agentward::policy::RoleName;
use agentward::runtime::{RunError, RuntimeError};
use agentward::store::{SecretAttributes, SecretStore, SecretValue};
use agentward_handoff::{Briefing, DailyWindow, DocNote, Failure, Plan, PlanTask, Trigger, Usage};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::rotation::{assert_invariants, bot, project, registry, text, Setup, NOW};
use support::Harness;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The built JavaScript planner: the build script runs once per test binary.
fn js_planner() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("scripts/build-js-roles.sh"))
            .arg("planner")
            .output()
            .expect("bash runs scripts/build-js-roles.sh");
        assert!(
            out.status.success(),
            "scripts/build-js-roles.sh failed:\n{}",
            text(&out)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let path = PathBuf::from(stdout.lines().last().expect("the script prints the path"));
        assert!(path.is_absolute() && path.is_file(), "{}", path.display());
        path
    })
}

/// The planner's grants: metadata under npm/ and its log.
const PLANNER_GRANTS: &str = "log = {}\nsecrets-meta = { paths = [\"npm/**\", \"odd/**\"] }";
const PLANNER_LIMITS: &str =
    "fuel = 2_000_000_000, wall_ms = 10_000, memory_mib = 64, output_bytes = 4_194_304";

fn harness() -> Harness {
    let h = Harness::new();
    std::fs::create_dir_all(h.dir.path().join("docs")).unwrap();
    std::fs::write(h.dir.path().join("docs/README.md"), "# Runbooks\n").unwrap();
    h
}

fn planner_policy(h: &Harness, component: &str) -> agentward::policy::Policy {
    h.role_policy("planner", component, PLANNER_GRANTS, PLANNER_LIMITS)
}

#[test]
fn links_under_the_planner_grants_and_is_refused_without_secrets_meta() {
    let h = harness();
    let component = js_planner().to_str().unwrap();
    let policy = planner_policy(&h, component);
    h.host
        .prepare(&policy, RoleName::Planner)
        .expect("the JS planner links under the planner's grants");

    // Every engine feature is disabled: no WASI import at all, only the
    // world's own interfaces.
    let report = h
        .host
        .inspect(policy.role(RoleName::Planner).unwrap())
        .unwrap();
    let mut imports = report.imports.clone();
    imports.sort();
    assert_eq!(
        imports,
        [
            "agentward:host/log@0.1.1",
            "agentward:host/secrets-meta@0.1.1",
            "agentward:host/types@0.1.1",
        ],
        "{imports:?}"
    );

    let without = h.role_policy("planner", component, "log = {}", PLANNER_LIMITS);
    let err = h
        .host
        .prepare(&without, RoleName::Planner)
        .err()
        .expect("a planner without secrets-meta is refused");
    match &err {
        RuntimeError::UngrantedImport { role, import, .. } => {
            assert_eq!(*role, RoleName::Planner);
            assert_eq!(import, "agentward:host/secrets-meta@0.1.1");
        }
        other => panic!("expected an ungranted import, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("secrets-meta") && message.contains("[roles.planner.grants]"),
        "{message}"
    );
}

fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

fn hhmm(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A store holding one secret of each kind the planner tells apart.
fn seed(h: &Harness, now: OffsetDateTime) {
    let attrs = |expires: Option<OffsetDateTime>, custom: &[(&str, &str)]| SecretAttributes {
        owner: Some("platform".into()),
        expires: expires.map(ts),
        scopes: vec!["ci".into(), "publish".into()],
        origins: Vec::new(),
        custom: custom
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let value = || SecretValue::new("npm_CANARY_js_role_5f1a");
    // Due: expires within the lead time.
    h.store.insert_current(
        "npm/expiring",
        value(),
        attrs(Some(now + Duration::days(5)), &[]),
    );
    // Not due: expires later, created just now on a 90-day cadence.
    h.store.insert_current(
        "npm/fresh",
        value(),
        attrs(Some(now + Duration::days(200)), &[]),
    );
    // Due: its own cadence (7 days) is shorter than the lead time.
    h.store
        .insert_current("npm/fast", value(), attrs(None, &[("cadence_days", "7")]));
    // Not due: a cadence longer than the task's.
    h.store.insert_current(
        "npm/slow",
        value(),
        attrs(None, &[("cadence_days", "+400")]),
    );
    // A cadence that is not a number of days: planning it is an error.
    h.store.insert_current(
        "odd/cadence",
        value(),
        attrs(None, &[("cadence_days", "soon")]),
    );
    // Due: nothing is labelled current.
    h.store
        .put_pending("npm/unborn", &value(), Some("01JCHANGE"))
        .unwrap();
    // Outside the planner's scope.
    h.store.insert_current(
        "prod/db",
        value(),
        attrs(Some(now + Duration::days(1)), &[]),
    );
}

fn task(now: OffsetDateTime) -> PlanTask {
    PlanTask {
        now: ts(now),
        trigger: Trigger::Cadence,
        breach: None,
        prefixes: vec!["npm/".into()],
        cadence_days: 90,
        lead_days: 14,
        window: None,
        failures: vec![Failure {
            path: "npm/fast".into(),
            change_id: "01JEARLIERCHANGE0000000000".into(),
            outcome: "ABORTED".into(),
            reason: "verify failed: 401".into(),
        }],
        briefing: Briefing::default(),
        usages: vec![Usage {
            secret: "npm/fast".into(),
            registry: "//127.0.0.1:4873/".into(),
            scopes: vec!["@acme".into()],
            file: support::staged("repos", "app/.npmrc"),
            uses_env: false,
        }],
        config: Value::Null,
    }
}

/// The outcome of one planner run: summary and output, or the error text.
fn plan_with(
    h: &Harness,
    policy: &agentward::policy::Policy,
    task: &PlanTask,
) -> Result<(String, String), String> {
    let input = serde_json::to_string(task).unwrap();
    match h.run(policy, RoleName::Planner, &input) {
        Ok(outcome) => Ok((outcome.report.summary, outcome.report.output)),
        Err(RunError::Guest { message, .. }) => Err(message),
        Err(other) => panic!("the planner did not run: {other}"),
    }
}

#[test]
fn plans_exactly_what_the_rust_planner_plans() {
    let h = harness();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    seed(&h, now);
    let rust = planner_policy(&h, "planner");
    let js = planner_policy(&h, js_planner().to_str().unwrap());
    for (name, policy) in [("rust", &rust), ("js", &js)] {
        let started = std::time::Instant::now();
        h.host.prepare(policy, RoleName::Planner).unwrap();
        eprintln!(
            "{name} planner: compiled and linked in {:?}",
            started.elapsed()
        );
    }

    let base = task(now);
    let in_an_hour = now + Duration::hours(1);
    let breach = |path: Option<&str>| PlanTask {
        trigger: Trigger::Breach,
        breach: path.map(str::to_string),
        ..task(now)
    };
    let cases: Vec<(&str, PlanTask)> = vec![
        ("cadence", base.clone()),
        ("out of scope", PlanTask {
            prefixes: vec!["npm/".into(), "prod/".into()],
            ..base.clone()
        }),
        ("bad cadence", PlanTask {
            prefixes: vec!["".into()],
            ..base.clone()
        }),
        ("breach on a bad cadence", breach(Some("odd/cadence"))),
        // A window opening within the hour: not before then.
        ("window ahead", PlanTask {
            window: Some(DailyWindow {
                start: hhmm(in_an_hour),
                end: hhmm(in_an_hour + Duration::hours(2)),
            }),
            ..base.clone()
        }),
        // A window that crosses midnight and holds now: no wait.
        ("window now", PlanTask {
            window: Some(DailyWindow {
                start: hhmm(now - Duration::hours(1)),
                end: hhmm(now - Duration::hours(2)),
            }),
            ..base.clone()
        }),
        // The same instant written at +05:30: the window opens in that offset.
        ("offset", PlanTask {
            now: ts(now.to_offset(UtcOffset::from_hms(5, 30, 0).unwrap())),
            window: Some(DailyWindow {
                start: "03:15".into(),
                end: "03:45".into(),
            }),
            ..base.clone()
        }),
        // Later: the 90-day cadence has come for all but npm/slow.
        ("a year on", PlanTask {
            now: ts(now + Duration::days(365)),
            ..base.clone()
        }),
        // CI runs from now for 40 minutes (and at night): start after it.
        ("ci schedule", PlanTask {
            briefing: Briefing {
                documents: vec![DocNote {
                    topic: "CI schedule".into(),
                    path: "ci.md".into(),
                    title: "CI schedules".into(),
                    digest: "0".repeat(64),
                    excerpt: format!(
                        "| job | UTC |\n| build | {}-{} |\n| nightly | 23:30-00:15, weekly 9:00-x |",
                        hhmm(now - Duration::minutes(5)),
                        hhmm(now + Duration::minutes(40))
                    ),
                }],
                summary: None,
            },
            ..base.clone()
        }),
        ("breach", breach(Some("npm/fresh"))),
        ("breach without a path", breach(None)),
        ("breach out of scope", breach(Some("prod/db"))),
        ("bad window", PlanTask {
            window: Some(DailyWindow {
                start: "25:00".into(),
                end: "02:00".into(),
            }),
            ..base.clone()
        }),
        ("bad now", PlanTask {
            now: "yesterday".into(),
            ..base.clone()
        }),
    ];
    let mut planned = 0;
    for (name, case) in &cases {
        let want = plan_with(&h, &rust, case);
        let got = plan_with(&h, &js, case);
        match (&want, &got) {
            (Ok((want_summary, want_output)), Ok((got_summary, got_output))) => {
                let want_plan: Plan = serde_json::from_str(want_output).unwrap();
                let got_plan: Plan = serde_json::from_str(got_output)
                    .unwrap_or_else(|e| panic!("{name}: not a Plan ({e}): {got_output}"));
                assert_eq!(got_plan, want_plan, "{name}");
                assert_eq!(got_output, want_output, "{name}: the same JSON");
                assert_eq!(got_summary, want_summary, "{name}");
                planned += 1;
            }
            // The same error, but for the parser's own detail after the
            // colon (the `time` crate's wording is not JavaScript's).
            (Err(want_error), Err(got_error)) => {
                if *name == "bad now" {
                    let head = "now \"yesterday\" is not RFC 3339";
                    assert!(want_error.starts_with(head), "{want_error}");
                    assert_eq!(got_error, head, "{name}");
                } else {
                    assert_eq!(got_error, want_error, "{name}");
                }
            }
            _ => panic!("{name}: the Rust planner gave {want:?}, the JS planner {got:?}"),
        }
    }

    assert_eq!(planned, 8, "the cases that should plan did");
    // The cases that plan something do plan it: this is not two empty plans.
    let (_, output) = plan_with(&h, &js, &base).unwrap();
    let plan: Plan = serde_json::from_str(&output).unwrap();
    let due: Vec<&str> = plan.items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(due, ["npm/expiring", "npm/fast", "npm/unborn"]);
    assert_eq!(plan.items[1].cadence_days, 7);
    assert_eq!(
        plan.items[1].files,
        [support::staged("repos", "app/.npmrc")]
    );
    assert_eq!(plan.items[2].current_version, None);
    assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
    assert!(!output.contains("npm_CANARY"));

    // For docs/plugins/javascript.md: the median of one run (instantiate,
    // plan, host calls) of each, compiled component in memory.
    // `cargo test -p agentward --test js_role -- --nocapture` prints it.
    let input = serde_json::to_string(&base).unwrap();
    for (name, policy) in [("rust", &rust), ("js", &js)] {
        let mut runs: Vec<std::time::Duration> = (0..15)
            .map(|_| h.run(policy, RoleName::Planner, &input).unwrap().duration)
            .collect();
        runs.sort();
        eprintln!("{name} planner: one run {:?} (median of 15)", runs[7]);
    }
}

// ---- a whole rotation through the real binary, planner in JavaScript ----

#[test]
fn a_rotation_planned_in_javascript_ends_done() {
    let planner = js_planner();
    let v = registry();
    let bot = bot(&v, "jsplanner");
    let setup = Setup {
        planner: planner.to_str().unwrap(),
        ..Setup::default()
    };
    let p = project(&v, &bot, &setup);
    let out = p.run(&["check"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = p.run(&["rotate", "--now", NOW, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = summary["change_id"].as_str().unwrap();
    assert_eq!(assert_invariants(&p, &v, &bot, change), "DONE");
    assert_eq!(summary["items"][0]["old_version"], 1);
    assert_eq!(summary["items"][0]["new_version"], 2);

    // The plan the manifest recorded is the JavaScript planner's, and the
    // audit log names its component by digest.
    let recorded = p.manifest(change).to_string();
    assert!(
        recorded.contains("expires 2026-11-28T00:00:00Z, within 7 days"),
        "{recorded}"
    );
    let logs = support::all_text_under(&p.path().join("logs"));
    assert!(
        logs.contains(&agentward_sha256(planner)),
        "the audit log does not name the JS planner's digest"
    );
}

/// The component digest agentward records: sha256 of the file, hex.
fn agentward_sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}
