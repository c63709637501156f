//! Live rotations on a real 3-node OpenBao Raft cluster on 127.0.0.1:
//! `cargo bench --bench cluster`.
//!
//! Two comparisons, each in the same process against the same cluster:
//!
//! * what `[cluster]` costs: one host rotating 300 secrets with a lease,
//!   claims and a replicated journal, against the same host and secrets
//!   without `[cluster]`;
//! * what more hosts buy: three hosts rotating 100 secrets each at once,
//!   against one host rotating all 300, both with `[cluster]`.
//!
//! Every secret is checked afterwards (exactly one new version, current,
//! nothing pending). The hosts share the two cores with the three OpenBao
//! nodes, so the second ratio is bounded by CPU, not by the design. About
//! three minutes. With `AGENTWARD_BENCH_OUT` set, the rows go to
//! scripts/bench.sh's report.

mod report;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::Instant;
use support::bao_cluster::BaoCluster;
use support::cluster_host::{assert_rotated_once, seed, text, HostProject, NOW};

const AREA: &str = "11 cluster";
const SECRETS: usize = 300;
const HOSTS: usize = 3;

struct Run {
    wall: f64,
}

/// Rotates every host's group at once; the wall time until the last ends.
fn rotate(cluster: &BaoCluster, hosts: &[HostProject], groups: &[Vec<String>]) -> Run {
    let started = Instant::now();
    let runs: Vec<_> = hosts
        .iter()
        .map(|h| h.spawn(&["rotate", "--now", NOW, "--json"]))
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let wall = started.elapsed().as_secs_f64();
    let store = agentward::store::openbao::OpenBaoStore::new(
        &cluster.addrs().join(","),
        cluster.root_token(),
        "secret",
    );
    for group in groups {
        assert_rotated_once(&store, group);
    }
    Run { wall }
}

/// Fresh hosts, one per group name, with `per_host` secrets each seeded.
fn hosts(
    cluster: &BaoCluster,
    names: &[String],
    per_host: usize,
    with_cluster: bool,
) -> (Vec<HostProject>, Vec<Vec<String>>) {
    let addrs = cluster.addrs().join(",");
    let hosts: Vec<HostProject> = names
        .iter()
        .map(|n| HostProject::new(n, n, &addrs, cluster.root_token(), with_cluster))
        .collect();
    let groups = hosts
        .iter()
        .zip(names)
        .map(|(h, n)| seed(h, n, per_host))
        .collect();
    (hosts, groups)
}

fn main() {
    let cluster = BaoCluster::start();
    let mut round = 0;
    let mut names = |n: usize| -> Vec<String> {
        round += 1;
        (0..n).map(|k| format!("r{round}h{k}")).collect()
    };
    // Warm the component cache, so no side pays for the first compile.
    let (warm, groups) = hosts(&cluster, &names(1), 10, true);
    rotate(&cluster, &warm, &groups);

    let (plain, groups) = hosts(&cluster, &names(1), SECRETS, false);
    let without = rotate(&cluster, &plain, &groups);
    let (coordinated, groups) = hosts(&cluster, &names(1), SECRETS, true);
    let one = rotate(&cluster, &coordinated, &groups);
    let (fleet, groups) = hosts(&cluster, &names(HOSTS), SECRETS / HOSTS, true);
    let three = rotate(&cluster, &fleet, &groups);

    report::row(
        AREA,
        &format!("{SECRETS} secrets on a 3-node Raft cluster, one host: with [cluster] (lease, claims, replicated journal) vs without"),
        &format!("{:.2} s", one.wall),
        &format!("{:.2} s", without.wall),
        &format!("{:.2}×", one.wall / without.wall),
    );
    report::row(
        AREA,
        &format!("{SECRETS} secrets with [cluster]: {HOSTS} hosts of {} at once vs one host of {SECRETS}", SECRETS / HOSTS),
        &format!("{:.2} s", three.wall),
        &format!("{:.2} s", one.wall),
        &format!("{:.2}×", three.wall / one.wall),
    );
    report::detail(
        AREA,
        &format!(
            "\nLive rotations (`generated` issuer, default workflow, concurrency 16) against three \
             `bao server` nodes with integrated Raft on 127.0.0.1 (tests/support/bao_cluster.rs), \
             each side once, the component cache warm. {SECRETS} secrets on one host: {:.2} s \
             without `[cluster]`, {:.2} s with it; {HOSTS} hosts of {} at once: {:.2} s. Every \
             secret was checked afterwards: one new version, current, nothing pending. The \
             three OpenBao nodes, whose Raft log every write goes through, run on the same two \
             cores as the hosts.\n",
            without.wall,
            one.wall,
            SECRETS / HOSTS,
            three.wall
        ),
    );
}
