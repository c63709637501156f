//! HTTPS through the mediated `http` capability against rustls used
//! directly: `cargo bench --bench tls`.
//!
//! - one mediated HTTPS GET: `(t(N) − t(0)) / N` over runs of the
//!   `bench-http-loop` guest through `Host::run` (scope check, egress check,
//!   audit intent and outcome into a `MemorySink`, a pinned ureq agent over
//!   the grant's shared `TlsClient`, response scrubbing) versus the same
//!   GET made from the host with rustls directly (a `ClientConfig` built
//!   once with the same roots, `TcpStream` + `StreamOwned`, HTTP/1.1 by
//!   hand). Both open a new connection per request (the server closes
//!   it), so both pay a TCP connect and a TLS handshake.
//! - the handshake with the client configuration built once per policy (one
//!   `TlsClient` shared by every request, as a grant holds it: the rustls
//!   configuration and its session cache are reused, so later handshakes
//!   resume) versus built per call (a new `TlsClient` for each request:
//!   ~150 public roots parsed again, a full handshake every time).
//!
//! The server is tests/support/tls.rs's one-connection-at-a-time rustls
//! server on 127.0.0.1 with a certificate from a test CA. Subject and
//! baseline alternate. About 10 s. With `AGENTWARD_BENCH_OUT` set, the
//! rows go to scripts/bench.sh's report.

mod report;
#[path = "../../tests/support/tls.rs"]
mod tls;

use agentward::audit::{MemorySink, Redactor};
use agentward::capabilities::Task;
use agentward::net::tls::{load_ca_file, TlsClient};
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{Host, HostConfig};
use agentward::store::MemoryStore;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AREA: &str = "8 https";
const REQUESTS: u64 = 100;
const REPS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// rustls on its own: the same roots as a grant with `ca_files`.
fn direct_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn direct_get(config: &Arc<rustls::ClientConfig>, addr: SocketAddr) {
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    write!(
        stream,
        "GET /-/ping HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(answer.starts_with(b"HTTP/1.1 200"), "direct GET failed");
}

fn agent_get(client: &TlsClient, addr: SocketAddr, url: &str) {
    let response = client
        .pinned_agent(addr, Duration::from_secs(10))
        .get(url)
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn main() {
    let ca = tls::TestCa::new("agentward bench CA");
    let server = tls::TlsServer::ok(&ca.leaf(&["127.0.0.1"]));
    let url = format!("{}/-/ping", server.origin());
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let project = tempfile::tempdir().unwrap();
    let ca_file = project.path().join("certs/ca.pem");
    ca.write(&ca_file);

    let host = Host::new(
        HostConfig::new(project.path()),
        Arc::new(MemorySink::new()),
        Arc::new(MemoryStore::new()),
        Arc::new(Redactor::new([7; 32])),
    )
    .expect("host");
    let policy = Policy::parse(
        &project.path().join("bench.toml"),
        &format!(
            "[roles.tester]\ncomponent = \"bench-http-loop\"\n\
             limits = {{ fuel = 10_000_000_000, wall_ms = 120_000 }}\n\n\
             [roles.tester.grants]\n\
             http = {{ origins = [\"{}\"], methods = [\"GET\"], ca_files = [\"certs/ca.pem\"] }}\n",
            server.origin()
        ),
        project.path(),
    )
    .expect("bench policy");
    let prepared = host.prepare(&policy, RoleName::Tester).expect("prepares");
    let run = |n: u64| {
        let task = Task {
            change_id: String::new(),
            input: format!("{n} {url}"),
        };
        time(|| {
            host.run(&prepared, &task).expect("bench-http-loop runs");
        })
    };

    let direct = direct_config(&ca.cert_pem);
    let anchors = load_ca_file(&ca_file).unwrap();
    let shared = TlsClient::new(anchors.clone());
    // Warm up: code pages, pool slots, the server's accept loop.
    run(5);
    direct_get(&direct, addr);
    agent_get(&shared, addr, &url);

    let (mut mediated, mut bare) = (Vec::new(), Vec::new());
    let (mut once, mut per_call) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        let with = run(REQUESTS);
        let without = run(0);
        mediated.push(with.saturating_sub(without) / REQUESTS as u32);
        bare.push(time(|| (0..REQUESTS).for_each(|_| direct_get(&direct, addr))) / REQUESTS as u32);
        once.push(
            time(|| (0..REQUESTS).for_each(|_| agent_get(&shared, addr, &url))) / REQUESTS as u32,
        );
        per_call.push(
            time(|| {
                (0..REQUESTS).for_each(|_| agent_get(&TlsClient::new(anchors.clone()), addr, &url))
            }) / REQUESTS as u32,
        );
    }
    let (mediated, bare, once, per_call) = (
        median(mediated),
        median(bare),
        median(once),
        median(per_call),
    );
    let ratio = |a: Duration, b: Duration| format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64());
    let rows = [
        (
            "mediated HTTPS GET (`Host::run` of `bench-http-loop`, per request) vs the same GET with rustls directly from the host (config built once), new connection each",
            mediated,
            bare,
        ),
        (
            "  HTTPS GET with the client configuration built per call (new `TlsClient`: roots parsed, full handshake) vs once per policy (shared: resumed handshakes)",
            per_call,
            once,
        ),
        (
            "  HTTPS GET through the grant's shared `TlsClient` alone (no guest, no mediation) vs rustls directly",
            once,
            bare,
        ),
    ];
    println!("| comparison | subject | baseline | ratio |\n| --- | ---: | ---: | ---: |");
    for (label, subject, baseline) in rows {
        println!(
            "| {label} | {} | {} | {} |",
            fmt(subject),
            fmt(baseline),
            ratio(subject, baseline)
        );
        report::row(
            AREA,
            label,
            &fmt(subject),
            &fmt(baseline),
            &ratio(subject, baseline),
        );
    }
    report::detail(
        AREA,
        &format!(
            "- {REQUESTS} requests per run, median of {REPS} runs; loopback, so the handshake's \
             CPU (ECDHE, signature checks, the certificate chain) dominates, not latency. \
             Mediation and the guest add {} per request over the shared `TlsClient` alone.",
            fmt(mediated.saturating_sub(once))
        ),
    );
}
