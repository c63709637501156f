//! `limits.wall_ms` ends a run inside agentward's own host calls, not only
//! in wasm and WASI: a role whose `http`, `model` or `sql` call goes to a
//! server that accepts and never answers (or to a real PostgreSQL in a
//! long statement) stops at its deadline with the `wall_ms` error, well
//! before the call's own timeout; the call's record says the deadline cut
//! it off; and the same host serves the next run.

mod support;

use agentward::policy::{Policy, RoleName};
use agentward::runtime::{LimitHit, RunError};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use support::postgres::Postgres;
use support::Harness;

const WALL_MS: u64 = 1000;
const LIMITS: &str = "fuel = 500_000_000, wall_ms = 1000";

/// Under each call's own timeout (30 s and more in these policies): a
/// run that took less was ended by its deadline, not by that timeout.
const WELL_BEFORE_THE_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1 that accepts connections and never answers; the
/// connections stay open while it lives.
struct Stalled {
    port: u16,
}

impl Stalled {
    fn start() -> Stalled {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Stalled { port }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Answers one HTTP request with 200, on a port of its own.
fn answering_once() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
    origin
}

/// Runs `input` under `policy`, asserting it ends with the `wall_ms`
/// error well before the call's own timeout; how long it took.
fn stopped_at_deadline(h: &Harness, policy: &Policy, role: RoleName, input: &str) -> Duration {
    let started = Instant::now();
    let result = h.run(policy, role, input);
    let took = started.elapsed();
    match result {
        Err(RunError::Limit {
            role: stopped,
            limit: LimitHit::WallClock { limit_ms },
        }) => {
            assert_eq!((stopped, limit_ms), (role, WALL_MS));
        }
        other => panic!("expected the wall_ms error, got {other:?}"),
    }
    assert!(took < WELL_BEFORE_THE_CALL_TIMEOUT, "took {took:?}");
    eprintln!("{role} stopped at its deadline after {took:?}");
    took
}

/// The one record of `call` that is not its intent says the deadline
/// ended it.
fn assert_cut_off_on_record(h: &Harness, call: &str) {
    let outcomes: Vec<String> = h
        .events()
        .into_iter()
        .filter(|e| e.call == call && e.outcome != agentward::audit::INTENT)
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(
        outcomes[0].starts_with("stopped: the run's wall-clock deadline (limits.wall_ms = 1000)"),
        "{}",
        outcomes[0]
    );
}

fn http_policy(h: &Harness, origins: &[String]) -> Policy {
    let origins: Vec<String> = origins.iter().map(|o| format!("\"{o}\"")).collect();
    h.role_policy(
        "tester",
        "bench-http-loop",
        &format!(
            "http = {{ origins = [{}], methods = [\"GET\"], timeout_ms = 30_000 }}",
            origins.join(", ")
        ),
        LIMITS,
    )
}

#[test]
fn an_http_request_to_a_server_that_never_answers_ends_at_the_deadline() {
    let stalled = Stalled::start();
    let answering = answering_once();
    let h = Harness::new();
    let policy = http_policy(&h, &[stalled.origin(), answering.clone()]);
    stopped_at_deadline(
        &h,
        &policy,
        RoleName::Tester,
        &format!("1 {}/", stalled.origin()),
    );
    assert_cut_off_on_record(&h, "http.send");
    // The same host runs the role again, to a server that answers.
    let outcome = h
        .run(&policy, RoleName::Tester, &format!("1 {answering}/"))
        .expect("the next run is served");
    assert_eq!(outcome.report.output, "1");
}

#[test]
fn a_model_endpoint_that_never_answers_ends_at_the_deadline() {
    let stalled = Stalled::start();
    let h = Harness::new();
    let policy = h.role_policy(
        "researcher",
        "model-client",
        &format!(
            "model = {{ endpoint = \"{}/v1\", model = \"smollm2-135m\", timeout_ms = 60_000 }}",
            stalled.origin()
        ),
        LIMITS,
    );
    let ask = json!({ "requests": [{ "messages": [["user", "hello"]], "max_tokens": 8 }] });
    stopped_at_deadline(&h, &policy, RoleName::Researcher, &ask.to_string());
    assert_cut_off_on_record(&h, "model.complete");
}

fn sql_policy(h: &Harness, endpoint: &str, statement: &str, extra: &str) -> Policy {
    h.role_policy(
        "tester",
        "sql-client",
        &format!(
            "handles = {{ paths = [\"db/**\"] }}\nsql = {{ endpoints = [\"{endpoint}\"], statements = [\"{statement}\"], timeout_ms = 30_000{extra} }}"
        ),
        LIMITS,
    )
}

fn statement(endpoint: &str, user: &str, text: &str) -> String {
    json!([{ "endpoint": endpoint, "user": user, "password": "db/app", "text": text, "params": [] }])
        .to_string()
}

#[test]
fn a_database_that_accepts_and_never_answers_ends_at_the_deadline() {
    let stalled = Stalled::start();
    let endpoint = format!("postgres://127.0.0.1:{}/app", stalled.port);
    let h = Harness::new();
    h.seed("db/app", "unused-password");
    let policy = sql_policy(&h, &endpoint, "SELECT 1", "");
    stopped_at_deadline(
        &h,
        &policy,
        RoleName::Tester,
        &statement(&endpoint, "app", "SELECT 1"),
    );
    assert_cut_off_on_record(&h, "sql.execute");
}

#[test]
fn a_long_statement_on_a_real_postgres_ends_at_the_deadline() {
    const PASSWORD: &str = "deadline-app-password";
    let pg = Postgres::new();
    let mut admin = pg.admin("postgres");
    admin.batch_execute("CREATE DATABASE app").unwrap();
    admin
        .batch_execute(&format!("CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'"))
        .unwrap();
    let endpoint = pg.endpoint("app");
    let h = Harness::new();
    h.seed("db/app", PASSWORD);
    pg.write_ca(&h.dir.path().join("certs/db-ca.pem"));
    let sleep = "SELECT pg_sleep(60)";
    let policy = sql_policy(&h, &endpoint, sleep, ", ca_files = [\"certs/db-ca.pem\"]");
    stopped_at_deadline(
        &h,
        &policy,
        RoleName::Tester,
        &statement(&endpoint, "app", sleep),
    );
    assert_cut_off_on_record(&h, "sql.execute");
}
