//! A project rotating a PostgreSQL login role's password against a real
//! PostgreSQL (support/postgres.rs): the database's roles, the project's
//! policy and workflow for the `postgres` provider, and the invariants
//! every change must leave.

use super::postgres::Postgres;
use super::rotation::{agentward, text, Project};
use agentward::store::{Label, SecretStore};

/// The login roles consumers alternate between, and the admin that sets
/// their passwords (CREATEROLE, not a superuser).
pub const USERS: [&str; 2] = ["app_a", "app_b"];
pub const ROTATOR: &str = "rotator";
pub const DB_CA: &str = "certs/db-ca.pem";

/// A database `app` with a table `orders` both login roles may read
/// (through one group role, so their grants are the same), `app_a` with
/// `password`, `app_b` with none, and the rotator with `rotator_password`.
pub fn database(pg: &Postgres, password: &str, rotator_password: &str) {
    let mut admin = pg.admin("postgres");
    admin.batch_execute("CREATE DATABASE app").unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE app_readers NOLOGIN;
             CREATE ROLE app_a LOGIN PASSWORD '{password}' IN ROLE app_readers;
             CREATE ROLE app_b LOGIN IN ROLE app_readers;
             CREATE ROLE {ROTATOR} LOGIN CREATEROLE PASSWORD '{rotator_password}';"
        ))
        .unwrap();
    pg.admin("app")
        .batch_execute(
            "CREATE TABLE orders (id int); GRANT SELECT ON orders TO app_readers;
             INSERT INTO orders SELECT generate_series(1, 10);",
        )
        .unwrap();
}

/// `postgres://USER:PASSWORD@127.0.0.1:PORT/app`.
pub fn url(pg: &Postgres, user: &str, password: &str) -> String {
    let endpoint = pg.endpoint("app");
    let rest = endpoint.strip_prefix("postgres://").unwrap();
    format!("postgres://{user}:{password}@{rest}")
}

/// The login role and password in a `postgres://` URL.
pub fn credential(url: &str) -> (String, String) {
    let parsed = url::Url::parse(url).unwrap();
    (
        parsed.username().to_string(),
        parsed.password().unwrap().to_string(),
    )
}

/// The policy for `setup`: the implementer may set and clear the
/// passwords of the workflow's login roles (but `setup.ungranted`).
pub fn policy(pg: &Postgres, setup: &Setup) -> String {
    let endpoint = pg.endpoint("app");
    let alter: Vec<String> = setup
        .users
        .iter()
        .flat_map(|u| {
            [
                format!("ALTER ROLE {u} PASSWORD $1"),
                format!("ALTER ROLE {u} PASSWORD NULL"),
            ]
        })
        .filter(|s| Some(s.as_str()) != setup.ungranted)
        .map(|s| format!("\"{s}\""))
        .collect();
    format!(
        r#"
[roles.planner]
component = "planner"
[roles.planner.grants]
log = {{}}
secrets-meta = {{ paths = ["db/**"] }}

[roles.implementer]
component = "implementer"
[roles.implementer.grants]
log = {{}}
secrets-meta = {{ paths = ["db/**"] }}
secrets-write = {{ paths = ["db/app"] }}
handles = {{ paths = ["db/**"] }}
http = {{}}
sql = {{ endpoints = ["{endpoint}"], statements = [{alter}, "SELECT current_user"], ca_files = ["{DB_CA}"] }}
workspace = {{ roots = ["repos"], mode = "propose" }}

[roles.reviewer]
component = "reviewer"
[roles.reviewer.grants]
log = {{}}
workspace = {{ roots = ["repos"], mode = "read" }}
model = {{}}

[roles.tester]
component = "tester"
[roles.tester.grants]
log = {{}}
secrets-meta = {{ paths = ["db/**"] }}
handles = {{ paths = ["db/app"] }}
http = {{}}
sql = {{ endpoints = ["{endpoint}"], statements = ["SELECT 1", "SELECT has_table_privilege(current_user, $1, 'SELECT')", "SELECT count(*) FROM orders"], ca_files = ["{DB_CA}"] }}
"#,
        alter = alter.join(", ")
    )
}

/// The workflow: the `postgres` provider with `strategy`, the Tester's two
/// checks as the new credential, a health check as the current one.
pub fn workflow(pg: &Postgres, setup: &Setup) -> String {
    let endpoint = pg.endpoint("app");
    let strategy = setup.strategy;
    let users = match strategy {
        "single-user" => format!("{:?}", &setup.users[..1]),
        _ => format!("{:?}", setup.users),
    };
    format!(
        r#"
[rotation]
secrets = ["db/app"]
cadence_days = 30
lead_days = 7

[[steps]]
stage = "plan"
role = "planner"

[[steps]]
stage = "implement"
role = "implementer"
input = {{ issuer = {{ kind = "postgres", endpoint = "{endpoint}", admin = "db/admin", strategy = "{strategy}", users = {users} }} }}

[[steps]]
stage = "review"
role = "reviewer"

[[steps]]
stage = "test"
role = "tester"
min_checks = 2
input = {{ checks = [ {{ name = "connect", endpoint = "{endpoint}", sql = "SELECT 1", expect = "1" }}, {{ name = "orders", endpoint = "{endpoint}", sql = "SELECT has_table_privilege(current_user, $1, 'SELECT')", params = ["orders"], expect = "t" }} ] }}

[health]
role = "tester"
samples = 2
max_failures = 0
input = {{ checks = [ {{ name = "read-orders", endpoint = "{endpoint}", sql = "SELECT count(*) FROM orders", expect = "10" }} ] }}
"#
    )
}

/// What a test varies.
pub struct Setup<'a> {
    pub strategy: &'a str,
    /// Whether the imported credential's login role is on record
    /// (`credential_id`); without it the provider asks the database.
    pub record_user: bool,
    /// The admin password the project holds (the right one unless a test
    /// says otherwise).
    pub admin_password: Option<&'a str>,
    /// The workflow's login roles (the first is current).
    pub users: Vec<&'a str>,
    /// A statement the policy leaves out.
    pub ungranted: Option<&'a str>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            strategy: "alternating-users",
            record_user: true,
            admin_password: None,
            users: USERS.to_vec(),
            ungranted: None,
        }
    }
}

/// A project whose `db/app` is `app_a` with `password`.
pub fn project(pg: &Postgres, password: &str, rotator_password: &str, setup: &Setup) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let out = agentward(dir.path(), &["init", dir.path().to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let p = dir.path();
    std::fs::create_dir_all(p.join("repos")).unwrap();
    pg.write_ca(&p.join(DB_CA));
    std::fs::write(p.join("policies/default.toml"), policy(pg, setup)).unwrap();
    std::fs::write(p.join("policies/workflow.toml"), workflow(pg, setup)).unwrap();
    let custom = if setup.record_user {
        serde_json::json!([["credential_id", "app_a"]])
    } else {
        serde_json::json!([])
    };
    let admin = url(
        pg,
        ROTATOR,
        setup.admin_password.unwrap_or(rotator_password),
    );
    let seed = serde_json::json!({
        "db/app": { "value": url(pg, "app_a", password), "expires": "2026-11-28T00:00:00Z", "custom": custom },
        "db/admin": { "value": admin },
    });
    let seed_file = p.join("seed.json");
    std::fs::write(&seed_file, seed.to_string()).unwrap();
    let out = agentward(p, &["secrets", "import", seed_file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_file(seed_file).unwrap();
    Project { dir }
}

pub fn read(p: &Project, path: &str, label: Label) -> Option<String> {
    p.store()
        .read(path, label)
        .ok()
        .map(|v| v.expose().to_string())
}

/// Whether `user` has a password at all (a role without one cannot log in
/// with any).
pub fn has_password(pg: &Postgres, user: &str) -> bool {
    let row = pg
        .admin("postgres")
        .query_one(
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1",
            &[&user],
        )
        .unwrap();
    row.get(0)
}

/// The invariants every change must leave, whatever happened to it:
/// `original` is the URL consumers held before it. Returns the state.
pub fn assert_invariants(
    p: &Project,
    pg: &Postgres,
    original: &str,
    strategy: &str,
    change: &str,
) -> String {
    let manifest = p.manifest(change);
    let state = manifest["items"][0]["state"].as_str().unwrap().to_string();
    assert!(
        ["DONE", "ABORTED", "ROLLED_BACK"].contains(&state.as_str()),
        "{state}: {manifest:#}"
    );
    assert_eq!(manifest["state"], "CLOSED");

    // Exactly one current credential, and it connects.
    let current = read(p, "db/app", Label::Current).expect("a current version");
    let (user, password) = credential(&current);
    assert!(
        pg.can_login("app", &user, &password),
        "{state}: the current credential does not connect"
    );
    let (old_user, old_password) = credential(original);
    if state == "DONE" {
        assert_ne!(current, original, "{state}");
        assert!(
            !pg.can_login("app", &old_user, &old_password),
            "{state}: the old credential still connects after DONE"
        );
    } else {
        assert_eq!(current, original, "{state}");
    }
    if strategy == "alternating-users" {
        // The other login role has no password: nothing live off the record.
        let other = USERS.iter().find(|u| **u != user).unwrap();
        assert!(
            !has_password(pg, other),
            "{state}: {other} still has a password"
        );
    }

    // The log verifies, and no value is anywhere on disk but the store.
    let out = p.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let on_disk = super::all_text_under(&p.path().join("manifests"))
        + &super::all_text_under(&p.path().join("logs"));
    for value in [&password, &old_password] {
        assert!(
            !on_disk.contains(value.as_str()),
            "{state}: a password is on disk"
        );
    }
    state
}
