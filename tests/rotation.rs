//! The orchestrator end to end: the real `agentward` binary rotating real
//! npm tokens in a real Verdaccio on 127.0.0.1, through the real role
//! components.
//!
//! The crash test kills the process with SIGKILL at every boundary of the
//! state machine (and inside a role, between the registry minting a token
//! and the store recording it), resumes, and checks the invariants: exactly
//! one current credential, and it works; no live registry token without a
//! record; the old token revoked if and only if the change reached DONE;
//! the audit log verifies; no secret value in any manifest or log.

mod support;

use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use support::rotation::*;
use support::verdaccio::Verdaccio;

/// A project whose first rotation was killed (SIGKILL) at `point`.
fn killed_at(v: &Verdaccio, bot: &Bot, point: &str) -> (Project, String) {
    let p = project(v, bot, &Setup::default());
    let out = agentward(p.path(), &["rotate", "--now", NOW], Some(point));
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{point} was not hit: {}",
        text(&out)
    );
    let change = p.change_id();
    (p, change)
}

/// Every boundary of the state machine, and two inside the Implementer.
const CRASH_POINTS: &[&str] = &[
    "intent:mint",
    "call:http.send",
    "call:secrets-write.put-pending",
    "effect:mint",
    "state:MINTED",
    "intent:confirm",
    "state:PENDING_STORED",
    "intent:stage",
    "state:STAGED",
    "intent:verify",
    "effect:verify",
    "state:VERIFIED",
    "intent:promote",
    "effect:promote",
    "state:PROMOTED",
    "intent:health",
    "intent:revoke-old",
    "effect:revoke-old",
    "state:OLD_REVOKED",
    "state:DONE",
];

#[test]
fn a_rotation_killed_at_any_boundary_resumes_to_done_without_losing_a_credential() {
    let v = registry();
    for (n, point) in CRASH_POINTS.iter().enumerate() {
        let bot = bot(&v, &format!("crash{n}"));
        let (p, change) = killed_at(&v, &bot, point);
        let out = p.run(&["resume", &change, "--now", NOW]);
        assert!(out.status.success(), "resume after {point}: {}", text(&out));
        let state = assert_invariants(&p, &v, &bot, &change);
        assert_eq!(state, "DONE", "after {point}");
        // Resuming a closed change does nothing more.
        let out = p.run(&["resume", &change, "--now", NOW]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// Twenty tokens of twenty registry users in flight at once, the process
/// killed at each boundary while the others are mid-step: `resume` takes
/// every item to DONE with exactly one live token each.
#[test]
fn twenty_items_in_flight_killed_at_any_boundary_all_resume_to_done() {
    let v = registry();
    let mut bots: Vec<Bot> = (0..20).map(|n| bot(&v, &format!("crowd{n}"))).collect();
    for point in CRASH_POINTS {
        let p = crowd(&v, &bots, 20);
        let out = agentward(p.path(), &["rotate", "--now", NOW], Some(point));
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", text(&out));
        let change = p.change_id();
        let manifest = p.manifest(&change);
        let moving = manifest["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] != "PLANNED" || !i["intent"].is_null())
            .count();
        assert!(moving > 1, "{point}: only {moving} item had started");
        let out = p.run(&["resume", &change, "--now", NOW]);
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert!(out.status.success(), "resume after {point}: {}", text(&out));
            assert_all_rotated(&p, &v, &mut bots, &change);
        }));
        if checked.is_err() {
            panic!("after {point}: project kept at {}", p.dir.keep().display());
        }
    }
}

/// `[providers.npm-registry] in_flight = 2`: eight items in flight, yet
/// the audit log's registry requests never overlap more than two deep.
#[test]
fn a_provider_limit_bounds_the_requests_in_flight() {
    let v = registry();
    let mut bots: Vec<Bot> = (0..8).map(|n| bot(&v, &format!("limit{n}"))).collect();
    let p = crowd(&v, &bots, 8);
    let workflow = p.path().join("policies/workflow.toml");
    let limited =
        std::fs::read_to_string(&workflow).unwrap() + "\n[providers.npm-registry]\nin_flight = 2\n";
    std::fs::write(&workflow, limited).unwrap();
    let out = p.run(&["rotate", "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    let change = p.change_id();
    assert_all_rotated(&p, &v, &mut bots, &change);
    // Each request's outcome record ends at its `ts` and lasted
    // `duration_us` (its intent record, written before it, is skipped).
    let log = std::fs::read_to_string(p.path().join("logs/audit.jsonl")).unwrap();
    let mut edges: Vec<(i128, i32)> = Vec::new();
    for line in log.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        if record["call"] != "http.send" || record["outcome"] == agentward::audit::INTENT {
            continue;
        }
        let end = time::OffsetDateTime::parse(
            record["ts"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp_nanos();
        let start = end - i128::from(record["duration_us"].as_u64().unwrap()) * 1000;
        edges.extend([(start, 1), (end, -1)]);
    }
    assert!(
        edges.len() >= 2 * 8 * 4,
        "{} registry requests",
        edges.len() / 2
    );
    edges.sort();
    let (mut deep, mut deepest) = (0, 0);
    for (_, step) in edges {
        deep += step;
        deepest = deepest.max(deep);
    }
    assert!(
        deepest <= 2,
        "{deepest} registry requests were in flight at once"
    );
}

#[test]
fn a_clean_rotation_is_done_with_a_readable_timeline_and_json_summary() {
    let v = registry();
    let bot = bot(&v, "clean");
    let p = project(&v, &bot, &Setup::default());
    let out = p.run(&["rotate", "--now", NOW, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = summary["change_id"].as_str().unwrap().to_string();
    assert!(agentward::orchestrator::change_id::is_valid(&change));
    let printed = text(&out);
    for value in [&bot.token, &p.current_token(&bot), &bot.password] {
        assert!(
            !printed.contains(value.as_str()),
            "a secret value was printed"
        );
    }
    assert_eq!(summary["items"][0]["state"], "DONE");
    assert_eq!(summary["items"][0]["old_version"], 1);
    assert_eq!(summary["items"][0]["new_version"], 2);
    assert!(
        summary["timing"]["role_runs"].as_u64().unwrap() >= 6,
        "{summary}"
    );
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "DONE");

    // The change id is on the audit records and on the new store version.
    use agentward::store::SecretStore;
    let meta = p.store().describe(&bot.token_path()).unwrap();
    assert_eq!(meta.versions[1].change_id.as_deref(), Some(change.as_str()));
    let timeline = p.timeline(&change);
    for step in [
        "rotation.plan",
        "rotation.mint",
        "rotation.verify",
        "rotation.promote",
        "rotation.revoke-old",
        "rotation.close",
    ] {
        assert!(timeline.contains(step), "{step} missing:\n{timeline}");
    }
    // Every request went to the registry over TLS, at the address checked.
    let registry = v.url();
    assert!(registry.starts_with("https://"));
    assert!(
        timeline.contains(&format!("{registry}/-/npm/v1/tokens")),
        "{timeline}"
    );
    assert!(!timeline.contains("http://127.0.0.1"), "{timeline}");
    let log = std::fs::read_to_string(p.path().join("logs/audit.jsonl")).unwrap();
    let sends: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["call"] == "http.send" && r["outcome"] != "intent")
        .collect();
    assert!(sends.len() >= 4, "{sends:?}");
    for send in &sends {
        assert!(
            send["args"]["url"]
                .as_str()
                .unwrap()
                .starts_with("https://"),
            "{send}"
        );
        assert_eq!(
            send["args"]["address"],
            format!("127.0.0.1:{}", v.port),
            "{send}"
        );
    }
}

#[test]
fn registry_down_during_verification_aborts_and_keeps_the_old_token() {
    let mut v = registry();
    let bot = bot(&v, "down");
    let (p, change) = killed_at(&v, &bot, "state:STAGED");

    v.stop();
    // Verification fails; the new token cannot be revoked while the
    // registry is down, so the change stops in ABORTING, on record.
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ABORTING") && stderr.contains("agentward resume"),
        "{stderr}"
    );
    assert_eq!(p.manifest(&change)["items"][0]["state"], "ABORTING");

    v.start();
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an aborted change is not a success: {}",
        text(&out)
    );
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "ABORTED");
    let manifest = p.manifest(&change);
    assert!(
        manifest["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("verification failed"),
        "{manifest:#}"
    );
    let timeline = p.timeline(&change);
    assert!(
        timeline.contains("verification failed") && timeline.contains("ABORTED"),
        "{timeline}"
    );

    // The failure goes back to the Planner: the next plan says so, and
    // this time the rotation goes through.
    let out = p.run(&["rotate", "--now", NOW, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let next: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = p.manifest(next["change_id"].as_str().unwrap())["plan"]["notes"].to_string();
    assert!(
        notes.contains(&change) && notes.contains("ended ABORTED"),
        "{notes}"
    );
    assert_eq!(next["items"][0]["state"], "DONE");
}

#[test]
fn degraded_health_after_promotion_rolls_back_to_the_old_token() {
    let v = registry();
    let bot = bot(&v, "sick");
    let setup = Setup {
        health_path: "/@agentward%2fno-such-package",
        ..Setup::default()
    };
    let p = project(&v, &bot, &setup);
    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let change = p.change_id();
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "ROLLED_BACK");
    use agentward::store::{Label, SecretStore};
    let meta = p.store().describe(&bot.token_path()).unwrap();
    assert_eq!(meta.holder(Label::Current), Some(1));
    assert_eq!(meta.holder(Label::Previous), Some(2));
    // The expiry is the old credential's again.
    assert_eq!(
        meta.attributes.expires.as_deref(),
        Some("2026-11-28T00:00:00Z")
    );
    let timeline = p.timeline(&change);
    assert!(
        timeline.contains("health degraded after promotion"),
        "{timeline}"
    );
    assert!(timeline.contains("ROLLED_BACK"), "{timeline}");
}

#[test]
fn a_malformed_handoff_fails_the_step_with_a_clear_error() {
    let v = registry();
    let bot = bot(&v, "malformed");
    let setup = Setup {
        reviewer: "malformed_reviewer",
        ..Setup::default()
    };
    let p = project(&v, &bot, &setup);
    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let change = p.change_id();
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "ABORTED");
    let reason = p.manifest(&change)["items"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("role reviewer handed off a malformed SignOff record for the review stage")
            && reason.contains("fix:"),
        "{reason}"
    );
}

/// Receives webhook POSTs on 127.0.0.1 and keeps their bodies.
struct Webhook {
    url: String,
    bodies: std::sync::mpsc::Receiver<String>,
}

impl Webhook {
    fn start() -> Webhook {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (send, bodies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap();
                        }
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let _ = send.send(String::from_utf8(body).unwrap());
                let _ = write!(
                    stream,
                    "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Webhook { url, bodies }
    }
}

fn approver(p: &Project, name: &str) -> (PathBuf, String) {
    let keys = p.path().join("approvers");
    std::fs::create_dir_all(&keys).unwrap();
    let out = p.run(&["approver", "new", name, "--out", keys.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let public = std::fs::read_to_string(keys.join(format!("{name}.pub"))).unwrap();
    (keys.join(format!("{name}.key")), public.trim().to_string())
}

#[test]
fn production_writes_wait_for_n_of_m_signed_approvals_of_the_plan_hash() {
    let v = registry();
    let bot = bot(&v, "prod");
    let webhook = Webhook::start();
    let rotation = format!("notify = {{ webhook = \"{}\" }}", webhook.url);
    let setup = Setup {
        rotation: &rotation,
        ..Setup::default()
    };
    let p = project(&v, &bot, &setup);
    let (alice, alice_pub) = approver(&p, "alice");
    let (_, bob_pub) = approver(&p, "bob");
    let (carol, carol_pub) = approver(&p, "carol");
    let (mallory, _) = approver(&p, "mallory");
    let approvals = format!(
        "\n[approvals.keys]\nalice = \"{alice_pub}\"\nbob = \"{bob_pub}\"\ncarol = \"{carol_pub}\"\n\n[[approvals.rules]]\npaths = [\"npm/**\"]\nrequired = 2\napprovers = [\"alice\", \"bob\", \"carol\"]\n"
    );
    let workflow_file = p.path().join("policies/workflow.toml");
    let text_before = std::fs::read_to_string(&workflow_file).unwrap();
    std::fs::write(&workflow_file, text_before + &approvals).unwrap();

    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(EXIT_WAITING), "{}", text(&out));
    let change = p.change_id();
    let manifest = p.manifest(&change);
    assert_eq!(manifest["state"], "APPROVAL_PENDING");
    assert_eq!(manifest["items"][0]["state"], "PLANNED");
    let plan_hash = manifest["plan_hash"].as_str().unwrap().to_string();
    // The approvers are told, by the workflow's webhook.
    let notice: Value = serde_json::from_str(
        &webhook
            .bodies
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(notice["event"], "approval-pending");
    assert!(
        notice["message"].as_str().unwrap().contains(&plan_hash),
        "{notice}"
    );

    let approve = |key: &Path, hash: &str| {
        p.run(&[
            "approve",
            &change,
            "--key",
            key.to_str().unwrap(),
            "--plan-hash",
            hash,
        ])
    };
    // A different plan hash, an unknown key, a duplicate approver: refused.
    let out = approve(&alice, "sha256:0000");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("approves sha256:0000"),
        "{}",
        text(&out)
    );
    let out = approve(&mallory, &plan_hash);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("mallory's key is not listed"),
        "{}",
        text(&out)
    );
    let out = approve(&alice, &plan_hash);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("still missing: 1 of 2"),
        "{}",
        text(&out)
    );
    let out = approve(&alice, &plan_hash);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already approved"), "{}", text(&out));

    // One approval is not enough: resume still waits, nothing minted.
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(EXIT_WAITING), "{}", text(&out));
    assert_eq!(live_keys(&v, &bot.token), vec![bot.key.clone()]);

    let out = approve(&carol, &plan_hash);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(p.manifest(&change)["state"], "APPROVED");

    // A plan edited after approval is refused before anything acts on it.
    let manifest_file = p.path().join(format!("manifests/{change}.json"));
    let original = std::fs::read_to_string(&manifest_file).unwrap();
    let edited = original.replacen("\"reason\": \"", "\"reason\": \"edited: ", 1);
    assert_ne!(edited, original);
    std::fs::write(&manifest_file, &edited).unwrap();
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("edited after planning"),
        "{}",
        text(&out)
    );
    std::fs::write(&manifest_file, &original).unwrap();

    let out = p.run(&["resume", &change, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "DONE");
    let timeline = p.timeline(&change);
    assert!(timeline.contains("rotation.approve"), "{timeline}");
}

#[test]
fn a_breach_rotates_now_outside_the_window_and_notifies() {
    let v = registry();
    let bot = bot(&v, "breach");
    let notices = tempfile::tempdir().unwrap();
    let log = notices.path().join("notices.jsonl");
    let rotation = format!(
        "window = {{ start = \"04:00\", end = \"05:00\" }}\nnotify = {{ command = [\"sh\", \"-c\", \"cat >> {}; echo >> {}\"] }}",
        log.display(),
        log.display()
    );
    let setup = Setup {
        rotation: &rotation,
        ..Setup::default()
    };
    let p = project(&v, &bot, &setup);

    // By cadence, 03:00 is outside the 04:00–05:00 window: the change waits.
    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(EXIT_WAITING), "{}", text(&out));
    assert!(
        text(&out).contains("opens at 2026-11-25T04:00:00Z"),
        "{}",
        text(&out)
    );
    let waiting = p.change_id();
    std::fs::remove_file(p.path().join(format!("manifests/{waiting}.json"))).unwrap();

    // A breach does not wait.
    let out = p.run(&["rotate", "--breach", &bot.token_path(), "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    let change = p.change_id();
    assert_eq!(p.manifest(&change)["trigger"], "breach");
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "DONE");
    let notice: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(notice["event"], "breach");
    assert_eq!(notice["change_id"], change.as_str());
    assert_eq!(notice["paths"][0], bot.token_path().as_str());
    let timeline = p.timeline(&change);
    assert!(timeline.contains("breach"), "{timeline}");

    // A breach of a path the workflow does not cover is refused, naming it.
    let out = p.run(&["rotate", "--breach", "aws/key", "--now", NOW]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("aws/key is outside the secrets"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_dry_run_rotation_changes_nothing_real_and_reports_what_would() {
    let v = registry();
    let bot = bot(&v, "rehearse");
    let p = project(&v, &bot, &Setup::default());
    let before = std::fs::read_dir(p.path().join("secrets")).unwrap().count();
    let out = p.run(&["rotate", "--dry-run", "--now", NOW, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["items"][0]["state"], "DONE");
    let planned = summary["planned_changes"].to_string();
    assert!(planned.contains("would create version 2"), "{planned}");
    assert!(planned.contains("would move label current"), "{planned}");
    // Nothing real: the store, the registry and the old token are as before.
    use agentward::store::{Label, SecretStore};
    let meta = p.store().describe(&bot.token_path()).unwrap();
    assert_eq!(meta.versions.len(), 1);
    assert_eq!(meta.holder(Label::Current), Some(1));
    assert_eq!(
        std::fs::read_dir(p.path().join("secrets")).unwrap().count(),
        before
    );
    assert_eq!(live_keys(&v, &bot.token), vec![bot.key.clone()]);
    assert_eq!(v.whoami(&bot.token), (200, Some(bot.name.clone())));
    let change = summary["change_id"].as_str().unwrap();
    assert_eq!(p.manifest(change)["dry_run"], true);
    let out = p.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_new_token_that_fails_the_auth_test_is_revoked_and_the_old_one_kept() {
    let v = registry();
    let bot = bot(&v, "refused");
    let (p, change) = killed_at(&v, &bot, "state:STAGED");
    // Between staging and verification the registry stops accepting the
    // new token (here: someone revokes it by its key).
    let key = p.manifest(&change)["items"][0]["changes"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v.revoke_token(&bot.token, &key).status, 200);

    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "ABORTED");
    let reason = p.manifest(&change)["items"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("auth FAILED") && reason.contains("HTTP 403"),
        "{reason}"
    );
    let timeline = p.timeline(&change);
    assert!(
        timeline.contains("STAGED → ABORTING") && timeline.contains("ABORTING → ABORTED"),
        "{timeline}"
    );
}

#[test]
fn a_ci_install_that_breaks_after_promotion_rolls_back() {
    let v = registry();
    let bot = bot(&v, "ci");
    let (p, change) = killed_at(&v, &bot, "state:PROMOTED");
    unpublish_private_package(&v);

    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "ROLLED_BACK");
    let timeline = p.timeline(&change);
    assert!(
        timeline.contains("PROMOTED → ROLLING_BACK")
            && timeline.contains("ROLLING_BACK → ROLLED_BACK"),
        "{timeline}"
    );
    assert!(
        timeline.contains("health degraded after promotion"),
        "{timeline}"
    );
}

#[test]
fn an_old_token_agentward_cannot_identify_is_revoked_by_hand_on_record() {
    let v = registry();
    let bot = bot(&v, "unkeyed");
    let setup = Setup {
        record_key: false,
        ..Setup::default()
    };
    let p = project(&v, &bot, &setup);
    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let change = p.change_id();
    // Promoted, but the old token's registry key is unknown: the change
    // stops rather than pretend, and says how to go on.
    assert_eq!(p.manifest(&change)["items"][0]["state"], "PROMOTED");
    let claim = format!("{}@1", bot.token_path());
    assert!(
        text(&out).contains(&format!("--revoked-by-hand {claim}")),
        "{}",
        text(&out)
    );
    assert_eq!(v.whoami(&bot.token).0, 200, "nothing was revoked yet");

    assert_eq!(v.revoke_token(&bot.token, &bot.key).status, 200);
    let out = p.run(&["resume", &change, "--now", NOW, "--revoked-by-hand", &claim]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "DONE");
    let timeline = p.timeline(&change);
    assert!(timeline.contains("rotation.revoked-by-hand"), "{timeline}");
}
