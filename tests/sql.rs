//! The `sql` capability against a real PostgreSQL on 127.0.0.1
//! (tests/support/postgres.rs), through the `sql-client` test guest:
//! granted statements run as a credential the role holds only as handles,
//! over TLS verified against the grant's CA; anything else is refused with
//! the policy line; a password set through it reaches the server only as
//! a SCRAM verifier; results are capped; values never leave in the clear.

mod support;

use agentward::policy::{Policy, RoleName};
use serde_json::{json, Value};
use support::postgres::Postgres;
use support::Harness;

const APP_PASSWORD: &str = "app-pw-CANARY-1f9d3e";
const NEW_PASSWORD: &str = "app-pw-NEW-CANARY-77c2a0";

struct Setup {
    h: Harness,
    pg: Postgres,
}

fn setup() -> Setup {
    let pg = Postgres::new();
    let mut admin = pg.admin("postgres");
    admin.batch_execute("CREATE DATABASE app").unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE app_a LOGIN PASSWORD '{APP_PASSWORD}'; CREATE ROLE app_b LOGIN PASSWORD 'unused-b';"
        ))
        .unwrap();
    let mut app = pg.admin("app");
    app.batch_execute("CREATE TABLE orders (id int); GRANT SELECT ON orders TO app_a; INSERT INTO orders SELECT generate_series(1, 500);")
        .unwrap();
    let h = Harness::new();
    pg.write_ca(&h.dir.path().join("certs/db-ca.pem"));
    h.seed("db/app-a", APP_PASSWORD);
    h.seed("db/app-b-next", NEW_PASSWORD);
    h.seed("db/admin", &pg.superuser_password);
    Setup { h, pg }
}

impl Setup {
    fn policy(&self, statements: &[&str], extra: &str) -> Policy {
        let statements: Vec<String> = statements.iter().map(|s| format!("\"{s}\"")).collect();
        self.h.role_policy(
            "tester",
            "sql-client",
            &format!(
                "log = {{}}\nhandles = {{ paths = [\"db/**\"] }}\nsql = {{ endpoints = [\"{}\"], statements = [{}]{extra} }}",
                self.pg.endpoint("app"),
                statements.join(", ")
            ),
            "fuel = 500_000_000, wall_ms = 30_000",
        )
    }

    fn run(&self, policy: &Policy, statements: Value) -> Vec<Value> {
        let outcome = self
            .h
            .run(policy, RoleName::Tester, &statements.to_string())
            .expect("sql-client runs");
        for canary in [APP_PASSWORD, NEW_PASSWORD, &self.pg.superuser_password] {
            assert!(
                !outcome.report.output.contains(canary),
                "the role saw a password"
            );
        }
        serde_json::from_str::<Value>(&outcome.report.output)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn statement(&self, user: Value, password: &str, text: &str, params: Value) -> Value {
        json!({ "endpoint": self.pg.endpoint("app"), "user": user, "password": password, "text": text, "params": params })
    }

    fn grant_line(&self) -> String {
        let path = self.h.policy_path();
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text.lines().position(|l| l.starts_with("sql =")).unwrap() + 1;
        format!("line {line} of {}", path.display())
    }
}

const TLS: &str = ", ca_files = [\"certs/db-ca.pem\"]";

fn error_of(outcome: &Value) -> String {
    outcome["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not refused: {outcome}"))
        .to_string()
}

#[test]
fn a_granted_statement_runs_over_tls_as_a_credential_the_role_holds_as_handles() {
    let s = setup();
    let check_tls = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let privilege = "SELECT has_table_privilege($1, $2, 'SELECT')";
    let policy = s.policy(&["SELECT 1", check_tls, privilege], TLS);
    let out = s.run(
        &policy,
        json!([
            s.statement(json!("app_a"), "db/app-a", "SELECT 1", json!([])),
            s.statement(json!("app_a"), "db/app-a", check_tls, json!([])),
            s.statement(
                json!("app_a"),
                "db/app-a",
                privilege,
                json!(["app_a", "orders"])
            ),
            s.statement(
                json!("app_a"),
                "db/app-a",
                privilege,
                json!(["app_b", "orders"])
            ),
        ]),
    );
    assert_eq!(out[0]["rows"], json!([["1"]]), "{out:?}");
    assert_eq!(
        out[1]["rows"],
        json!([["t"]]),
        "the connection is TLS: {out:?}"
    );
    assert_eq!(out[2]["rows"], json!([["t"]]), "{out:?}");
    assert_eq!(out[3]["rows"], json!([["f"]]), "{out:?}");
    let events: Vec<_> =
        s.h.events()
            .into_iter()
            .filter(|e| e.call == "sql.execute" && e.outcome == "ok")
            .collect();
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].args["user"], "app_a");
    assert_eq!(events[0].args["password"], "handle:db/app-a");
    assert_eq!(events[0].args["statement"], "SELECT 1");
    assert_eq!(
        events[0].args["address"],
        format!("127.0.0.1:{}", s.pg.port)
    );
    assert_eq!(events[2].args["params"], json!(["app_a", "orders"]));
    for e in s.h.events() {
        let text = serde_json::to_string(&e.args).unwrap() + &e.outcome;
        assert!(!text.contains(APP_PASSWORD), "{text}");
    }
}

#[test]
fn a_statement_or_endpoint_not_granted_is_refused_with_the_line_to_change() {
    let s = setup();
    let policy = s.policy(&["SELECT 1"], TLS);
    let mut other = s.statement(json!("app_a"), "db/app-a", "SELECT 1", json!([]));
    other["endpoint"] = json!(s.pg.endpoint("postgres"));
    let out = s.run(
        &policy,
        json!([
            s.statement(json!("app_a"), "db/app-a", "DROP TABLE orders", json!([])),
            other,
            s.statement(
                json!("app_a"),
                "literal:app-pw-guessed",
                "SELECT 1",
                json!([])
            ),
        ]),
    );
    let error = error_of(&out[0]);
    assert!(
        error.contains("role tester may not run `DROP TABLE orders`"),
        "{error}"
    );
    assert!(error.contains(&s.grant_line()), "{error}");
    assert!(
        error.contains("statements = [\\\"SELECT 1\\\", \\\"DROP TABLE orders\\\"]"),
        "{error}"
    );
    let error = error_of(&out[1]);
    assert!(
        error.contains(&format!("may not connect to {}", s.pg.endpoint("postgres"))),
        "{error}"
    );
    let error = error_of(&out[2]);
    assert!(error.contains("a password that is not a handle"), "{error}");
    let denied = s.h.denials();
    assert_eq!(denied.iter().filter(|e| e.call == "sql.execute").count(), 3);
    assert!(
        !s.pg.log().contains("DROP TABLE orders"),
        "nothing reached the server"
    );
    let rows =
        s.pg.admin("app")
            .query("SELECT count(*) FROM orders", &[])
            .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 500);
}

#[test]
fn a_password_set_through_sql_reaches_the_server_only_as_a_scram_verifier() {
    let s = setup();
    let alter = "ALTER ROLE app_b PASSWORD $1";
    let policy = s.policy(&[alter], TLS);
    let out = s.run(
        &policy,
        json!([s.statement(
            json!("postgres"),
            "db/admin",
            alter,
            json!([{ "handle": "db/app-b-next" }])
        )]),
    );
    assert!(out[0]["error"].is_null(), "{out:?}");
    assert!(
        s.pg.can_login("app", "app_b", NEW_PASSWORD),
        "the new password works"
    );
    assert!(
        !s.pg.can_login("app", "app_b", "unused-b"),
        "the old one does not"
    );
    let log = s.pg.log();
    assert!(
        log.contains("ALTER ROLE app_b PASSWORD"),
        "the statement was logged: {log}"
    );
    assert!(log.contains("SCRAM-SHA-256$4096:"), "{log}");
    assert!(
        !log.contains(NEW_PASSWORD),
        "the server never saw the password"
    );
    let event =
        s.h.events()
            .into_iter()
            .find(|e| e.call == "sql.execute" && e.outcome == "ok")
            .unwrap();
    assert_eq!(event.args["params"][0]["from"], "handle:db/app-b-next");
    assert!(event.args["params"][0]["value"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
}

#[test]
fn results_are_capped_at_max_rows() {
    let s = setup();
    let select = "SELECT id FROM orders ORDER BY id";
    let policy = s.policy(&[select], &format!("{TLS}, max_rows = 10"));
    let out = s.run(
        &policy,
        json!([s.statement(json!("app_a"), "db/app-a", select, json!([]))]),
    );
    assert_eq!(out[0]["rows"].as_array().unwrap().len(), 10);
    assert_eq!(out[0]["truncated"], true);
    assert_eq!(out[0]["columns"], json!(["id"]));
}

#[test]
fn wrong_password_unreachable_server_and_unknown_ca_are_clear_errors() {
    let s = setup();
    let policy = s.policy(&["SELECT 1"], TLS);
    let out = s.run(
        &policy,
        json!([s.statement(json!("app_a"), "db/app-b-next", "SELECT 1", json!([]))]),
    );
    let error = error_of(&out[0]);
    assert!(
        error.contains(&format!("connecting to {}", s.pg.endpoint("app"))),
        "{error}"
    );
    assert!(error.contains("password authentication failed"), "{error}");
    // Without the CA, the server's TLS certificate is refused: no fallback
    // to plain text.
    let policy = s.policy(&["SELECT 1"], "");
    let out = s.run(
        &policy,
        json!([s.statement(json!("app_a"), "db/app-a", "SELECT 1", json!([]))]),
    );
    let error = error_of(&out[0]);
    assert!(
        error.contains("TLS to") && error.contains("unknown issuer"),
        "{error}"
    );
    assert!(error.contains("ca_files"), "{error}");
    // A server that is down: nothing listens on the granted port.
    let endpoint = format!("postgres://127.0.0.1:{}/app", support::openbao::free_port());
    let policy = s.h.role_policy(
        "tester",
        "sql-client",
        &format!("log = {{}}\nhandles = {{ paths = [\"db/**\"] }}\nsql = {{ endpoints = [\"{endpoint}\"], statements = [\"SELECT 1\"]{TLS} }}"),
        "fuel = 500_000_000, wall_ms = 30_000",
    );
    let mut down = s.statement(json!("app_a"), "db/app-a", "SELECT 1", json!([]));
    down["endpoint"] = json!(endpoint);
    let out = s.run(&policy, json!([down]));
    let error = error_of(&out[0]);
    assert!(
        error.contains(&format!("connecting to {endpoint}")),
        "{error}"
    );
}

#[test]
fn a_handle_bound_to_other_services_never_reaches_the_database() {
    let s = setup();
    // An npm token bound to its registry: the role may hold a handle to it,
    // but a granted statement cannot carry it to the database (whose
    // statement log would keep it).
    const TOKEN: &str = "npm_BOUND_CANARY_5c0ffee";
    s.h.store.insert_current(
        "db/npm-token",
        agentward::store::SecretValue::new(TOKEN),
        agentward::store::SecretAttributes {
            origins: vec!["https://registry.example.com".into()],
            ..Default::default()
        },
    );
    let privilege = "SELECT has_table_privilege($1, $2, 'SELECT')";
    let policy = s.policy(&[privilege], TLS);
    let out = s.run(
        &policy,
        json!([s.statement(
            json!("app_a"),
            "db/app-a",
            privilege,
            json!([{ "handle": "db/npm-token" }, "orders"])
        )]),
    );
    let err = error_of(&out[0]);
    assert!(
        err.contains("send a handle to secret `db/npm-token` to postgres://")
            && err.contains("binds it to https://registry.example.com"),
        "{err}"
    );
    assert!(
        !s.pg.log().contains(TOKEN),
        "the token reached the database"
    );
    assert!(
        s.h.denials().iter().any(|d| d.call == "sql.execute"),
        "the refusal is on record"
    );
}
