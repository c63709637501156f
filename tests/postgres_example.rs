//! The second flagship, run as a user runs it:
//! `examples/postgres-password-rotation/run.sh` starts PostgreSQL, a
//! consumer under `secrets exec --watch` that queries every 100 ms, rotates
//! the app's credential with alternating users, and proves the outcome
//! itself (no failed query, the old password refused, the log verifies, no
//! password in any log). This test runs it with the binary under test and
//! checks what the supervisor put on record.

mod support;

use serde_json::Value;

#[test]
fn the_postgres_flagship_rotates_without_a_failed_query() {
    let (keep, stdout) = support::example::run("postgres-password-rotation");
    for line in [
        "consumer starts: app_a app_b",
        " 0 failed queries",
        "old password: refused by the server (password authentication failed for user \"app_a\")",
        "no password in any manifest, audit log, consumer log or the database's statement log",
        "db/app: version 1 -> 2, DONE",
        // The service's config files, staged as references.
        "orders-service/.env on agentward/",
        ": DATABASE_URL=${DATABASE_URL}",
        ":   url: <%= ENV.fetch(\"DATABASE_URL\") %>",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }

    // Each start of the consumer is on record before the value left, with
    // the version it was given, and so is why it ended.
    let log = std::fs::read_to_string(keep.path().join("project/logs/audit.jsonl")).unwrap();
    let supervised: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["call"] == "secrets.exec" && r["args"]["command"][0] == "bash")
        .filter(|r| {
            r["args"]["command"][1]
                .as_str()
                .is_some_and(|c| c.ends_with("consumer.sh"))
        })
        .collect();
    let summary: Vec<(u64, u64, String)> = supervised
        .iter()
        .map(|r| {
            (
                r["args"]["start"].as_u64().unwrap(),
                r["args"]["DATABASE_URL"]["version"].as_u64().unwrap(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 4, "{summary:#?}");
    assert_eq!((summary[0].0, summary[0].1), (1, 1));
    assert_eq!(summary[0].2, "intent");
    assert!(
        summary[1]
            .2
            .starts_with("ok: restarted on db/app current v1 → v2; exited after SIGTERM"),
        "{summary:#?}"
    );
    assert_eq!((summary[2].0, summary[2].1), (2, 2));
    assert!(
        summary[3].2.starts_with("ok: stopped by signal"),
        "{summary:#?}"
    );
    for record in &supervised {
        assert!(
            record["args"]["DATABASE_URL"]["value"]
                .as_str()
                .unwrap()
                .starts_with("hmac-sha256:"),
            "the value is on record only as a keyed digest"
        );
    }
}
