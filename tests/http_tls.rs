//! `http` over real TLS: certificates verified against the grant's CA
//! files, each kind of bad certificate refused with its own message,
//! egress checked on the address that is dialled (with a resolver the
//! test controls), handles substituted only where their grant and secret
//! allow, and redirects handed to the role unfollowed.
//!
//! The servers are real HTTPS servers on 127.0.0.1 (tests/support/tls.rs)
//! and the role is `hostile-exfiltrate-handle`, compiled from source, which
//! tries every route it can to get a token out.

mod support;

use agentward::audit::{CallEvent, Decision};
use agentward::net::egress::Resolve;
use agentward::policy::{Policy, RoleName};
use agentward::store::{SecretAttributes, SecretValue};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::tls::{self_signed, Leaf, TestCa, TlsServer};
use support::Harness;

const CANARY: &str = "npm_TLS_CANARY_8c2e41d07b";
const SECRET: &str = "npm/token";

/// A resolver whose answers the test sets, counting its lookups.
#[derive(Debug, Default)]
struct TestResolver {
    answers: Mutex<Vec<(String, Vec<IpAddr>)>>,
    lookups: AtomicUsize,
}

impl TestResolver {
    fn answer(&self, name: &str, ips: &[&str]) {
        self.answers.lock().unwrap().push((
            name.to_string(),
            ips.iter().map(|ip| ip.parse().unwrap()).collect(),
        ));
    }
}

impl Resolve for TestResolver {
    fn lookup(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let answers = self.answers.lock().unwrap();
        // The last answer set for a name wins: a test can change it.
        answers
            .iter()
            .rev()
            .find(|(n, _)| n == host)
            .map(|(_, ips)| ips.clone())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such name"))
    }
}

struct Setup {
    h: Harness,
    resolver: Arc<TestResolver>,
    ca: TestCa,
}

fn setup() -> Setup {
    let resolver = Arc::new(TestResolver::default());
    let h = Harness::with_resolver(resolver.clone());
    let ca = TestCa::new("agentward test CA");
    ca.write(&h.dir.path().join("certs/ca.pem"));
    h.seed(SECRET, CANARY);
    Setup { h, resolver, ca }
}

impl Setup {
    /// A policy for the hostile role as the tester, allowed `origins`.
    fn policy(&self, origins: &[String], extra: &str) -> Policy {
        let origins: Vec<String> = origins.iter().map(|o| format!("\"{o}\"")).collect();
        self.h.role_policy(
            "tester",
            "hostile-exfiltrate-handle",
            &format!(
                "log = {{}}\nhandles = {{ paths = [\"npm/**\"] }}\nhttp = {{ origins = [{}], methods = [\"GET\", \"PUT\"]{extra} }}",
                origins.join(", ")
            ),
            "fuel = 500_000_000",
        )
    }

    /// Runs the hostile role over `routes`; its per-route outcomes.
    fn run(&self, policy: &Policy, origin: &str, other: &str, routes: &[&str]) -> Value {
        let input =
            json!({ "path": SECRET, "origin": origin, "other_origin": other, "routes": routes });
        let outcome = self
            .h
            .run(policy, RoleName::Tester, &input.to_string())
            .expect("the hostile role runs");
        let text = format!(
            "{}{}{}",
            outcome.report.output, outcome.stdout, outcome.stderr
        );
        assert!(!text.contains(CANARY), "the role saw the value: {text}");
        serde_json::from_str(&outcome.report.output).unwrap()
    }

    fn sends(&self) -> Vec<CallEvent> {
        self.h
            .events()
            .into_iter()
            .filter(|e| e.call == "http.send" && e.outcome != agentward::capabilities::INTENT)
            .collect()
    }
}

fn error_of(outcome: &Value, route: &str) -> String {
    outcome[route]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{route} was not refused: {outcome}"))
        .to_string()
}

/// "line N of PATH" for the policy's `http` grant.
fn ca_line(s: &Setup) -> String {
    let path = s.h.policy_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().position(|l| l.starts_with("http =")).unwrap() + 1;
    format!("line {line} of {}", path.display())
}

#[test]
fn a_grant_with_the_servers_ca_reaches_it_and_the_handle_arrives_in_authorization_only() {
    let s = setup();
    let server = TlsServer::ok(&s.ca.leaf(&["127.0.0.1"]));
    let policy = s.policy(&[server.origin()], ", ca_files = [\"certs/ca.pem\"]");
    let outcome = s.run(&policy, &server.origin(), "", &["allowed"]);
    assert_eq!(outcome["allowed"]["status"], 200, "{outcome}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );
    let send = &s.sends()[0];
    assert_eq!(send.decision, Decision::Allow);
    assert_eq!(send.args["address"], format!("127.0.0.1:{}", server.port));
    assert_eq!(send.args["status"], 200);
    assert_eq!(send.args["handles"][0]["in"], "header `authorization`");
    assert_eq!(
        s.resolver.lookups.load(Ordering::SeqCst),
        0,
        "a literal address needs no lookup"
    );
}

/// Serves `leaf` (made by `make` from the project's CA) to the hostile
/// role under a grant trusting that CA: the refusal it got, after checking
/// that nothing was sent and that the refusal is on record with its tag.
fn refusal(make: impl FnOnce(&TestCa) -> Leaf, tag: &str) -> (Setup, String, TlsServer) {
    let s = setup();
    let server = TlsServer::ok(&make(&s.ca));
    let policy = s.policy(&[server.origin()], ", ca_files = [\"certs/ca.pem\"]");
    let error = error_of(
        &s.run(&policy, &server.origin(), "", &["allowed"]),
        "allowed",
    );
    assert!(
        error.contains(&format!("TLS to {} refused", server.origin())),
        "{error}"
    );
    assert!(
        server.requests().is_empty(),
        "nothing may be sent over a refused connection"
    );
    let send = &s.sends()[0];
    assert_eq!(send.args["tls"], tag);
    assert!(send.outcome.contains("TLS to"), "{}", send.outcome);
    (s, error, server)
}

#[test]
fn an_unknown_issuer_is_refused_naming_the_origin_and_the_ca_files_line() {
    let (s, error, _server) = refusal(
        |_| TestCa::new("someone else's CA").leaf(&["127.0.0.1"]),
        "unknown-issuer",
    );
    assert!(error.contains("unknown issuer"), "{error}");
    assert!(error.contains(&ca_line(&s)), "{error}");
    assert!(
        error.contains("ca_files = [\\\"certs/ca.pem\\\", \\\"certs/internal-ca.pem\\\"]"),
        "{error}"
    );
}

#[test]
fn a_self_signed_certificate_is_refused_as_an_unknown_issuer() {
    let (_, error, _server) = refusal(|_| self_signed(&["127.0.0.1"]), "unknown-issuer");
    assert!(error.contains("unknown issuer"), "{error}");
    assert!(error.contains("self-signed"), "{error}");
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let (_, error, _server) = refusal(|ca| ca.expired_leaf(&["127.0.0.1"]), "expired");
    assert!(error.contains("has expired"), "{error}");
    assert!(error.contains("renew the server's certificate"), "{error}");
}

#[test]
fn a_certificate_for_another_name_is_refused_as_the_wrong_name() {
    let (_, error, _server) = refusal(|ca| ca.leaf(&["registry.other.test"]), "wrong-name");
    assert!(error.contains("not valid for this host name"), "{error}");
    assert!(error.contains("subjectAltName"), "{error}");
}

fn policy_error(s: &Setup, grant_extra: &str, origin: &str) -> String {
    let text = format!(
        "[roles.tester]\ncomponent = \"tester\"\n[roles.tester.grants]\nhttp = {{ origins = [\"{origin}\"], methods = [\"GET\"]{grant_extra} }}\n"
    );
    Policy::parse(&s.h.policy_path(), &text, s.h.dir.path())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_is_a_policy_error_with_line_and_fix() {
    let s = setup();
    std::fs::write(
        s.h.dir.path().join("certs/garbage.pem"),
        b"\x30\x82\x01\x0a binary",
    )
    .unwrap();
    std::fs::write(
        s.h.dir.path().join("certs/key-only.pem"),
        s.ca.leaf(&["x.test"]).key_pem,
    )
    .unwrap();
    let origin = "https://127.0.0.1:9";
    for (file, says) in [
        ("certs/garbage.pem", "is not PEM"),
        ("certs/missing.pem", "cannot read CA file"),
        ("certs/key-only.pem", "holds no certificate"),
    ] {
        let error = policy_error(&s, &format!(", ca_files = [\"{file}\"]"), origin);
        assert!(error.contains(says), "{file}: {error}");
        assert!(
            error.contains("test.toml:4:"),
            "{file}: no file:line in {error}"
        );
        assert!(
            error.contains("fix: put the PEM certificate of the CA"),
            "{error}"
        );
        assert!(error.contains(file), "{error}");
    }
}

#[test]
fn an_origin_with_a_path_or_query_or_plain_http_off_loopback_is_a_policy_error() {
    let s = setup();
    for origin in [
        "https://registry.example.com/npm",
        "https://registry.example.com?x=1",
    ] {
        let error = policy_error(&s, "", origin);
        assert!(
            error.contains("an origin is scheme://host[:port], nothing more"),
            "{error}"
        );
        assert!(error.contains("test.toml:4:"), "{error}");
    }
    let error = policy_error(&s, "", "http://registry.example.com");
    assert!(error.contains("plain http"), "{error}");
    assert!(
        error.contains("use \"https://registry.example.com\""),
        "{error}"
    );
    // Loopback stays allowed in plain http.
    for origin in [
        "http://127.0.0.1:4873",
        "http://localhost:4873",
        "http://[::1]:4873",
    ] {
        let text = format!("[roles.tester]\ncomponent = \"tester\"\n[roles.tester.grants]\nhttp = {{ origins = [\"{origin}\"], methods = [\"GET\"] }}\n");
        Policy::parse(&s.h.policy_path(), &text, s.h.dir.path()).unwrap();
    }
}

#[test]
fn a_granted_name_that_resolves_to_loopback_or_the_metadata_address_is_refused() {
    let s = setup();
    let server = TlsServer::ok(&s.ca.leaf(&["registry.test", "metadata.test"]));
    s.resolver.answer("registry.test", &["127.0.0.1"]);
    s.resolver.answer("metadata.test", &["169.254.169.254"]);
    for (name, address, range) in [
        ("registry.test", "127.0.0.1", "loopback"),
        ("metadata.test", "169.254.169.254", "cloud metadata"),
    ] {
        let origin = format!("https://{name}:{}", server.port);
        let policy = s.policy(
            std::slice::from_ref(&origin),
            ", ca_files = [\"certs/ca.pem\"]",
        );
        let error = error_of(&s.run(&policy, &origin, "", &["allowed"]), "allowed");
        assert!(
            error.contains(&format!("send http requests to {origin}")),
            "{error}"
        );
        assert!(
            error.contains(&format!("{address}:{}", server.port)),
            "{error}"
        );
        assert!(error.contains(range), "{error}");
        assert!(error.contains(&ca_line(&s)), "{error}");
        assert!(
            error.contains(&format!("\\\"https://{address}:{}\\\"", server.port)),
            "{error}"
        );
    }
    assert!(server.requests().is_empty(), "nothing was dialled");
    let sends = s.sends();
    assert_eq!(sends.len(), 2);
    for send in &sends {
        assert_eq!(send.decision, Decision::Deny);
        assert!(send.args["address"].as_str().is_some());
    }
}

#[test]
fn a_name_is_resolved_once_and_its_checked_address_is_the_one_dialled() {
    let s = setup();
    let server = TlsServer::ok(&s.ca.leaf(&["registry.test"]));
    s.resolver.answer("registry.test", &["127.0.0.1"]);
    let by_name = format!("https://registry.test:{}", server.port);
    // The grant names the loopback address literally, so the name may
    // resolve to it; the certificate is checked against the name.
    let policy = s.policy(
        &[by_name.clone(), server.origin()],
        ", ca_files = [\"certs/ca.pem\"]",
    );
    let outcome = s.run(&policy, &by_name, "", &["allowed"]);
    assert_eq!(outcome["allowed"]["status"], 200, "{outcome}");
    assert_eq!(
        s.resolver.lookups.load(Ordering::SeqCst),
        1,
        "one lookup per request"
    );
    assert_eq!(
        server.requests()[0].header("host"),
        Some(format!("registry.test:{}", server.port).as_str())
    );
    // A second answer that points elsewhere changes nothing already checked,
    // and the next request checks it afresh.
    s.resolver.answer("registry.test", &["169.254.169.254"]);
    let error = error_of(&s.run(&policy, &by_name, "", &["allowed"]), "allowed");
    assert!(error.contains("169.254.169.254"), "{error}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn every_route_to_exfiltrate_a_handle_is_refused_before_anything_is_sent() {
    let s = setup();
    let registry = TlsServer::ok(&s.ca.leaf(&["127.0.0.1"]));
    let other = TlsServer::ok(&s.ca.leaf(&["127.0.0.1"]));
    // The token may go to the registry only.
    s.h.store.insert_current(
        SECRET,
        SecretValue::new(CANARY),
        SecretAttributes {
            origins: vec![registry.origin()],
            ..Default::default()
        },
    );
    let policy = s.policy(
        &[registry.origin(), other.origin()],
        ", ca_files = [\"certs/ca.pem\"]",
    );
    let routes = [
        "url",
        "header",
        "header-name",
        "readme",
        "other-origin",
        "allowed",
    ];
    let outcome = s.run(&policy, &registry.origin(), &other.origin(), &routes);
    let expect = [
        ("url", "in the URL"),
        ("header", "in header `x-debug-token`"),
        ("header-name", "in a header name"),
        ("readme", "in the request body"),
        ("other-origin", &format!("to {}", other.origin()) as &str),
    ];
    for (route, says) in expect {
        let error = error_of(&outcome, route);
        assert!(error.contains("Denied"), "{route}: {error}");
        assert!(
            error.contains(&format!("secret `{SECRET}`")),
            "{route}: {error}"
        );
        assert!(error.contains(says), "{route}: {error}");
        assert!(error.contains(&ca_line(&s)), "{route}: {error}");
    }
    assert!(error_of(&outcome, "header")
        .contains("handle_headers = [\\\"authorization\\\", \\\"x-debug-token\\\"]"));
    assert!(error_of(&outcome, "readme").contains("handle_body = true"));
    assert!(error_of(&outcome, "other-origin").contains("origins attribute"));
    assert_eq!(outcome["allowed"]["status"], 200, "{outcome}");
    // Only the legitimate request reached a server.
    let received = registry.requests();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].target, "/-/whoami");
    assert!(other.requests().is_empty());
    let denied: Vec<CallEvent> = s
        .sends()
        .into_iter()
        .filter(|e| e.decision == Decision::Deny)
        .collect();
    assert_eq!(denied.len(), 5, "each refusal is on record");
    for event in s.h.events() {
        assert!(!serde_json::to_string(&event.args).unwrap().contains(CANARY));
        assert!(!event.outcome.contains(CANARY));
    }
}

#[test]
fn a_handle_in_a_body_goes_out_where_the_grant_allows_bodies() {
    let s = setup();
    let registry = TlsServer::ok(&s.ca.leaf(&["127.0.0.1"]));
    let policy = s.policy(
        &[registry.origin()],
        ", ca_files = [\"certs/ca.pem\"], handle_body = true",
    );
    let outcome = s.run(&policy, &registry.origin(), "", &["readme"]);
    assert_eq!(outcome["readme"]["status"], 200, "{outcome}");
    let sent = registry.requests()[0].text();
    assert!(
        sent.contains(CANARY),
        "the value was substituted in the body"
    );
}

#[test]
fn a_redirect_reaches_the_role_as_it_is_and_is_not_followed() {
    let s = setup();
    let elsewhere = TlsServer::ok(&s.ca.leaf(&["127.0.0.1"]));
    let location = format!("{}/-/whoami", elsewhere.origin());
    let leaf: Leaf = s.ca.leaf(&["127.0.0.1"]);
    let redirecting = TlsServer::start(&leaf, move |_| {
        (302, vec![("location".into(), location.clone())], Vec::new())
    });
    let policy = s.policy(
        &[redirecting.origin(), elsewhere.origin()],
        ", ca_files = [\"certs/ca.pem\"]",
    );
    let outcome = s.run(&policy, &redirecting.origin(), "", &["allowed"]);
    assert_eq!(outcome["allowed"]["status"], 302, "{outcome}");
    assert_eq!(redirecting.requests().len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was not followed"
    );
}

/// `openssl s_server` limited to TLS 1.1 (which OpenSSL 3 offers only at
/// security level 0): agentward's client refuses to go below 1.2.
#[test]
fn a_server_that_speaks_only_tls_1_1_is_refused_as_too_old() {
    let s = setup();
    let leaf = s.ca.leaf(&["127.0.0.1"]);
    let (cert, key) = leaf.write(&s.h.dir.path().join("old-server"));
    let port = support::openbao::free_port();
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-www",
            "-quiet",
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(["-accept", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl (Debian's openssl package) runs");
    let origin = format!("https://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "openssl s_server did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let policy = s.policy(
        std::slice::from_ref(&origin),
        ", ca_files = [\"certs/ca.pem\"]",
    );
    let error = error_of(&s.run(&policy, &origin, "", &["allowed"]), "allowed");
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        error.contains(&format!("TLS to {origin} refused")),
        "{error}"
    );
    assert!(error.contains("does not speak TLS 1.2 or 1.3"), "{error}");
    assert_eq!(s.sends()[0].args["tls"], "old-protocol");
}

/// The same hostile role against a real registry it may reach (Verdaccio
/// over TLS): it authenticates as the bot, as it may, and publishes a
/// package whose README carries the token. Under the default grant (no
/// `handle_body`) the publish is refused before anything is sent and the
/// package does not exist; under a grant that allows handles in bodies the
/// very same request publishes the token for anyone to read, which is why
/// only the Implementer's grant says `handle_body = true`.
#[test]
fn a_hostile_role_cannot_publish_the_token_in_a_readme_through_its_registry() {
    let v = support::rotation::registry();
    let bot = support::rotation::bot(&v, "leaky");
    let s = setup();
    s.h.store.insert_current(
        SECRET,
        SecretValue::new(&bot.token),
        SecretAttributes {
            origins: vec![v.url()],
            ..Default::default()
        },
    );
    v.write_ca(&s.h.dir.path().join("certs/registry-ca.pem"));
    let trust = ", ca_files = [\"certs/registry-ca.pem\"]";
    let leak = "/@agentward%2fleak";
    let run = |policy: &Policy| {
        let input = json!({ "path": SECRET, "origin": v.url(), "other_origin": "", "routes": ["url", "header", "readme", "allowed"] });
        let outcome =
            s.h.run(policy, RoleName::Tester, &input.to_string())
                .expect("the hostile role runs");
        assert!(
            !outcome.report.output.contains(&bot.token),
            "the role saw the token"
        );
        serde_json::from_str::<Value>(&outcome.report.output).unwrap()
    };

    let outcome = run(&s.policy(&[v.url()], trust));
    for route in ["url", "header", "readme"] {
        assert!(
            error_of(&outcome, route).contains("Denied"),
            "{route}: {outcome}"
        );
    }
    assert!(error_of(&outcome, "readme").contains("handle_body = true"));
    assert_eq!(
        outcome["allowed"]["status"], 200,
        "the grant itself works: {outcome}"
    );
    assert_eq!(
        v.get(leak, Some(&bot.token)).status,
        404,
        "nothing was published"
    );

    // The control: a grant that lets handles into bodies publishes it.
    let outcome = run(&s.policy(&[v.url()], &format!("{trust}, handle_body = true")));
    assert_eq!(outcome["readme"]["status"], 201, "{outcome}");
    let published = v.get(leak, Some(&bot.token));
    assert_eq!(published.status, 200);
    assert!(
        published.body.contains(&bot.token),
        "the README holds the token"
    );
}
