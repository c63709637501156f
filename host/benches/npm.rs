//! 100 npm tokens rotated live against a real Verdaccio on 127.0.0.1, items
//! in flight together against one after another, in the same process:
//! `cargo bench --bench npm`.
//!
//! The registry and the project are the rotation tests' (tests/support:
//! a hundred registry users, one token each, one workflow whose issuer
//! mints each token with its own user's password). Each side is one live
//! `agentward rotate` of all hundred, every token then checked as the
//! crash tests check it (one live token per user, the old one revoked);
//! the two alternate, twice, and the medians are compared: once with the
//! registry on loopback, once behind a link with a 10 ms round trip
//! (support::latency). About three minutes. With `AGENTWARD_BENCH_OUT` set, the rows go to
//! scripts/bench.sh's report.

mod report;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::latency::LatencyProxy;
use support::rotation::{assert_all_rotated, bot, crowd, registry, Bot, NOW};

const AREA: &str = "10 npm";
const TOKENS: usize = 100;
const IN_FLIGHT: usize = 32;
const ROUNDS: usize = 2;
/// In flight together, at most this share of the sequential wall time.
const TARGET: f64 = 0.20;
/// The registry link's delay each way, for the second comparison.
const ONE_WAY: Duration = Duration::from_millis(5);

fn rotate(v: &support::verdaccio::Verdaccio, bots: &mut [Bot], concurrency: usize) -> f64 {
    let p = crowd(v, bots, concurrency);
    let started = Instant::now();
    let out = p.run(&["rotate", "--now", NOW, "--json"]);
    let wall = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", support::rotation::text(&out));
    let change = p.change_id();
    assert_all_rotated(&p, v, bots, &change);
    wall
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Sequential and in-flight medians over [`ROUNDS`], alternating.
fn compare(v: &support::verdaccio::Verdaccio, bots: &mut [Bot]) -> (f64, f64) {
    let (mut sequential, mut together) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        sequential.push(rotate(v, bots, 1));
        together.push(rotate(v, bots, IN_FLIGHT));
    }
    (median(sequential), median(together))
}

fn main() {
    let mut v = registry();
    let mut bots: Vec<Bot> = (0..TOKENS).map(|n| bot(&v, &format!("bench{n}"))).collect();
    // On loopback the registry answers at once: what is left to overlap is
    // CPU, the registry's and the host's, on the same two cores.
    let (sequential, together) = compare(&v, &mut bots);
    let ratio = together / sequential;
    report::row(
        AREA,
        &format!(
            "{TOKENS} npm tokens against Verdaccio on loopback, {IN_FLIGHT} in flight vs one after another"
        ),
        &format!("{together:.2} s"),
        &format!("{sequential:.2} s"),
        &format!("{ratio:.2}×"),
    );
    // The same registry behind a link with a round trip of 2 × ONE_WAY,
    // as a registry anywhere but this machine is: what items in flight
    // are for is overlapping those waits.
    let direct = v.port;
    let link = LatencyProxy::start(direct, ONE_WAY);
    v.port = link.port;
    let (far_sequential, far_together) = compare(&v, &mut bots);
    v.port = direct;
    let far_ratio = far_together / far_sequential;
    let rtt_ms = ONE_WAY.as_millis() * 2;
    report::row(
        AREA,
        &format!(
            "{TOKENS} npm tokens against the same Verdaccio over a {rtt_ms} ms round trip, {IN_FLIGHT} in flight vs one after another"
        ),
        &format!("{far_together:.2} s"),
        &format!("{far_sequential:.2} s"),
        &format!("{far_ratio:.2}×"),
    );
    report::target(
        AREA,
        &format!(
            "{TOKENS} npm tokens in flight ≤ {:.0}% of the sequential wall time ({rtt_ms} ms round trip)",
            TARGET * 100.0
        ),
        &format!("{:.0}%", far_ratio * 100.0),
        far_ratio <= TARGET,
    );
    report::detail(
        AREA,
        &format!(
            "\n{TOKENS} npm tokens of {TOKENS} registry users, rotated live (mint, review, two \
             checks, two health samples, revoke) against one Verdaccio, medians of {ROUNDS}; \
             every token was checked afterwards: one live token per user, the old one revoked.\n\n\
             - On loopback: {sequential:.2} s one after another, {together:.2} s with \
             {IN_FLIGHT} in flight ({:.0}%). The registry answers at once, so there is no wait \
             to overlap: the registry is one Node.js process on the same two cores as the \
             host, and the items in flight share their CPU.\n\
             - Over a {rtt_ms} ms round trip (tests/support/latency.rs: a proxy on 127.0.0.1 \
             delaying every byte {} ms each way, TLS passing through): {far_sequential:.2} s \
             one after another, {far_together:.2} s with {IN_FLIGHT} in flight. This is the \
             case the target is about: one after another, a change waits for every round trip \
             of every item in turn.\n",
            ratio * 100.0,
            ONE_WAY.as_millis()
        ),
    );
}
