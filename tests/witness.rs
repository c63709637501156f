//! Witnessed audit trails: every checkpoint of a rotation is also handed
//! to a real OpenBao dev server's KV (and a witness command), and `audit
//! verify --witness` catches what the log and its own checkpoints no
//! longer show: a tail cut off together with the checkpoints that signed
//! it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::{agentward, init, text};
use support::openbao::BaoServer;
use support::rotation::text as out;

const NOW: &str = "2026-11-25T03:00:00Z";

/// A project with `n` npm tokens due and `[witness]` appended to its
/// workflow; the OpenBao token in a file beside it.
fn project(n: usize, server: &BaoServer, witness: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = init();
    let p = dir.path();
    let seed: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            (
                format!("npm/service-{i}"),
                serde_json::json!({ "value": format!("npm_witness_{i}_{}", "x".repeat(30)), "expires": "2026-11-28T00:00:00Z" }),
            )
        })
        .collect();
    std::fs::write(
        p.join("seed.json"),
        serde_json::Value::Object(seed).to_string(),
    )
    .unwrap();
    let seeded = agentward(
        p,
        &["secrets", "import", p.join("seed.json").to_str().unwrap()],
    );
    assert!(seeded.status.success(), "{}", out(&seeded));
    let workflow = p.join("policies/workflow.toml");
    let mut text = std::fs::read_to_string(&workflow).unwrap();
    text.push_str(&format!("\n[witness]\n{witness}\n"));
    std::fs::write(&workflow, text).unwrap();
    let token = p.join("bao-token");
    std::fs::write(&token, &server.root_token).unwrap();
    let conn = vec![
        "--openbao-addr".to_string(),
        server.addr(),
        "--openbao-token-file".to_string(),
        token.display().to_string(),
    ];
    (dir, conn)
}

fn run(p: &Path, args: &[&str], conn: &[String]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(conn.iter().map(String::as_str));
    agentward(p, &all)
}

fn checkpoints(p: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(p.join("logs/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let size = path.file_stem()?.to_str()?.parse().ok()?;
            Some((size, path))
        })
        .collect();
    found.sort();
    found
}

/// Cuts the log to its first `keep` records and removes every checkpoint
/// that signed more: what an attacker with write access to logs/ does.
fn cut_tail(p: &Path, keep: usize) {
    let log = p.join("logs/audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: String = text.lines().take(keep).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, kept).unwrap();
    for (size, path) in checkpoints(p) {
        if size > keep as u64 {
            std::fs::remove_file(path).unwrap();
        }
    }
}

#[test]
fn a_cut_tail_passes_verify_alone_and_fails_against_either_witness() {
    let server = BaoServer::start();
    let notes = tempfile::tempdir().unwrap();
    let (dir, conn) = project(
        3,
        &server,
        &format!(
            "openbao = \"agentward/witness/host-a\"\ncommand = [\"sh\", \"-c\", \"cat > {}/$AGENTWARD_CHECKPOINT_SIZE.note\"]",
            notes.path().display()
        ),
    );
    let p = dir.path();
    let rotated = run(p, &["rotate", "--now", NOW], &conn);
    assert!(rotated.status.success(), "{}", out(&rotated));

    // Both witnesses hold the last checkpoint the host signed.
    let (last, last_note) = checkpoints(p).pop().unwrap();
    let held = server
        .root_store()
        .record("agentward/witness/host-a")
        .unwrap()
        .expect("the witness record");
    assert_eq!(held.1["size"], last);
    assert_eq!(
        held.1["note"].as_str().unwrap(),
        std::fs::read_to_string(&last_note).unwrap()
    );
    let kept_note = notes.path().join(format!("{last}.note"));
    assert_eq!(
        std::fs::read_to_string(&kept_note).unwrap(),
        std::fs::read_to_string(&last_note).unwrap()
    );

    let records = std::fs::read_to_string(p.join("logs/audit.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(records as u64, last);
    cut_tail(p, records - 20);
    // The log alone still verifies: the gap the witness closes.
    let alone = agentward(p, &["audit", "verify"]);
    assert!(alone.status.success(), "{}", out(&alone));
    let against = run(
        p,
        &[
            "audit",
            "verify",
            "--witness",
            "openbao:agentward/witness/host-a",
        ],
        &conn,
    );
    assert_eq!(against.status.code(), Some(13), "{}", out(&against));
    let said = text(&against.stderr);
    assert!(
        said.contains("were removed from the end")
            && said.contains("held by witness openbao:agentward/witness/host-a"),
        "{said}"
    );
    let file = agentward(
        p,
        &["audit", "verify", "--witness", kept_note.to_str().unwrap()],
    );
    assert_eq!(file.status.code(), Some(13), "{}", out(&file));
}

#[test]
fn a_required_witness_that_is_down_stops_the_rotation_before_any_effect() {
    let mut server = BaoServer::start();
    let (dir, conn) = project(2, &server, "openbao = \"agentward/witness/host-b\"");
    let p = dir.path();
    server.stop();
    let stopped = run(p, &["rotate", "--now", NOW], &conn);
    assert_eq!(stopped.status.code(), Some(1), "{}", out(&stopped));
    let said = text(&stopped.stderr);
    assert!(
        said.contains("witness openbao:agentward/witness/host-b")
            && said.contains("did not take the checkpoint")
            && said.contains("cannot reach OpenBao"),
        "{said}"
    );
    // Nothing was minted: every secret still has its one version.
    let listed = agentward(p, &["secrets", "list", "npm/"]);
    assert!(!text(&listed.stdout).contains("v2"), "{}", out(&listed));
    let log = std::fs::read_to_string(p.join("logs/audit.jsonl")).unwrap();
    assert!(!log.contains("rotation.mint"), "no effect began");

    // With the witness back, the change resumes and finishes, witnessed.
    server.restart();
    let change = std::fs::read_dir(p.join("manifests"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_string)
        })
        .next()
        .expect("the change was planned");
    let resumed = run(p, &["resume", &change, "--now", NOW], &conn);
    assert!(resumed.status.success(), "{}", out(&resumed));
    let verified = run(
        p,
        &[
            "audit",
            "verify",
            "--witness",
            "openbao:agentward/witness/host-b",
        ],
        &conn,
    );
    assert!(verified.status.success(), "{}", out(&verified));
    assert!(
        text(&verified.stdout).contains("it holds what witness openbao:agentward/witness/host-b")
    );
}

#[test]
fn several_hosts_verify_each_on_its_own_and_a_witness_never_moves_back() {
    let server = BaoServer::start();
    let (a, conn_a) = project(2, &server, "openbao = \"agentward/witness/a\"");
    let (b, conn_b) = project(1, &server, "openbao = \"agentward/witness/b\"");
    for (dir, conn) in [(&a, &conn_a), (&b, &conn_b)] {
        let rotated = run(dir.path(), &["rotate", "--now", NOW], conn);
        assert!(rotated.status.success(), "{}", out(&rotated));
    }
    let key = |d: &tempfile::TempDir| d.path().join("keys/audit-signing.pub");
    let logs = |d: &tempfile::TempDir| d.path().join("logs");
    let args = |a_logs: &Path| {
        vec![
            "audit".to_string(),
            "verify".into(),
            "--logs".into(),
            a_logs.display().to_string(),
            "--key".into(),
            key(&a).display().to_string(),
            "--witness".into(),
            "openbao:agentward/witness/a".into(),
            "--logs".into(),
            logs(&b).display().to_string(),
            "--key".into(),
            key(&b).display().to_string(),
            "--witness".into(),
            "openbao:agentward/witness/b".into(),
        ]
    };
    let both = args(&logs(&a));
    let both: Vec<&str> = both.iter().map(String::as_str).collect();
    let verified = run(a.path(), &both, &conn_a);
    assert!(verified.status.success(), "{}", out(&verified));
    assert_eq!(text(&verified.stdout).matches("verified ").count(), 2);

    // Host b cut: a still verifies, b fails, each named.
    let records = std::fs::read_to_string(logs(&b).join("audit.jsonl"))
        .unwrap()
        .lines()
        .count();
    cut_tail(b.path(), records - 5);
    let checked = run(a.path(), &both, &conn_a);
    assert_eq!(checked.status.code(), Some(13), "{}", out(&checked));
    let report = text(&checked.stdout);
    assert!(
        report.contains(&format!("in {}", logs(&a).join("audit.jsonl").display())),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "FAILED {}",
            logs(&b).join("audit.jsonl").display()
        )),
        "{report}"
    );

    // b's shorter log cannot move its witness back: its next checkpoint
    // is refused, and the rotation that wanted it stops.
    let again = run(
        b.path(),
        &["rotate", "--now", NOW, "--breach", "npm/service-0"],
        &conn_b,
    );
    assert_eq!(again.status.code(), Some(1), "{}", out(&again));
    assert!(
        text(&again.stderr).contains("the log lost records it had signed"),
        "{}",
        out(&again)
    );
}
