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
//! - the same mediated call recording into the real tamper-evident
//!   `AuditLog` (hash chain, one JSON line per call) with
//!   `Durability::Buffered` (written, not synced) and with
//!   `Durability::GroupCommit` (one guest appending alone: every call waits
//!   for its own `fdatasync`, which is what a group of one costs).
//!
//! Set `AGENTWARD_BENCH_PROFILE=memory` (or `null`, `audit` for the buffered
//! `AuditLog`, or `bare` for the bare host call) to skip the tables and run calls for ~10 s instead, for
//! `perf record`. With `AGENTWARD_BENCH_PROFILE_RUNS=K` as well it runs
//! exactly K runs of `AGENTWARD_BENCH_CALLS` calls (default 100 000) inside
//! `profile_loop_with_calls` and K runs of none inside
//! `profile_loop_without_calls`, for `valgrind --tool=callgrind`: the
//! difference of the two functions' inclusive instruction counts over
//! K x calls is the instructions of one call (scripts/bench.sh does this).
//! With `AGENTWARD_BENCH_OUT` set, the rows go to scripts/bench.sh's report.

mod common;
mod report;

use agentward::audit::{AuditLog, Durability};
use common::{
    fmt_duration, median, minor_faults, per_call, ratio, read, Agentward, Bare, SinkKind, CALLS,
};
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Component;

/// Calls per run for the buffered audit log: 100 000 records a run would
/// write ~45 MiB each time; 20 000 keeps the file small and still makes
/// instantiation noise.
const AUDIT_CALLS: u64 = 20_000;
/// Calls per run for group commit: each waits for an `fdatasync`.
const DURABLE_CALLS: u64 = 40;

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

    // 4. The same call recorded into the tamper-evident audit log.
    let audit_dir = tempfile::tempdir().expect("tempdir");
    let buffered_log = Arc::new(
        AuditLog::open_dir(&audit_dir.path().join("buffered"), Durability::Buffered)
            .expect("audit log"),
    );
    let buffered = Agentward::with_sink(buffered_log.clone());
    let buffered_cost = call_cost_n(AUDIT_CALLS, 7, |n| buffered.time_run(n));
    let group_log = Arc::new(
        AuditLog::open_dir(&audit_dir.path().join("group"), Durability::GroupCommit)
            .expect("audit log"),
    );
    let group = Agentward::with_sink(group_log.clone());
    // Interleaved with the same number of bare appends + fdatasync, whose
    // latency drifts a lot on a virtual disk.
    let mut probe = FsyncProbe::new(audit_dir.path());
    let mut fsyncs = Vec::new();
    let group_cost = call_cost_n(DURABLE_CALLS, 7, |n| {
        let t = group.time_run(n);
        if n > 0 {
            fsyncs.push(probe.time(DURABLE_CALLS) / DURABLE_CALLS as u32);
        }
        t
    });
    let fsync = median(&mut fsyncs);
    let record_bytes = {
        let text = std::fs::read(buffered_log.path()).expect("audit log readable");
        text.len() as f64 / text.iter().filter(|&&b| b == b'\n').count().max(1) as f64
    };
    let (mediated_audit, mediated_durable) = (buffered_cost.per_call, group_cost.per_call);
    rows.push(Row::new(
        "mediated `log` call into the audit log (`AuditLog`, Buffered) vs bare host call",
        mediated_audit,
        bare_call,
    ));
    rows.push(Row::new(
        "mediated `log` call into the audit log (`AuditLog`, GroupCommit, one appender) vs bare host call",
        mediated_durable,
        bare_call,
    ));
    rows.push(Row::new(
        "  same, vs appending 450 bytes to a file and `fdatasync` (same file system, interleaved)",
        mediated_durable,
        fsync,
    ));
    drop((buffered, group, buffered_log, group_log));

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
        "(N = {CALLS} calls per run, {AUDIT_CALLS} into the buffered audit log, \
         {DURABLE_CALLS} into group commit; tables took {:.1?})",
        started.elapsed()
    );

    // For scripts/bench.sh.
    let d = fmt_duration;
    report::row(
        "1 instantiate",
        "agentward instantiate + run (`Host::run`, pooled `InstancePre`, no host calls) vs bare wasmtime, default engine, empty WASI context",
        &d(aw0),
        &d(bare0),
        &ratio(aw0, bare0),
    );
    report::row(
        "1 instantiate",
        "  same, vs bare wasmtime on agentward's engine (pooling, fuel, epochs)",
        &d(aw0),
        &d(bare_aw0),
        &ratio(aw0, bare_aw0),
    );
    report::row(
        "1 instantiate",
        "cold compile (`Component::new`, planner) vs precompiled load",
        &d(cold),
        &d(load),
        &ratio(cold, load),
    );
    for (label, subject) in [
        ("mediated `log` call, NullSink (mediation alone) vs bare host call", mediated_null),
        ("mediated `log` call, MemorySink vs bare host call", mediated_fresh),
        ("mediated `log` call into `AuditLog`, Buffered (hash chain, no fsync) vs bare host call", mediated_audit),
        ("mediated `log` call into `AuditLog`, GroupCommit (a `log` call changes nothing: queued, not synced per call) vs bare host call", mediated_durable),
    ] {
        report::row("2 host call", label, &d(subject), &d(bare_call), &ratio(subject, bare_call));
    }
    report::row(
        "2 host call",
        "  GroupCommit call vs appending 450 bytes + `fdatasync` to a file on the same file system, interleaved",
        &d(mediated_durable),
        &d(fsync),
        &ratio(mediated_durable, fsync),
    );
    let x = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    report::target(
        "2 host call",
        "mediation alone (NullSink) ≤ 2× a bare wasmtime host call",
        &ratio(mediated_null, bare_call),
        x(mediated_null, bare_call) <= 2.0,
    );
    report::target(
        "2 host call",
        "a call recorded into the audit log (Buffered) ≤ 10× a bare wasmtime host call",
        &ratio(mediated_audit, bare_call),
        x(mediated_audit, bare_call) <= 10.0,
    );
    report::target(
        "1 instantiate",
        "instantiate ≤ 1.5× bare wasmtime",
        &format!(
            "{} (vs default engine); {} (vs agentward's engine)",
            ratio(aw0, bare0),
            ratio(aw0, bare_aw0)
        ),
        x(aw0, bare0) <= 1.5,
    );
    // Both targets' ratios: scripts/bench.sh profiles the call when either is missed.
    report::emit(
        "mediated-ratio.txt",
        &format!(
            "{:.2} {:.2}",
            x(mediated_null, bare_call),
            x(mediated_audit, bare_call)
        ),
    );
    report::emit(
        "mediated-ns.txt",
        &format!(
            "{:.1} {:.1} {:.1} {record_bytes:.0}",
            bare_call.as_secs_f64() * 1e9,
            mediated_null.as_secs_f64() * 1e9,
            mediated_audit.as_secs_f64() * 1e9
        ),
    );
    report::detail(
        "2 host call",
        &format!(
            "Minor page faults per 1000 calls: MemorySink {:.1}, NullSink {:.1}, bare {:.1}, \
             audit log buffered {:.1}. Calls per run: {CALLS} (null, memory, bare), \
             {AUDIT_CALLS} (buffered audit log), {DURABLE_CALLS} (group commit); \
             per-call cost is (t(N) − t(0)) / N from medians of interleaved runs.",
            fresh_cost.faults_per_1000,
            null_cost.faults_per_1000,
            bare_cost.faults_per_1000,
            buffered_cost.faults_per_1000,
        ),
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
fn call_cost(time_run: impl FnMut(u64) -> Duration) -> CallCost {
    call_cost_n(CALLS, 11, time_run)
}

/// [`call_cost`] with `calls` calls per run and `rounds` runs of them.
fn call_cost_n(calls: u64, rounds: usize, mut time_run: impl FnMut(u64) -> Duration) -> CallCost {
    time_run(calls); // warm-up
    let (mut with_calls, mut without) = (Vec::new(), Vec::new());
    let mut faults = 0;
    for _ in 0..rounds {
        let before = minor_faults();
        with_calls.push(time_run(calls));
        faults += minor_faults() - before;
        for _ in 0..9 {
            without.push(time_run(0));
        }
    }
    CallCost {
        per_call: per_call(median(&mut with_calls), median(&mut without), calls),
        faults_per_1000: faults as f64 * 1000.0 / (rounds as u64 * calls) as f64,
    }
}

/// Appends of one ~450-byte record to a file, each followed by
/// `fdatasync`: the floor under any durable per-call audit record.
struct FsyncProbe {
    file: std::fs::File,
}

impl FsyncProbe {
    fn new(dir: &std::path::Path) -> FsyncProbe {
        FsyncProbe {
            file: std::fs::File::create(dir.join("fsync-probe")).expect("probe file"),
        }
    }

    /// Time for `n` appends, each synced.
    fn time(&mut self, n: u64) -> Duration {
        let record = [b'x'; 450];
        time(|| {
            for _ in 0..n {
                self.file.write_all(&record).expect("write");
                self.file.sync_data().expect("fdatasync");
            }
        })
    }
}

/// Calls in a loop for a profiler: ~10 s, or a fixed number of runs.
fn profile(kind: &str) {
    let calls: u64 = std::env::var("AGENTWARD_BENCH_CALLS")
        .ok()
        .map(|n| n.parse().expect("AGENTWARD_BENCH_CALLS is a number"))
        .unwrap_or(CALLS);
    let (aw, bare, dir);
    let time_run: &dyn Fn(u64) -> Duration = match kind {
        "memory" | "null" => {
            aw = Agentward::new(if kind == "memory" {
                SinkKind::Memory
            } else {
                SinkKind::Null
            });
            &|n| aw.time_run(n)
        }
        "audit" => {
            // The real tamper-evident log, Buffered (written, not synced).
            dir = tempfile::tempdir().expect("tempdir");
            let log = AuditLog::open_dir(dir.path(), Durability::Buffered).expect("audit log");
            aw = Agentward::with_sink(Arc::new(log));
            &|n| aw.time_run(n)
        }
        "bare" => {
            bare = Bare::default_engine();
            &|n| bare.time_run(n)
        }
        other => {
            panic!("AGENTWARD_BENCH_PROFILE={other}: use `memory`, `null`, `audit` or `bare`")
        }
    };
    if let Ok(runs) = std::env::var("AGENTWARD_BENCH_PROFILE_RUNS") {
        let runs: u64 = runs
            .parse()
            .expect("AGENTWARD_BENCH_PROFILE_RUNS is a number");
        time_run(calls); // warm-up, outside both loops
        time_run(0);
        let with = profile_loop_with_calls(time_run, runs, calls);
        let without = profile_loop_without_calls(time_run, runs);
        println!(
            "{runs} runs of {calls} calls ({kind}): {}; {runs} runs of none: {}",
            fmt_duration(with),
            fmt_duration(without)
        );
        return;
    }
    let started = Instant::now();
    let mut runs = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        runs.push(time_run(calls));
    }
    let count = runs.len();
    println!(
        "{count} runs of {calls} calls ({kind}), median {} per run",
        fmt_duration(median(&mut runs))
    );
}

#[inline(never)]
fn profile_loop_with_calls(time_run: &dyn Fn(u64) -> Duration, runs: u64, calls: u64) -> Duration {
    (0..runs).map(|_| time_run(black_box(calls))).sum()
}

#[inline(never)]
fn profile_loop_without_calls(time_run: &dyn Fn(u64) -> Duration, runs: u64) -> Duration {
    (0..runs).map(|_| time_run(black_box(0))).sum()
}
