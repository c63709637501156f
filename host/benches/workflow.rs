//! Dry-run rotation of 1, 100 and 1,000 secrets with the embedded store:
//! `cargo bench --bench workflow`.
//!
//! Each size runs the real `agentward rotate --dry-run --json` on a project
//! whose secrets are all due, with a warm component cache, five times; the
//! table shows medians. The process reports where its time went: inside
//! role runs (split into guest code, which includes instantiation, and host
//! calls: mediation, store, audit) and outside them (orchestration: loading
//! the policy and components, planning bookkeeping, manifest, checkpoint).
//! The process wall time adds exec and exit. About 15 s.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [1, 100, 1000];
const RUNS: usize = 5;
const NOW: &str = "2026-11-25T03:00:00Z";

fn agentward(project: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_agentward"))
        .arg("--project")
        .arg(project)
        .args(args)
        .env("AGENTWARD_CACHE_DIR", cache)
        .output()
        .expect("agentward runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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
    println!("| secrets | process wall | in-process wall | per secret | guest (incl. instantiate) | host calls | orchestration | role runs | host share |");
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for n in SIZES {
        let dir = project(n, cache.path());
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
        println!(
            "| {n} | {process:.1} ms | {wall:.1} ms | {:.3} ms | {guest:.1} ms | {host_calls:.1} ms | {orchestration:.1} ms | {} | {:.0}% |",
            wall / n as f64,
            samples[0].role_runs,
            100.0 * (wall - guest) / wall,
        );
    }
}
