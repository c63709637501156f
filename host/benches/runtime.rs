//! Criterion suite for agentward's runtime, each subject next to the baseline
//! it is judged against, both measured in this process:
//!
//! - `compile/*`: cold compile of the planner component on agentward's
//!   engine (`Component::new`, and `Engine::precompile_component` alone)
//!   versus loading the precompiled bytes (`Component::deserialize`), which
//!   is what agentward's on-disk cache does on every start after the first.
//! - `instantiate/*`: agentward's `Host::run` of the bench guest with no host
//!   calls (role prepared once; per run: output capture, sandbox `WasiCtx`,
//!   `CallContext`, store limiter, fuel and epoch deadline, pooled
//!   instantiate, `agent.run`, outcome classification and scrubbing) versus
//!   bare wasmtime (`Engine::default()`, `InstancePre` made once; per run a
//!   new `Store` with an empty `WasiCtx`, `instantiate`, a typed call of
//!   `agent.run`), and bare wasmtime on agentward's own engine (pooling,
//!   fuel, epochs) to tell engine configuration from host work.
//! - `host_call/*`: the same runs with N = 100 000 `log.log(info, "x")`
//!   calls (throughput in calls/s): mediated (MemorySink, NullSink) versus
//!   a no-op `func_wrap` that only lifts its arguments. Each MemorySink run
//!   starts with an empty sink, the previous run's events dropped untimed
//!   (keeping them would hold gigabytes over a criterion run); how glibc
//!   reuses that freed memory moves the MemorySink figure by up to ~0.5 µs a
//!   call from one process to the next, so compare it within one run. The
//!   NullSink figure is the stable cost of mediation itself. `--bench table`
//!   also measures a MemorySink that only grows, as over one CLI run.
//!
//! After criterion's own report, a summary prints each ratio from the
//! medians of the same samples, with the per-call cost `(t(N) - t(0)) / N`
//! (both agentward hosts take the memory host's t(0): a run without calls
//! never reaches its sink). About a minute on a 2-core machine;
//! `cargo bench --bench runtime -- --quick` about 15 s.

mod common;

use common::{fmt_duration, median, per_call, ratio, read, Agentward, Bare, SinkKind, CALLS};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use wasmtime::component::Component;

/// Per-iteration times of every sample criterion took, by benchmark id, for
/// the ratio summary.
static SAMPLES: Mutex<BTreeMap<String, Vec<Duration>>> = Mutex::new(BTreeMap::new());

/// Registers `group_name/id` in `group`, timing each iteration with `run`.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    id: &str,
    mut run: impl FnMut() -> Duration,
) {
    let key = format!("{group_name}/{id}");
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let total: Duration = (0..iters).map(|_| run()).sum();
            SAMPLES
                .lock()
                .unwrap()
                .entry(key.clone())
                .or_default()
                .push(total / iters as u32);
            total
        })
    });
}

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let started = std::time::Instant::now();
    let out = f();
    let elapsed = started.elapsed();
    drop(std::hint::black_box(out));
    elapsed
}

fn compile(c: &mut Criterion, aw: &Agentward) {
    let engine = aw.host.engine().clone();
    let planner = read(&common::planner_component());
    let precompiled = engine.precompile_component(&planner).expect("precompiles");
    let mut g = c.benchmark_group("compile");
    // Seconds per iteration: one iteration per sample, ten samples.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    bench(&mut g, "compile", "component_new_cold", || {
        time(|| Component::new(&engine, &planner).expect("planner compiles"))
    });
    bench(&mut g, "compile", "precompile_component", || {
        time(|| engine.precompile_component(&planner).expect("precompiles"))
    });
    bench(&mut g, "compile", "deserialize_precompiled", || {
        time(|| {
            // SAFETY: produced by this engine a moment ago.
            unsafe { Component::deserialize(&engine, &precompiled) }.expect("deserializes")
        })
    });
    g.finish();
}

fn instantiate(c: &mut Criterion, aw: &Agentward, bare: &Bare, bare_aw: &Bare) {
    let mut g = c.benchmark_group("instantiate");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    bench(&mut g, "instantiate", "agentward_host_run", || {
        aw.time_run(0)
    });
    bench(&mut g, "instantiate", "bare_default_engine", || {
        bare.time_run(0)
    });
    bench(&mut g, "instantiate", "bare_agentward_engine", || {
        bare_aw.time_run(0)
    });
    g.finish();
}

fn host_call(c: &mut Criterion, memory: &Agentward, null: &Agentward, bare: &Bare, bare_aw: &Bare) {
    let mut g = c.benchmark_group("host_call");
    g.throughput(Throughput::Elements(CALLS))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    bench(&mut g, "host_call", "agentward_memory_sink", || {
        memory.time_run(CALLS)
    });
    bench(&mut g, "host_call", "agentward_null_sink", || {
        null.time_run(CALLS)
    });
    bench(&mut g, "host_call", "bare_default_engine", || {
        bare.time_run(CALLS)
    });
    bench(&mut g, "host_call", "bare_agentward_engine", || {
        bare_aw.time_run(CALLS)
    });
    g.finish();
}

fn summary() {
    let medians: BTreeMap<String, Duration> = SAMPLES
        .lock()
        .unwrap()
        .iter_mut()
        .map(|(id, samples)| (id.clone(), median(samples)))
        .collect();
    let m = |id: &str| medians.get(id).copied();
    let per = |with_calls: &str, without: &str| Some(per_call(m(with_calls)?, m(without)?, CALLS));
    let bare_call = per(
        "host_call/bare_default_engine",
        "instantiate/bare_default_engine",
    );
    let rows = [
        (
            "cold compile (Component::new) / precompiled load",
            m("compile/component_new_cold"),
            m("compile/deserialize_precompiled"),
        ),
        (
            "precompile_component / precompiled load",
            m("compile/precompile_component"),
            m("compile/deserialize_precompiled"),
        ),
        (
            "agentward Host::run (N = 0) / bare wasmtime",
            m("instantiate/agentward_host_run"),
            m("instantiate/bare_default_engine"),
        ),
        (
            "mediated call, MemorySink / bare host call",
            per(
                "host_call/agentward_memory_sink",
                "instantiate/agentward_host_run",
            ),
            bare_call,
        ),
        (
            "mediated call, NullSink / bare host call",
            per(
                "host_call/agentward_null_sink",
                "instantiate/agentward_host_run",
            ),
            bare_call,
        ),
        (
            "bare host call on agentward's engine / default engine",
            per(
                "host_call/bare_agentward_engine",
                "instantiate/bare_agentward_engine",
            ),
            bare_call,
        ),
    ];
    println!("\nRatios (medians of the samples above; a host call is (t(N) - t(0)) / N):");
    for (label, subject, baseline) in rows {
        match (subject, baseline) {
            (Some(s), Some(b)) => println!(
                "  {label}: {} / {} = {}",
                fmt_duration(s),
                fmt_duration(b),
                ratio(s, b)
            ),
            _ => println!("  {label}: not measured in this run"),
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let memory = Agentward::new(SinkKind::Memory);
    let null = Agentward::new(SinkKind::Null);
    let bare = Bare::default_engine();
    let bare_aw = Bare::on_agentward_engine(&memory.host);
    compile(&mut c, &memory);
    instantiate(&mut c, &memory, &bare, &bare_aw);
    host_call(&mut c, &memory, &null, &bare, &bare_aw);
    c.final_summary();
    summary();
}
