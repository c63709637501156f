//! Store-side enforcement through the host: with OpenBao behind it, every
//! role run gets its own child token from the role's grants, on record from
//! mint to revoke, and dead when the run ends.

mod support;

use agentward::audit::{CallEvent, EventSink, MemorySink, Redactor, SinkError};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{Host, HostConfig, LimitHit, RunError};
use agentward::store::openbao::OpenBaoStore;
use agentward::store::{Label, SecretStore, SecretValue};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::openbao::{BaoServer, ServerProcess};

const CANARY: &str = "npm_CANARY_openbao_host_41f2";

fn host_on(server: &BaoServer) -> (tempfile::TempDir, Arc<MemorySink>, Arc<OpenBaoStore>, Host) {
    let sink = Arc::new(MemorySink::new());
    let (dir, root, host) = host_recording_into(server, sink.clone());
    (dir, sink, root, host)
}

/// A host on `server`'s root token, its events going to `sink`.
fn host_recording_into(
    server: &BaoServer,
    sink: Arc<dyn EventSink>,
) -> (tempfile::TempDir, Arc<OpenBaoStore>, Host) {
    let dir = tempfile::tempdir().unwrap();
    let root = Arc::new(OpenBaoStore::new(
        &server.addr(),
        &server.root_token,
        "secret",
    ));
    let host = Host::new(
        HostConfig::new(dir.path()),
        sink,
        root.clone(),
        Arc::new(Redactor::ephemeral()),
    )
    .unwrap();
    (dir, root, host)
}

fn policy(dir: &std::path::Path, text: &str) -> Policy {
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    Policy::load(&path, dir).unwrap()
}

/// `npm/token` = the canary, current.
fn seed_canary(root: &OpenBaoStore) {
    let version = root
        .put_pending("npm/token", &SecretValue::new(CANARY), None)
        .unwrap();
    root.promote("npm/token", version, None).unwrap();
}

fn task(input: &str) -> Task {
    Task {
        change_id: "01JOPENBAOHOST".into(),
        input: input.into(),
    }
}

#[test]
fn each_run_gets_a_scoped_token_that_is_revoked_when_it_ends() {
    let server = BaoServer::start();
    let (dir, sink, root, host) = host_on(&server);
    let version = root
        .put_pending("npm/token", &SecretValue::new(CANARY), None)
        .unwrap();
    root.promote("npm/token", version, None).unwrap();
    let policy = policy(
        dir.path(),
        "[roles.implementer]\ncomponent = \"implementer\"\n[roles.implementer.grants]\nlog = {}\nsecrets-write = { paths = [\"npm/**\"] }\nhandles = { paths = [\"npm/**\"] }\nhttp = { origins = [\"http://127.0.0.1:4873\"], methods = [\"GET\", \"POST\", \"DELETE\"] }\nsql = {}\nworkspace = { roots = [\"repos\"], mode = \"propose\" }\n",
    );
    let prepared = host.prepare(&policy, RoleName::Implementer).unwrap();
    let outcome = host
        .run(
            &prepared,
            &task(&support::mint_task("npm/token", Some(1), false, &[])),
        )
        .unwrap();
    assert_eq!(
        outcome.report.summary,
        "minted version 2 of npm/token (pending)"
    );
    assert_eq!(
        root.read("npm/token", Label::Current).unwrap().expose(),
        CANARY
    );
    let events = sink.events();
    assert_eq!(events.first().unwrap().call, "store.role-credential");
    let last = events.last().unwrap();
    assert_eq!(last.call, "store.revoke-role-credential");
    assert_eq!(last.outcome, "ok");
    let credential = last.args["credential"].as_str().unwrap();
    assert!(
        credential.contains("policy agentward-role-implementer, ttl 10s"),
        "{credential}"
    );
    assert_token_gone(&server, credential);
    assert!(!format!("{events:?}").contains(CANARY));
}

/// The token `credential` (a `store.role-credential` record's) names is
/// gone: its accessor no longer resolves on the server.
fn assert_token_gone(server: &BaoServer, credential: &str) {
    let accessor = credential
        .split("(accessor ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap();
    let (status, body) = server.raw(
        "POST",
        "auth/token/lookup-accessor",
        &server.root_token,
        &format!(r#"{{"accessor":"{accessor}"}}"#),
    );
    assert_eq!(status, 400, "the run's token outlived the run: {body}");
    assert!(body.contains("invalid accessor"), "{body}");
}

/// The server, not only the host, holds the planner to metadata: its run's
/// token cannot read a value even if a host bug let the call through.
#[test]
fn a_planner_run_token_cannot_read_values_on_the_server() {
    let server = BaoServer::start();
    let (_dir, _sink, root, _host) = host_on(&server);
    let version = root
        .put_pending("npm/token", &SecretValue::new(CANARY), None)
        .unwrap();
    root.promote("npm/token", version, None).unwrap();
    let default = Policy::parse(
        std::path::Path::new("policies/default.toml"),
        include_str!("../policies/default.toml"),
        std::path::Path::new("."),
    )
    .unwrap();
    let grants = &default.role(RoleName::Planner).unwrap().grants;
    let run = root
        .for_role_run(
            RoleName::Planner.as_str(),
            &grants.store_scopes(),
            std::time::Duration::from_secs(10),
        )
        .unwrap()
        .expect("OpenBao narrows every run");
    assert_eq!(run.store.list("npm/").unwrap(), ["npm/token"]);
    assert_eq!(run.store.describe("npm/token").unwrap().versions.len(), 1);
    let denied = run.store.read("npm/token", Label::Current).unwrap_err();
    assert!(
        denied.to_string().contains("403") || denied.to_string().contains("not allow"),
        "{denied}"
    );
    let write = run
        .store
        .put_pending("npm/token", &SecretValue::new("attacker"), None)
        .unwrap_err();
    assert!(!write.to_string().contains("attacker"));
    run.end().unwrap();
}

#[test]
fn a_store_that_cannot_mint_a_run_token_fails_the_run_by_name() {
    let mut server = BaoServer::start();
    let (dir, _sink, _root, host) = host_on(&server);
    let policy = policy(
        dir.path(),
        "[roles.researcher]\ncomponent = \"researcher\"\n[roles.researcher.grants]\nlog = {}\ndocs = { dir = \"docs\" }\nmodel = {}\n",
    );
    let prepared = host.prepare(&policy, RoleName::Researcher).unwrap();
    server.stop();
    let err = host
        .run(&prepared, &task(&support::research_task(&["x"])))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Store {
                role: RoleName::Researcher,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&server.addr()), "{err}");
}

/// The binary with `--store openbao`: the planner sees the server's
/// metadata through its run token, and the token's life is on record.
#[test]
fn the_cli_runs_a_role_against_openbao() {
    let server = BaoServer::start();
    seed_canary(&server.root_store());
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    let agentward = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_agentward"))
            .arg("--project")
            .arg(project)
            .args(args)
            .env("AGENTWARD_CACHE_DIR", project.join(".cache"))
            .env_remove("BAO_TOKEN")
            .output()
            .unwrap()
    };
    assert!(agentward(&["init", project.to_str().unwrap()])
        .status
        .success());
    let token_file = project.join("keys/openbao.token");
    std::fs::write(&token_file, &server.root_token).unwrap();
    let addr = server.addr();
    let store = [
        "--store",
        "openbao",
        "--openbao-addr",
        addr.as_str(),
        "--openbao-token-file",
        token_file.to_str().unwrap(),
    ];
    let input = support::plan_task(&["npm/"], "2026-11-25T00:00:00Z");
    let mut args = vec!["run", "planner", "--input", input.as_str()];
    args.extend(store);
    let out = agentward(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"summary\": \"0 secrets due, 1 not due\""),
        "{stdout}"
    );
    let log = std::fs::read_to_string(project.join("logs/audit.jsonl")).unwrap();
    assert!(log.contains("\"call\":\"store.role-credential\""));
    assert!(log.contains("\"call\":\"store.revoke-role-credential\""));
    assert!(!log.contains(CANARY) && !log.contains(&server.root_token));
    let mut args = vec!["secrets", "list", "npm/"];
    args.extend(store);
    let out = agentward(&args);
    assert!(String::from_utf8_lossy(&out.stdout).contains("npm/token"));
    // Without a token the command says how to give one.
    let out = agentward(&["run", "planner", "--store", "openbao"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--openbao-token-file FILE or set BAO_TOKEN")
    );
}

/// Envelope encryption through transit: KV holds only transit ciphertext;
/// a role whose grants read values decrypts through its run token, and the
/// planner's token cannot decrypt at all.
#[test]
fn transit_keeps_values_out_of_kv_and_decrypts_only_for_readers() {
    let server = BaoServer::start();
    let root = OpenBaoStore::new(&server.addr(), &server.root_token, "secret");
    root.ensure_transit_key("agentward").unwrap();
    let root = Arc::new(root.with_transit("agentward"));
    let version = root
        .put_pending("npm/token", &SecretValue::new(CANARY), None)
        .unwrap();
    root.promote("npm/token", version, None).unwrap();
    assert_eq!(
        root.read("npm/token", Label::Current).unwrap().expose(),
        CANARY
    );
    let (status, body) = server.raw("GET", "secret/data/npm/token", &server.root_token, "");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("vault:v1:") && !body.contains(CANARY),
        "{body}"
    );

    let default = Policy::parse(
        std::path::Path::new("policies/default.toml"),
        include_str!("../policies/default.toml"),
        std::path::Path::new("."),
    )
    .unwrap();
    let deadline = std::time::Duration::from_secs(10);
    // The tester uses the token through a handle: the host reads it.
    let tester = root
        .for_role_run(
            RoleName::Tester.as_str(),
            &default
                .role(RoleName::Tester)
                .unwrap()
                .grants
                .store_scopes(),
            deadline,
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        tester
            .store
            .read("npm/token", Label::Current)
            .unwrap()
            .expose(),
        CANARY
    );
    let token = tester.store.clone();
    let planner = root
        .for_role_run(
            RoleName::Planner.as_str(),
            &default
                .role(RoleName::Planner)
                .unwrap()
                .grants
                .store_scopes(),
            deadline,
        )
        .unwrap()
        .unwrap();
    assert!(planner.store.read("npm/token", Label::Current).is_err());
    planner.end().unwrap();
    tester.end().unwrap();
    assert!(token.read("npm/token", Label::Current).is_err(), "revoked");
}

/// The CLI against a `-dev-tls` server: the CA comes from
/// `--openbao-ca-cert` or `BAO_CACERT`; without it, with a file that is not
/// PEM, or with plain http off loopback, the command says what to do.
#[test]
fn the_cli_reaches_openbao_over_tls_with_the_ca_from_a_flag_or_the_environment() {
    let server = BaoServer::start_tls();
    seed_canary(&server.root_store());
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    let agentward = |args: &[&str], env: &[(&str, &std::path::Path)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_agentward"));
        command
            .arg("--project")
            .arg(project)
            .args(args)
            .env("AGENTWARD_CACHE_DIR", project.join(".cache"))
            .env("BAO_TOKEN", &server.root_token)
            .env_remove("BAO_CACERT")
            .env_remove("VAULT_CACERT");
        for (var, value) in env {
            command.env(var, value);
        }
        command.output().unwrap()
    };
    let addr = server.addr();
    let list = [
        "secrets",
        "list",
        "--store",
        "openbao",
        "--openbao-addr",
        addr.as_str(),
    ];
    let ca_file = server.ca_file();
    let with_flag = [&list[..], &["--openbao-ca-cert", ca_file.to_str().unwrap()]].concat();
    for (args, env) in [
        (with_flag.as_slice(), &[][..]),
        (&list[..], &[("BAO_CACERT", ca_file.as_path())][..]),
        (&list[..], &[("VAULT_CACERT", ca_file.as_path())][..]),
    ] {
        let out = agentward(args, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("npm/token"), "{stdout}");
    }
    let out = agentward(&list, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown issuer") && stderr.contains("--openbao-ca-cert FILE"),
        "{stderr}"
    );
    let not_pem = project.join("not-a-ca.pem");
    std::fs::write(&not_pem, "just some text\n").unwrap();
    let out = agentward(&list, &[("BAO_CACERT", not_pem.as_path())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("BAO_CACERT: CA file") && stderr.contains("is not PEM"),
        "{stderr}"
    );
    let out = agentward(
        &[
            "secrets",
            "list",
            "--store",
            "openbao",
            "--openbao-addr",
            "http://bao.example.com:8200",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("plain http would send the token"),
        "{stderr}"
    );
    assert!(!stderr.contains(&server.root_token) && !stderr.contains(CANARY));
}

/// Records into memory and, as the run's store token goes on record
/// (before the guest starts), freezes the server: the role's first store
/// call meets a server that takes its request and never answers.
struct FreezesTheServerAtMint {
    events: MemorySink,
    server: ServerProcess,
}

impl EventSink for FreezesTheServerAtMint {
    fn record(&self, event: &CallEvent) -> Result<(), SinkError> {
        if event.call == "store.role-credential" {
            self.server.freeze();
        }
        self.events.record(event)
    }
}

/// A server that stops answering mid-run holds a role only to its
/// `wall_ms`, not to the store's own 10 s request timeout: the store call
/// is cut off at the deadline and recorded so, the run ends with the
/// `wall_ms` error, and the run token's end is on record: it expired
/// with the run while the server was frozen, so its revoke-self is
/// refused, and the host confirms by its accessor that it is gone.
#[test]
fn a_server_that_stops_answering_mid_run_holds_a_role_only_to_its_deadline() {
    const WALL_MS: u64 = 1000;
    let server = BaoServer::start();
    let sink = Arc::new(FreezesTheServerAtMint {
        events: MemorySink::new(),
        server: server.process(),
    });
    let (dir, root, host) = host_recording_into(&server, sink.clone());
    seed_canary(&root);
    let policy = policy(
        dir.path(),
        &format!("[roles.planner]\ncomponent = \"planner\"\nlimits = {{ fuel = 2_000_000_000, wall_ms = {WALL_MS} }}\n[roles.planner.grants]\nlog = {{}}\nsecrets-meta = {{ paths = [\"npm/**\"] }}\n"),
    );
    let prepared = host.prepare(&policy, RoleName::Planner).unwrap();
    // The revocation after the run needs the server back.
    let thaw = {
        let process = server.process();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(WALL_MS + 1500));
            process.thaw();
        })
    };
    let started = Instant::now();
    let result = host.run(
        &prepared,
        &task(&support::plan_task(&["npm/"], "2026-01-01T00:00:00Z")),
    );
    let ended = started.elapsed();
    thaw.join().unwrap();
    match result {
        Err(RunError::Limit {
            role: RoleName::Planner,
            limit: LimitHit::WallClock { limit_ms: WALL_MS },
        }) => {}
        other => panic!("expected the wall_ms error, got {other:?}"),
    }
    // The run itself ended at its deadline; what follows it is the
    // revocation, which waited for the thaw.
    let events = sink.events.events();
    let cut: Vec<_> = events
        .iter()
        .filter(|e| e.call.starts_with("secrets-meta."))
        .collect();
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert!(
        cut[0].outcome.starts_with(&format!(
            "stopped: the run's wall-clock deadline (limits.wall_ms = {WALL_MS})"
        )),
        "{}",
        cut[0].outcome
    );
    assert!(
        cut[0].duration_us < 2 * WALL_MS * 1000,
        "the store call outlived the deadline: {} µs",
        cut[0].duration_us
    );
    let revoked = events.last().unwrap();
    assert_eq!(revoked.call, "store.revoke-role-credential");
    assert_eq!(revoked.outcome, "ok", "{revoked:?}");
    assert_token_gone(&server, revoked.args["credential"].as_str().unwrap());
    assert!(ended < Duration::from_secs(10), "took {ended:?}");
    assert!(!format!("{events:?}").contains(CANARY));
}
