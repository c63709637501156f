//! Cold start of the CLI: `cargo bench --bench coldstart`.
//!
//! `agentward --project P run researcher --input '{"topics":[],"config":null}'`
//! from process start to exit (its result printed) on a project made by
//! `agentward init`: with a warm precompile cache (`AGENTWARD_CACHE_DIR`
//! filled by an earlier run), with an empty one (a new directory each run:
//! the component is compiled with Cranelift and written to the cache), and
//! spawning `/bin/true` as the floor of starting any process. Medians;
//! runs alternate between the three. And in process, what creating the
//! `Host` costs (engine, pooling allocator, epoch thread), and what sizing
//! the pool's stack slots to the roles (`total_stacks`) saves against
//! wasmtime's default of 1,000 slots, each a guard page `mprotect`ed at
//! start. About 10 s.
//! With `AGENTWARD_BENCH_OUT` set, the rows go to scripts/bench.sh's report.

mod binary;
mod report;

use agentward::audit::{MemorySink, Redactor};
use agentward::runtime::{Host, HostConfig, MAX_MEMORY_MIB};
use agentward::store::MemoryStore;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AREA: &str = "5 cold start";
const INPUT: &str = r#"{"topics":[],"config":null}"#;
const ROUNDS: usize = 9;
const WARM_PER_ROUND: usize = 3;

fn agentward(project: &Path, cache: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    binary::run(project, cache, args);
    started.elapsed()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// agentward's engine configuration (host/src/runtime/engine.rs, 16 roles),
/// with `stacks` stack slots in the pool (`None`: wasmtime's default).
fn engine(stacks: Option<u32>) -> Duration {
    let roles = 16;
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(roles)
        .total_core_instances(roles * 16)
        .total_memories(roles * 2)
        .total_tables(roles * 16)
        .max_memory_size((MAX_MEMORY_MIB * 1024 * 1024) as usize);
    if let Some(stacks) = stacks {
        pool.total_stacks(stacks);
    }
    let mut config = wasmtime::Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(512 * 1024)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    let started = Instant::now();
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let elapsed = started.elapsed();
    drop(engine);
    elapsed
}

fn host_new(dir: &Path) -> Duration {
    let started = Instant::now();
    let host = Host::new(
        HostConfig::new(dir),
        Arc::new(MemorySink::new()),
        Arc::new(MemoryStore::new()),
        Arc::new(Redactor::new([42; 32])),
    )
    .expect("host");
    let elapsed = started.elapsed();
    drop(host);
    elapsed
}

fn main() {
    let project = tempfile::tempdir().expect("tempdir");
    let warm = tempfile::tempdir().expect("cache dir");
    agentward(
        project.path(),
        warm.path(),
        &["init", project.path().to_str().unwrap()],
    );
    let run = ["run", "researcher", "--input", INPUT];
    agentward(project.path(), warm.path(), &run); // fills the warm cache

    let (mut hot, mut cold, mut floor, mut help) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let empty = tempfile::tempdir().expect("cache dir");
        cold.push(agentward(project.path(), empty.path(), &run));
        for _ in 0..WARM_PER_ROUND {
            hot.push(agentward(project.path(), warm.path(), &run));
            help.push(agentward(project.path(), warm.path(), &["--help"]));
            let started = Instant::now();
            let status = Command::new("/bin/true").status().expect("/bin/true runs");
            floor.push(started.elapsed());
            assert!(status.success());
        }
    }
    let (hot, cold, floor, help) = (
        median(&mut hot),
        median(&mut cold),
        median(&mut floor),
        median(&mut help),
    );
    let x = |a: Duration, b: Duration| format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64());
    println!(
        "warm cache {}, empty cache {}, /bin/true {}",
        ms(hot),
        ms(cold),
        ms(floor)
    );
    report::row(
        AREA,
        "`agentward run researcher`, process start to result, warm precompile cache vs spawning `/bin/true`",
        &ms(hot),
        &ms(floor),
        &x(hot, floor),
    );
    report::row(
        AREA,
        "  same, empty cache (compile + write the cache) vs warm cache",
        &ms(cold),
        &ms(hot),
        &x(cold, hot),
    );
    report::row(
        AREA,
        "  `agentward --help` (load the binary, parse arguments, exit) vs spawning `/bin/true`",
        &ms(help),
        &ms(floor),
        &x(help, floor),
    );
    let (mut hosts, mut defaults, mut trimmed) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..31 {
        hosts.push(host_new(project.path()));
        defaults.push(engine(None));
        trimmed.push(engine(Some(16)));
    }
    let (hosts, defaults, trimmed) = (
        median(&mut hosts),
        median(&mut defaults),
        median(&mut trimmed),
    );
    report::row(
        AREA,
        "  in process: `Host::new` (engine, pooling allocator, epoch thread) vs spawning `/bin/true`",
        &ms(hosts),
        &ms(floor),
        &x(hosts, floor),
    );
    report::row(
        AREA,
        "  in process: an engine with wasmtime's default 1,000 pooled stacks vs agentward's `total_stacks(16)`",
        &ms(defaults),
        &ms(trimmed),
        &x(defaults, trimmed),
    );
    report::detail(
        AREA,
        &format!(
            "- Cold start: medians of {} warm-cache runs, {ROUNDS} empty-cache runs and {} `/bin/true` \
             spawns, interleaved. A run opens the project's embedded store, its audit log \
             (synced before effects and at the closing checkpoint) and keys, loads the policy and runs the \
             researcher once.",
            ROUNDS * WARM_PER_ROUND,
            ROUNDS * WARM_PER_ROUND
        ),
    );
}
