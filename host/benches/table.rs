//! Prints the runtime comparisons as Markdown tables: `cargo bench --bench table`.
//!
//! Plain `Instant` timing and medians of many runs, every subject measured in
//! this process next to its baseline, interleaved where cheap so that drift
//! (frequency scaling, a noisy neighbour) hits both alike. The criterion
//! suite (`--bench runtime`) measures the same things with confidence
//! intervals. About 10 s on a 2-core machine.
//!
//! What each side includes:
//! - cold compile: `Component::new` of the planner on agentward's engine
//!   (Cranelift, parallel compilation) versus `Component::deserialize` of the
//!   same engine's `precompile_component` output (what the on-disk cache loads).
//! - instantiate + run: agentward's `Host::run` of the bench guest with N = 0
//!   (role prepared once; per run: output capture, sandbox `WasiCtx`,
//!   `CallContext`, store limiter, fuel and epoch deadline, pooled
//!   instantiate, `agent.run`, outcome classification and scrubbing) versus
//!   bare wasmtime (`Engine::default()`, `InstancePre` made once; per run a
//!   new `Store` with an empty `WasiCtx`, `instantiate`, typed call of
//!   `agent.run`).
//! - host call: `(t(N) - t(0)) / N` with N = 100 000 calls of
//!   `log.log(info, "x")`: agentward's mediated `log` (scrub, truncate, one
//!   `CallEvent` recorded into the sink) versus a no-op `func_wrap` that only
//!   lifts its arguments. The main MemorySink row keeps every run's events
//!   until the measurement ends, so each run's events land in untouched
//!   memory, as over one CLI run whose sink only grows; the second drops the
//!   previous run's events first, and then the cost depends on how glibc
//!   reuses or returns that memory (anywhere from ~0.2 to ~0.6 µs more than
//!   the NullSink, from one process to the next).
//!
//! Set `AGENTWARD_BENCH_PROFILE=memory` (or `null`) to skip the tables and run
//! mediated calls for ~10 s instead, for `perf record`.

mod common;

use common::{
    fmt_duration, median, minor_faults, per_call, ratio, read, Agentward, Bare, SinkKind, CALLS,
};
use std::hint::black_box;
use std::time::{Duration, Instant};
use wasmtime::component::Component;

fn main() {
    if let Ok(kind) = std::env::var("AGENTWARD_BENCH_PROFILE") {
        profile(&kind);
        return;
    }
    let started = Instant::now();
    let mut rows = Vec::new();

    // 1. Compile versus load.
    let memory = Agentward::new(SinkKind::Memory);
    let engine = memory.host.engine().clone();
    let planner = read(&common::planner_component());
    let cold = median(&mut sample(9, || {
        time(|| Component::new(&engine, &planner).expect("planner compiles"))
    }));
    let precompile = median(&mut sample(5, || {
        time(|| engine.precompile_component(&planner).expect("precompiles"))
    }));
    let precompiled = engine.precompile_component(&planner).expect("precompiles");
    let load = median(&mut sample(101, || {
        time(|| {
            // SAFETY: produced by this engine a moment ago.
            unsafe { Component::deserialize(&engine, &precompiled) }.expect("deserializes")
        })
    }));
    rows.push(Row::new(
        "cold compile (`Component::new`, planner) vs precompiled load (`Component::deserialize`)",
        cold,
        load,
    ));
    rows.push(Row::new(
        "  `precompile_component` alone (planner) vs precompiled load",
        precompile,
        load,
    ));

    // 2. Instantiate + run, no host calls.
    let null = Agentward::new(SinkKind::Null);
    let bare = Bare::default_engine();
    let bare_aw = Bare::on_agentward_engine(&memory.host);
    let (mut aw0, mut bare0, mut bare_aw0) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..1020 {
        let (a, b, c) = (memory.time_run(0), bare.time_run(0), bare_aw.time_run(0));
        if i >= 20 {
            // The first runs fault in pool slots and code pages.
            aw0.push(a);
            bare0.push(b);
            bare_aw0.push(c);
        }
    }
    let (aw0, bare0, bare_aw0) = (median(&mut aw0), median(&mut bare0), median(&mut bare_aw0));
    rows.push(Row::new(
        "agentward instantiate + run (`Host::run`, N = 0) vs bare wasmtime (default engine)",
        aw0,
        bare0,
    ));
    rows.push(Row::new(
        "  same, vs bare wasmtime on agentward's engine (pooling, fuel, epochs)",
        aw0,
        bare_aw0,
    ));

    // 3. One host call.
    let memory_cost = call_cost(|n| memory.time_run(n));
    let mut kept = Vec::new();
    let fresh_cost = call_cost(|n| memory.time_run_keeping(n, &mut kept));
    drop(kept);
    let null_cost = call_cost(|n| null.time_run(n));
    let bare_cost = call_cost(|n| bare.time_run(n));
    let bare_aw_cost = call_cost(|n| bare_aw.time_run(n));
    let (mediated_memory, mediated_fresh, mediated_null, bare_call, bare_aw_call) = (
        memory_cost.per_call,
        fresh_cost.per_call,
        null_cost.per_call,
        bare_cost.per_call,
        bare_aw_cost.per_call,
    );
    rows.push(Row::new(
        "mediated `log` call, MemorySink vs bare host call (default engine)",
        mediated_fresh,
        bare_call,
    ));
    rows.push(Row::new(
        "  same, MemorySink reusing the previous run's freed events (varies with glibc's heap state)",
        mediated_memory,
        bare_call,
    ));
    rows.push(Row::new(
        "mediated `log` call, NullSink vs bare host call (default engine)",
        mediated_null,
        bare_call,
    ));
    rows.push(Row::new(
        "  bare host call on agentward's engine (fuel, epochs) vs default engine",
        bare_aw_call,
        bare_call,
    ));

    println!();
    println!("| comparison | subject | baseline | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} |",
            row.label,
            fmt_duration(row.subject),
            fmt_duration(row.baseline),
            ratio(row.subject, row.baseline)
        );
    }

    println!();
    println!(
        "Minor page faults per 1000 calls in the N-call runs: MemorySink {:.1}, \
         MemorySink reusing {:.1}, NullSink {:.1}, bare {:.1}, bare on agentward's engine {:.1}.",
        fresh_cost.faults_per_1000,
        memory_cost.faults_per_1000,
        null_cost.faults_per_1000,
        bare_cost.faults_per_1000,
        bare_aw_cost.faults_per_1000
    );

    println!(
        "(N = {CALLS} calls per run; tables took {:.1?})",
        started.elapsed()
    );
}

struct Row {
    label: &'static str,
    subject: Duration,
    baseline: Duration,
}

impl Row {
    fn new(label: &'static str, subject: Duration, baseline: Duration) -> Row {
        Row {
            label,
            subject,
            baseline,
        }
    }
}

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let started = Instant::now();
    let out = f();
    let elapsed = started.elapsed();
    drop(black_box(out));
    elapsed
}

fn sample(n: usize, mut f: impl FnMut() -> Duration) -> Vec<Duration> {
    (0..n).map(|_| f()).collect()
}

/// The cost of one host call, and the minor page faults per 1000 calls.
struct CallCost {
    per_call: Duration,
    faults_per_1000: f64,
}

/// Per-call cost: medians of runs with [`CALLS`] calls and with none,
/// interleaved.
fn call_cost(mut time_run: impl FnMut(u64) -> Duration) -> CallCost {
    time_run(CALLS); // warm-up
    let (mut with_calls, mut without) = (Vec::new(), Vec::new());
    let mut faults = 0;
    for _ in 0..11 {
        let before = minor_faults();
        with_calls.push(time_run(CALLS));
        faults += minor_faults() - before;
        for _ in 0..9 {
            without.push(time_run(0));
        }
    }
    CallCost {
        per_call: per_call(median(&mut with_calls), median(&mut without), CALLS),
        faults_per_1000: faults as f64 * 1000.0 / (11 * CALLS) as f64,
    }
}

/// Mediated calls in a loop for a profiler, ~10 s.
fn profile(kind: &str) {
    let sink = match kind {
        "memory" => SinkKind::Memory,
        "null" => SinkKind::Null,
        other => panic!("AGENTWARD_BENCH_PROFILE={other}: use `memory` or `null`"),
    };
    let aw = Agentward::new(sink);
    let started = Instant::now();
    let mut runs = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        runs.push(aw.time_run(CALLS));
    }
    let count = runs.len();
    println!(
        "{count} runs of {CALLS} mediated calls ({kind} sink), median {} per run",
        fmt_duration(median(&mut runs))
    );
}
