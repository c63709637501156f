//! Dry-run rotation of 1, 100 and 1,000 secrets with the embedded store,
//! and a live rotation of 100, 1,000 and 10,000: `cargo bench --bench
//! workflow`.
//!
//! Each size runs the real `agentward rotate --dry-run --json` on a project
//! whose secrets are all due, with a warm component cache, five times, one
//! item after another (so that the parts add up to the wall time); the
//! table shows medians, and 1,000 secrets run again at the default
//! concurrency. The process reports where its time went: inside
//! role runs (split into guest code, which includes instantiation, and host
//! calls: mediation, store, audit) and outside them (orchestration: loading
//! the policy and components, planning bookkeeping, manifest, checkpoint).
//! The process wall time adds exec and exit. A live rotation (the default
//! workflow's `generated` issuer) runs once per size on a fresh project:
//! every step is then durable (journal, audit sync, checkpoint), and what
//! a step costs must not grow with the change: 100, 1,000 and 10,000
//! secrets at the default concurrency, and 1,000 one item after another
//! (`concurrency = 1`) as the baseline. About two minutes. With
//! `AGENTWARD_BENCH_OUT` set, the rows go to scripts/bench.sh's report.

mod binary;
mod report;

use std::path::Path;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [1, 100, 1000];
const LIVE_SIZES: [usize; 3] = [100, 1000, 10_000];
const LIVE_TARGET_S: f64 = 5.0;
/// 10,000 secrets in at most this many times the 1,000 figure.
const LINEAR_TARGET: f64 = 12.0;
const RUNS: usize = 5;
const NOW: &str = "2026-11-25T03:00:00Z";

fn agentward(project: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    binary::run(project, cache, args)
}

fn project(n: usize, cache: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    agentward(dir.path(), cache, &["init", dir.path().to_str().unwrap()]);
    let seed: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            (
                format!("npm/service-{i:04}"),
                serde_json::json!({ "value": format!("npm_bench_{i:04}_{}", "x".repeat(32)), "expires": "2026-11-28T00:00:00Z" }),
            )
        })
        .collect();
    let file = dir.path().join("seed.json");
    std::fs::write(&file, serde_json::Value::Object(seed).to_string()).unwrap();
    agentward(
        dir.path(),
        cache,
        &["secrets", "import", file.to_str().unwrap()],
    );
    dir
}

/// Sets the project's `[rotation] concurrency`.
fn set_concurrency(project: &Path, items: usize) {
    let workflow = project.join("policies/workflow.toml");
    let text = std::fs::read_to_string(&workflow).unwrap();
    let text = text.replacen(
        "lead_days = 7",
        &format!("lead_days = 7\nconcurrency = {items}"),
        1,
    );
    std::fs::write(&workflow, text).unwrap();
}

#[derive(Default)]
struct Sample {
    process: Duration,
    wall: f64,
    guest: f64,
    host_calls: f64,
    orchestration: f64,
    role_runs: u64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let cache = tempfile::tempdir().expect("cache dir");
    let mut table = String::new();
    // (secrets, process wall ms, in-process wall ms, guest ms, host calls ms)
    let mut results: Vec<(usize, f64, f64, f64, f64)> = Vec::new();
    println!("| secrets | process wall | in-process wall | per secret | guest (incl. instantiate) | host calls | orchestration | role runs | host share |");
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    // One item after another, so that guest, host-call and orchestration
    // times add up to the wall time they are compared with.
    for n in SIZES {
        let dir = project(n, cache.path());
        set_concurrency(dir.path(), 1);
        let args = ["rotate", "--dry-run", "--now", NOW, "--json"];
        agentward(dir.path(), cache.path(), &args); // warms the component cache
        let samples: Vec<Sample> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let out = agentward(dir.path(), cache.path(), &args);
                let process = started.elapsed();
                let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
                let t = &doc["timing"];
                assert_eq!(doc["items"].as_array().map(Vec::len), Some(n));
                let ms = |k: &str| t[k].as_f64().expect("timing field");
                Sample {
                    process,
                    wall: ms("wall_ms"),
                    guest: ms("guest_ms"),
                    host_calls: ms("host_calls_ms"),
                    orchestration: ms("orchestrator_ms"),
                    role_runs: t["role_runs"].as_u64().unwrap_or(0),
                }
            })
            .collect();
        let pick = |f: fn(&Sample) -> f64| median(&mut samples.iter().map(f).collect::<Vec<_>>());
        let process = pick(|s| s.process.as_secs_f64() * 1000.0);
        let wall = pick(|s| s.wall);
        let guest = pick(|s| s.guest);
        let host_calls = pick(|s| s.host_calls);
        let orchestration = pick(|s| s.orchestration);
        results.push((n, process, wall, guest, host_calls));
        table.push_str(&format!(
            "| {n} | {process:.1} ms | {wall:.1} ms | {:.3} ms | {guest:.1} ms | {host_calls:.1} ms | {orchestration:.1} ms | {} | {:.0}% |\n",
            wall / n as f64,
            samples[0].role_runs,
            100.0 * (wall - guest) / wall,
        ));
        println!(
            "| {n} | {process:.1} ms | {wall:.1} ms | {:.3} ms | {guest:.1} ms | {host_calls:.1} ms | {orchestration:.1} ms | {} | {:.0}% |",
            wall / n as f64,
            samples[0].role_runs,
            100.0 * (wall - guest) / wall,
        );
    }

    let area = "6 workflow";
    let (_, one_process, one_wall, ..) = results[0];
    let mut bullets = String::new();
    for &(n, process, wall, guest, host_calls) in &results {
        if n > 1 {
            report::row(
                area,
                &format!("dry-run rotation of {n} secrets vs of 1 secret, `agentward rotate --dry-run` process wall"),
                &format!("{process:.1} ms"),
                &format!("{one_process:.1} ms"),
                &format!("{:.1}×", process / one_process),
            );
            let extra = (wall - one_wall) / (n - 1) as f64;
            report::row(
                area,
                &format!("  {n} secrets: host time per secret (in-process wall − guest) vs guest time per secret"),
                &format!("{:.3} ms", (wall - guest) / n as f64),
                &format!("{:.3} ms", guest / n as f64),
                &format!("{:.1}×", (wall - guest) / guest.max(1e-9)),
            );
            bullets.push_str(&format!(
                "- {n} secrets: each secret past the first adds {extra:.2} ms in process; \
                 host calls (mediation, store, audit) take {host_calls:.1} ms of the {wall:.1} ms.\n"
            ));
        }
    }
    let (n, sequential, ..) = *results.last().unwrap();
    let default = agentward::orchestrator::workflow::DEFAULT_CONCURRENCY;
    let dir = project(n, cache.path());
    let args = ["rotate", "--dry-run", "--now", NOW, "--json"];
    let mut walls: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            agentward(dir.path(), cache.path(), &args);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let process = median(&mut walls);
    report::row(
        area,
        &format!("dry-run rotation of {n} secrets, {default} in flight vs one after another"),
        &format!("{process:.1} ms"),
        &format!("{sequential:.1} ms"),
        &format!("{:.2}×", process / sequential),
    );
    report::target(
        area,
        "1,000-secret dry-run rotation < 2 s",
        &format!(
            "{:.2} s ({n} secrets, {default} in flight, process start to exit)",
            process / 1000.0
        ),
        process < 2000.0,
    );
    live(cache.path(), area);
    report::emit(
        "detail-6.md",
        &format!(
            "\nMedians of {RUNS} runs of `agentward rotate --dry-run --json` on an embedded store whose \
             secrets are all due, one item after another (`concurrency = 1`), warm component cache. Guest time includes instantiation; \
             host calls are mediation, store and audit inside role runs; orchestration is \
             everything outside role runs.\n\n\
             | secrets | process wall | in-process wall | per secret | guest (incl. instantiate) | host calls | orchestration | role runs | host share |\n\
             |--:|--:|--:|--:|--:|--:|--:|--:|--:|\n{table}\n{bullets}"
        ),
    );
}

/// One live rotation of `n` secrets with `concurrency` items in flight
/// (the workflow's default if `None`): (process ms, guest ms, host calls
/// ms, orchestration ms).
fn live_rotation(n: usize, concurrency: Option<usize>, cache: &Path) -> (f64, f64, f64, f64) {
    let dir = project(n, cache);
    if let Some(c) = concurrency {
        set_concurrency(dir.path(), c);
    }
    let started = Instant::now();
    let out = agentward(dir.path(), cache, &["rotate", "--now", NOW, "--json"]);
    let process = started.elapsed().as_secs_f64() * 1000.0;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let done = doc["items"].as_array().map_or(0, |items| {
        items.iter().filter(|i| i["state"] == "DONE").count()
    });
    assert_eq!(done, n, "every secret rotated: {doc}");
    let t = &doc["timing"];
    let ms = |k: &str| t[k].as_f64().expect("timing field");
    (
        process,
        ms("guest_ms"),
        ms("host_calls_ms"),
        ms("orchestrator_ms"),
    )
}

/// Live rotations: the time per secret at each size, against the smallest,
/// and 1,000 in flight together against one after another.
fn live(cache: &Path, area: &str) {
    let default = agentward::orchestrator::workflow::DEFAULT_CONCURRENCY;
    let rows: Vec<_> = LIVE_SIZES
        .iter()
        .map(|&n| (n, live_rotation(n, None, cache)))
        .collect();
    let (sequential, ..) = live_rotation(1000, Some(1), cache);
    let mut table = String::from(
        "| secrets | process wall | per secret | guest | host calls | orchestration |\n|--:|--:|--:|--:|--:|--:|\n",
    );
    for &(n, (process, guest, calls, orchestration)) in &rows {
        table.push_str(&format!(
            "| {n} | {:.2} s | {:.2} ms | {:.2} s | {:.2} s | {:.2} s |\n",
            process / 1000.0,
            process / n as f64,
            guest / 1000.0,
            calls / 1000.0,
            orchestration / 1000.0
        ));
    }
    println!("{table}");
    let at = |size: usize| rows.iter().find(|(n, _)| *n == size).unwrap().1 .0;
    let per = |size: usize| at(size) / size as f64;
    report::row(
        area,
        "live rotation: time per secret at 1,000 secrets vs at 100 (1.0× = linear)",
        &format!("{:.2} ms", per(1000)),
        &format!("{:.2} ms", per(100)),
        &format!("{:.2}×", per(1000) / per(100)),
    );
    report::row(
        area,
        &format!("live rotation of 1,000 secrets, {default} in flight vs one after another"),
        &format!("{:.2} s", at(1000) / 1000.0),
        &format!("{:.2} s", sequential / 1000.0),
        &format!("{:.2}×", at(1000) / sequential),
    );
    report::row(
        area,
        "live rotation of 10,000 secrets vs 1,000",
        &format!("{:.1} s", at(10_000) / 1000.0),
        &format!("{:.2} s", at(1000) / 1000.0),
        &format!("{:.2}×", at(10_000) / at(1000)),
    );
    report::target(
        area,
        &format!("live rotation of 1,000 secrets ≤ {LIVE_TARGET_S} s"),
        &format!("{:.2} s", at(1000) / 1000.0),
        at(1000) <= LIVE_TARGET_S * 1000.0,
    );
    report::target(
        area,
        &format!("live rotation of 10,000 secrets ≤ {LINEAR_TARGET}× the 1,000 figure"),
        &format!("{:.2}×", at(10_000) / at(1000)),
        at(10_000) <= LINEAR_TARGET * at(1000),
    );
    let orchestration = rows.iter().find(|(n, _)| *n == 1000).unwrap().1 .3;
    report::emit(
        "detail-6.md",
        &format!(
            "\nLive rotations (`agentward rotate --json`, default workflow, `generated` issuer, \
             {default} items in flight), once per size on a fresh project; one after another \
             (`concurrency = 1`), 1,000 secrets took {:.2} s. Guest and host-call times are summed \
             over the role runs in flight together, so they may exceed the wall time.\n\n{table}\n\
             Orchestration at 1,000 secrets: {:.2} ms per secret (journal appends, audit syncs and \
             checkpoints, shared by the items in flight).\n",
            sequential / 1000.0,
            orchestration / 1000.0
        ),
    );
}
