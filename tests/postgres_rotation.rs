//! The `postgres` provider end to end: the real `agentward` binary rotating
//! a login role's password in a real PostgreSQL on 127.0.0.1, through the
//! real role components and the `sql` capability.
//!
//! With alternating users the credential consumers hold keeps working until
//! the revoke step and not after; with a single user the password changes
//! at mint. The crash drill kills the process at every boundary (and inside
//! the Implementer, between storing the new password and setting it), then
//! resumes: exactly one current credential and it connects, the other login
//! role holds no password, the log verifies, no password on disk.

mod support;

use agentward::store::Label;
use std::os::unix::process::ExitStatusExt;
use support::postgres::Postgres;
use support::postgres_rotation::*;
use support::rotation::{agentward, text, Project, NOW};

const PASSWORD: &str = "app-a-CANARY-4b1e9c7d";
const ROTATOR_PASSWORD: &str = "rotator-CANARY-90aa17";

fn setup(setup: &Setup) -> (Postgres, Project, String) {
    let pg = Postgres::new();
    database(&pg, PASSWORD, ROTATOR_PASSWORD);
    let p = project(&pg, PASSWORD, ROTATOR_PASSWORD, setup);
    let original = url(&pg, "app_a", PASSWORD);
    (pg, p, original)
}

fn rotate(p: &Project, failpoint: Option<&str>) -> std::process::Output {
    agentward(p.path(), &["rotate", "--now", NOW], failpoint)
}

#[test]
fn alternating_users_keep_the_old_login_until_revoke_and_not_after() {
    let (pg, p, original) = setup(&Setup::default());
    // Stop just before the old credential is revoked: the new one is
    // current, and the old one still connects.
    let out = rotate(&p, Some("intent:revoke-old"));
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    let current = read(&p, "db/app", Label::Current).unwrap();
    let (user, password) = credential(&current);
    assert_eq!(user, "app_b", "the inactive login role was made current");
    assert!(pg.can_login("app", &user, &password));
    assert!(
        pg.can_login("app", "app_a", PASSWORD),
        "the login consumers hold stays valid until revoke"
    );
    let change = p.change_id();
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        assert_invariants(&p, &pg, &original, "alternating-users", &change),
        "DONE"
    );
    // Every statement on record, handles as digests; the server only ever
    // saw verifiers.
    let timeline = p.timeline(&change);
    for expected in [
        "`ALTER ROLE app_b PASSWORD",
        "ALTER ROLE app_a PASSWORD NULL",
        "SELECT has_table_privilege",
    ] {
        assert!(timeline.contains(expected), "{expected} not in\n{timeline}");
    }
    assert!(
        !pg.log().contains(&password),
        "the server logged a password"
    );

    // The next rotation goes back to app_a.
    let out = p.run(&["rotate", "--breach", "db/app", "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    let next = read(&p, "db/app", Label::Current).unwrap();
    let (next_user, next_password) = credential(&next);
    assert_eq!(next_user, "app_a");
    assert!(pg.can_login("app", "app_a", &next_password));
    assert!(!pg.can_login("app", "app_b", &password), "app_b revoked");
    assert!(!has_password(&pg, "app_b"));
}

#[test]
fn single_user_changes_the_password_at_mint() {
    let (pg, p, original) = setup(&Setup {
        strategy: "single-user",
        ..Setup::default()
    });
    let out = rotate(&p, Some("state:MINTED"));
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    assert!(
        !pg.can_login("app", "app_a", PASSWORD),
        "single-user: the old password stops at mint"
    );
    let change = p.change_id();
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        assert_invariants(&p, &pg, &original, "single-user", &change),
        "DONE"
    );
}

#[test]
fn a_new_login_without_the_grants_fails_the_permission_check_and_is_undone() {
    for strategy in ["alternating-users", "single-user"] {
        let (pg, p, original) = setup(&Setup {
            strategy,
            ..Setup::default()
        });
        // app_b lacks the grants app_a has; with a single user, the check
        // fails for the one login role.
        let lacking = if strategy == "single-user" {
            "app_a"
        } else {
            "app_b"
        };
        pg.admin("postgres")
            .batch_execute(&format!("REVOKE app_readers FROM {lacking}"))
            .unwrap();
        let out = rotate(&p, None);
        assert!(!out.status.success(), "{strategy}: {}", text(&out));
        let change = p.change_id();
        let report = text(&out);
        assert!(
            report.contains("verification failed"),
            "{strategy}: {report}"
        );
        let manifest = p.manifest(&change).to_string();
        assert!(
            manifest.contains(r#"returned Some(\"f\"), expected \"t\""#),
            "{strategy}: {manifest}"
        );
        assert_eq!(
            assert_invariants(&p, &pg, &original, strategy, &change),
            "ABORTED",
            "{strategy}"
        );
        assert!(
            pg.can_login("app", "app_a", PASSWORD),
            "{strategy}: the password consumers hold works again"
        );
    }
}

/// Every boundary of the state machine, and two inside the Implementer:
/// after the new password is stored (before the database is told) and
/// after the database is told (before the handoff).
const CRASH_POINTS: &[&str] = &[
    "intent:mint",
    "call:secrets-write.generate",
    "call:sql.execute",
    "effect:mint",
    "state:MINTED",
    "state:PENDING_STORED",
    "state:STAGED",
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
fn a_postgres_rotation_killed_at_any_boundary_resumes_to_done() {
    for strategy in ["alternating-users", "single-user"] {
        for point in CRASH_POINTS {
            let (pg, p, original) = setup(&Setup {
                strategy,
                ..Setup::default()
            });
            let out = rotate(&p, Some(point));
            assert_eq!(
                out.status.signal(),
                Some(9),
                "{strategy}: {point} was not hit: {}",
                text(&out)
            );
            let change = p.change_id();
            let resumed = p.run(&["resume", &change, "--now", NOW]);
            assert!(
                resumed.status.success(),
                "{strategy}: resume after {point}: {}",
                text(&resumed)
            );
            let state = assert_invariants(&p, &pg, &original, strategy, &change);
            assert_eq!(state, "DONE", "{strategy}: after {point}");
            // Nor in anything either process printed.
            let (_, new_password) = credential(&read(&p, "db/app", Label::Current).unwrap());
            let printed = text(&out) + &text(&resumed);
            for password in [PASSWORD, ROTATOR_PASSWORD, new_password.as_str()] {
                assert!(
                    !printed.contains(password),
                    "{strategy}: {point}: a password was printed"
                );
            }
        }
    }
}

fn failed_rotation(p: &Project) -> String {
    let out = rotate(p, None);
    assert!(!out.status.success(), "{}", text(&out));
    text(&out)
}

/// Resumes a change that ends ABORTED or ROLLED_BACK (exit status 1).
fn resume(p: &Project, change: &str) -> String {
    let out = p.run(&["resume", change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    text(&out)
}

#[test]
fn an_unreachable_database_stops_with_the_endpoint_and_resume_finishes_the_abort() {
    let (mut pg, p, original) = setup(&Setup::default());
    pg.stop();
    let report = failed_rotation(&p);
    let endpoint = pg.endpoint("app");
    assert!(
        report.contains(&format!("connecting to {endpoint}")),
        "{report}"
    );
    let change = p.change_id();
    pg.start();
    resume(&p, &change);
    assert_eq!(
        assert_invariants(&p, &pg, &original, "alternating-users", &change),
        "ABORTED"
    );
}

#[test]
fn a_wrong_admin_password_is_named_and_nothing_is_left_live() {
    let (pg, p, original) = setup(&Setup {
        admin_password: Some("not-the-rotator-password"),
        ..Setup::default()
    });
    let report = failed_rotation(&p);
    assert!(
        report.contains("password authentication failed for user \"rotator\""),
        "{report}"
    );
    assert!(
        !has_password(&pg, "app_b"),
        "the new password was never set"
    );
    // The abort cannot invalidate app_b as the rotator either: the change
    // stops there, and the operator confirms nothing is live, on record.
    let change = p.change_id();
    assert_eq!(p.manifest(&change)["items"][0]["state"], "ABORTING");
    let out = p.run(&[
        "resume",
        &change,
        "--now",
        NOW,
        "--revoked-by-hand",
        "db/app@2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        assert_invariants(&p, &pg, &original, "alternating-users", &change),
        "ABORTED"
    );
}

#[test]
fn a_statement_not_granted_is_denied_with_the_policy_line_that_would_allow_it() {
    let (pg, p, original) = setup(&Setup {
        ungranted: Some("ALTER ROLE app_b PASSWORD $1"),
        ..Setup::default()
    });
    failed_rotation(&p);
    let change = p.change_id();
    let manifest = p.manifest(&change).to_string();
    assert!(
        manifest.contains("run `ALTER ROLE app_b PASSWORD $1`"),
        "{manifest}"
    );
    assert!(
        manifest.contains("\\\"ALTER ROLE app_b PASSWORD $1\\\"]"),
        "the denial carries the widened grant: {manifest}"
    );
    assert_eq!(
        assert_invariants(&p, &pg, &original, "alternating-users", &change),
        "ABORTED"
    );
}

#[test]
fn a_login_role_that_does_not_exist_aborts_cleanly() {
    let (pg, p, original) = setup(&Setup {
        users: vec!["app_a", "app_c"],
        ..Setup::default()
    });
    failed_rotation(&p);
    let change = p.change_id();
    let manifest = p.manifest(&change).to_string();
    assert!(
        manifest.contains("role \\\"app_c\\\" does not exist"),
        "{manifest}"
    );
    let state = assert_invariants(&p, &pg, &original, "alternating-users", &change);
    assert_eq!(state, "ABORTED");
}

#[test]
fn a_database_that_goes_away_mid_rotation_rolls_back_once_it_is_back() {
    let (mut pg, p, original) = setup(&Setup::default());
    let out = rotate(&p, Some("state:PROMOTED"));
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    let change = p.change_id();
    // The health watch finds the database gone: the change rolls back,
    // and stops where undoing needs the database.
    pg.stop();
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert!(!out.status.success(), "{}", text(&out));
    pg.start();
    if p.manifest(&change)["state"] != "CLOSED" {
        resume(&p, &change);
    }
    assert_eq!(
        assert_invariants(&p, &pg, &original, "alternating-users", &change),
        "ROLLED_BACK"
    );
}
