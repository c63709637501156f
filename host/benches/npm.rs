//! 100 npm tokens rotated live against a real Verdaccio on 127.0.0.1, items
//! in flight together against one after another, in the same process:
//! `cargo bench --bench npm`.
//!
//! The registry and the project are the rotation tests' (tests/support:
//! a hundred registry users, one token each, one workflow whose issuer
//! mints each token with its own user's password). Each side is one live
//! `agentward rotate` of all hundred, every token then checked as the
//! crash tests check it (one live token per user, the old one revoked);
//! the two alternate, twice, and the medians are compared. About a
//! minute. With `AGENTWARD_BENCH_OUT` set, the rows go to
//! scripts/bench.sh's report.

mod report;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::Instant;
use support::rotation::{assert_all_rotated, bot, crowd, registry, Bot, NOW};

const AREA: &str = "10 npm";
const TOKENS: usize = 100;
const IN_FLIGHT: usize = 32;
const ROUNDS: usize = 2;
/// In flight together, at most this share of the sequential wall time.
const TARGET: f64 = 0.20;

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

fn main() {
    let v = registry();
    let mut bots: Vec<Bot> = (0..TOKENS).map(|n| bot(&v, &format!("bench{n}"))).collect();
    let (mut sequential, mut together) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        sequential.push(rotate(&v, &mut bots, 1));
        together.push(rotate(&v, &mut bots, IN_FLIGHT));
    }
    let (sequential, together) = (median(sequential), median(together));
    let ratio = together / sequential;
    report::row(
        AREA,
        &format!(
            "{TOKENS} npm tokens against Verdaccio, {IN_FLIGHT} in flight vs one after another"
        ),
        &format!("{together:.2} s"),
        &format!("{sequential:.2} s"),
        &format!("{ratio:.2}×"),
    );
    report::target(
        AREA,
        &format!(
            "{TOKENS} npm tokens in flight ≤ {:.0}% of the sequential wall time",
            TARGET * 100.0
        ),
        &format!("{:.0}%", ratio * 100.0),
        ratio <= TARGET,
    );
    report::detail(
        AREA,
        &format!(
            "\n{TOKENS} npm tokens of {TOKENS} registry users, rotated live (mint, review, two \
             checks, two health samples, revoke) against one Verdaccio on loopback: \
             {sequential:.2} s one after another, {together:.2} s with {IN_FLIGHT} in flight \
             (medians of {ROUNDS}). Every token was checked afterwards: one live token per \
             user, the old one revoked. The registry is one Node.js process on the same two \
             cores, so the items in flight share its time and the host's.\n"
        ),
    );
}
