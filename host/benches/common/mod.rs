//! What both benchmark targets share: the agentward side (a `Host` running
//! the `bench-call-loop` guest as the researcher role), the bare-wasmtime side
//! (the same component, a plain linker, `log` as a no-op `func_wrap`), and the
//! sinks the mediated calls are recorded into.
//!
//! The guest (tests/guests/bench-call-loop) calls `log.log(info, "x")` N times,
//! N being its task input, so `t(N) - t(0)` over N is the cost of one host
//! call with the instantiation around it taken out.

#![allow(dead_code)] // each bench target uses a different part

use agentward::audit::{CallEvent, CallRecord, EventSink, MemorySink, Redactor, SinkError};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{artifacts, Host, HostConfig, PreparedRole};
use agentward::store::MemoryStore;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentType, InstancePre, Lift, Linker, Lower, ResourceTable,
};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Host calls per measured run: large enough that instantiation is noise.
pub const CALLS: u64 = 100_000;

/// Every call of a run is recorded, not refused past the `log` grant's
/// default of 1 000 messages a run: what is measured is a recorded call.
const MAX_MESSAGES: u64 = 1 << 40;

/// The role the benchmark guest runs as; any role with a `log` grant would do.
pub const ROLE: RoleName = RoleName::Researcher;

pub fn call_loop_component() -> PathBuf {
    artifacts::built_component("bench-call-loop")
}

pub fn planner_component() -> PathBuf {
    artifacts::built_component("planner")
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n  fix: `cargo build` builds the guest components (host/build.rs)",
            path.display()
        )
    })
}

/// Discards every event: what mediation costs without any storage behind it.
pub struct NullSink;

impl EventSink for NullSink {
    fn record(&self, _event: &CallEvent) -> Result<(), SinkError> {
        Ok(())
    }

    fn record_call(&self, _call: &CallRecord) -> Result<(), SinkError> {
        Ok(())
    }

    fn record_later(&self, _call: CallRecord) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A [`MemorySink`] that can be swapped for an empty one between runs.
///
/// A host keeps its sink for life, and a plain `MemorySink` would hold every
/// event of every benchmark run (100 000 per run): the benchmark would end up
/// measuring the growth of a multi-gigabyte `Vec`. Each run instead records
/// into a fresh `MemorySink`, and the full one is dropped (or kept, see
/// [`Agentward::time_run_keeping`]) outside the timed region. The cost this
/// adds to each `record` is one uncontended lock.
#[derive(Default)]
pub struct FreshMemorySink {
    current: Mutex<Arc<MemorySink>>,
}

impl FreshMemorySink {
    /// Starts an empty `MemorySink`, handing back the previous one so the
    /// caller can drop it when it is not timing anything.
    pub fn reset(&self) -> Arc<MemorySink> {
        std::mem::replace(
            &mut *self.current.lock().unwrap(),
            Arc::new(MemorySink::new()),
        )
    }
}

impl EventSink for FreshMemorySink {
    fn record(&self, event: &CallEvent) -> Result<(), SinkError> {
        self.current.lock().unwrap().record(event)
    }
}

/// Which sink an agentward host records into.
#[derive(Clone, Copy, Debug)]
pub enum SinkKind {
    Memory,
    Null,
}

/// agentward's side: a `Host` with the benchmark guest prepared once.
pub struct Agentward {
    pub host: Host,
    pub prepared: PreparedRole,
    /// Set for [`SinkKind::Memory`]: reset before each run.
    pub memory: Option<Arc<FreshMemorySink>>,
}

impl Agentward {
    pub fn new(sink: SinkKind) -> Agentward {
        let memory = matches!(sink, SinkKind::Memory).then(|| Arc::new(FreshMemorySink::default()));
        let events: Arc<dyn EventSink> = match &memory {
            Some(memory) => memory.clone(),
            None => Arc::new(NullSink),
        };
        let mut aw = Agentward::with_sink(events);
        aw.memory = memory;
        aw
    }

    /// A host recording into `events` (e.g. a real `AuditLog`).
    pub fn with_sink(events: Arc<dyn EventSink>) -> Agentward {
        let mut config = HostConfig::new(std::env::temp_dir());
        // Under valgrind the default pool's address-space reservation
        // (~8 GiB per slot) does not fit: scripts/bench.sh sets 1 slot.
        if let Ok(slots) = std::env::var("AGENTWARD_BENCH_POOL_SLOTS") {
            config.max_concurrent_roles = slots.parse().expect("AGENTWARD_BENCH_POOL_SLOTS");
        }
        let host = Host::new(
            config,
            events,
            Arc::new(MemoryStore::new()),
            Arc::new(Redactor::new([42; 32])),
        )
        .expect("agentward host");
        let policy = Policy::parse(
            Path::new("bench.toml"),
            &format!(
                "[roles.{ROLE}]\ncomponent = \"bench-call-loop\"\n\
                 limits = {{ fuel = 10_000_000_000, wall_ms = 120_000 }}\n\n\
                 [roles.{ROLE}.grants]\nlog = {{ max_messages = {MAX_MESSAGES} }}\n"
            ),
            Path::new("."),
        )
        .expect("benchmark policy");
        let prepared = host
            .prepare(&policy, ROLE)
            .expect("benchmark role prepares");
        Agentward {
            host,
            prepared,
            memory: None,
        }
    }

    /// One `Host::run` with `calls` host calls: instantiate in the pool, run,
    /// classify and scrub the outcome.
    pub fn run(&self, calls: u64) {
        let outcome = self
            .host
            .run(
                &self.prepared,
                &Task {
                    change_id: "01JBENCH000000000000000000".into(),
                    input: calls.to_string(),
                },
            )
            .expect("benchmark guest runs");
        assert_eq!(outcome.report.output, calls.to_string());
    }

    /// Times one run; the events of the previous run are dropped first,
    /// outside the timed region, so the allocator hands their memory to
    /// this run's events.
    pub fn time_run(&self, calls: u64) -> Duration {
        if let Some(memory) = &self.memory {
            drop(memory.reset());
        }
        let started = Instant::now();
        self.run(calls);
        started.elapsed()
    }

    /// Times one run with the events of earlier runs kept in `kept`, so
    /// this run's events land in memory never touched before, as in a
    /// one-shot CLI run whose `MemorySink` only grows.
    pub fn time_run_keeping(&self, calls: u64, kept: &mut Vec<Arc<MemorySink>>) -> Duration {
        if let Some(memory) = &self.memory {
            kept.push(memory.reset());
        }
        let started = Instant::now();
        self.run(calls);
        started.elapsed()
    }
}

/// `agentward:host/log@0.1.1`'s `level`, for the bare linker.
#[derive(ComponentType, Lift, Clone, Copy, Debug)]
#[component(enum)]
#[repr(u8)]
pub enum Level {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

/// `agentward:host/agent@0.1.1`'s `task`.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct BareTask {
    #[component(name = "change-id")]
    pub change_id: String,
    pub input: String,
}

/// `agentward:host/agent@0.1.1`'s `report`.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct BareReport {
    pub summary: String,
    pub output: String,
}

pub struct BareState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Bare wasmtime: WASI p2 linked whole, `log` a no-op `func_wrap` (it still
/// lifts its arguments, as any host function must), the component
/// pre-instantiated once like agentward's `PreparedRole`. A run is a new
/// `Store` with an empty `WasiCtx`, `instantiate`, and a typed call of
/// `agent.run`: no fuel, no limiter, no output capture, no audit.
pub struct Bare {
    engine: Engine,
    pre: InstancePre<BareState>,
    run_export: ComponentExportIndex,
    /// Engines with fuel or epochs on (agentward's) need a budget per store.
    budgets: bool,
}

impl Bare {
    /// On a plain `Engine::default()`: no pooling, no fuel, no epochs.
    pub fn default_engine() -> Bare {
        let engine = Engine::default();
        let component =
            Component::new(&engine, read(&call_loop_component())).expect("component compiles");
        Bare::new(engine, &component, false)
    }

    /// On agentward's own engine (pooling, fuel, epochs), with the component
    /// agentward compiled: separates what the engine configuration costs
    /// from what mediation costs.
    pub fn on_agentward_engine(host: &Host) -> Bare {
        let loaded = host.load(&call_loop_component()).expect("component loads");
        Bare::new(host.engine().clone(), &loaded.component, true)
    }

    fn new(engine: Engine, component: &Component, budgets: bool) -> Bare {
        let mut linker = Linker::<BareState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("wasi links");
        linker
            .instance("agentward:host/log@0.1.1")
            .expect("log instance")
            .func_wrap(
                "log",
                |_store, (_level, _message): (Level, String)| -> wasmtime::Result<()> { Ok(()) },
            )
            .expect("log stub links");
        let pre = linker
            .instantiate_pre(component)
            .expect("bench-call-loop links against WASI and log alone");
        let agent = component
            .get_export_index(None, "agentward:host/agent@0.1.1")
            .expect("agent export");
        let run_export = component
            .get_export_index(Some(&agent), "run")
            .expect("agent.run export");
        Bare {
            engine,
            pre,
            run_export,
            budgets,
        }
    }

    pub fn run(&self, calls: u64) {
        let state = BareState {
            ctx: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        if self.budgets {
            store.set_fuel(u64::MAX).expect("fuel is on");
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let instance = self.pre.instantiate(&mut store).expect("instantiates");
        let run = instance
            .get_typed_func::<(BareTask,), (Result<BareReport, String>,)>(
                &mut store,
                &self.run_export,
            )
            .expect("agent.run has the expected type");
        let (result,) = run
            .call(
                &mut store,
                (BareTask {
                    change_id: "01JBENCH000000000000000000".into(),
                    input: calls.to_string(),
                },),
            )
            .expect("guest runs");
        let report = result.expect("guest succeeds");
        assert_eq!(report.output, calls.to_string());
    }

    pub fn time_run(&self, calls: u64) -> Duration {
        let started = Instant::now();
        self.run(calls);
        started.elapsed()
    }
}

/// Minor page faults of this process so far (Linux; 0 elsewhere).
pub fn minor_faults() -> u64 {
    // /proc/self/stat: "pid (comm) state ppid ...", minflt is field 10; comm
    // may hold spaces, so count from the closing parenthesis.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split(' ').nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [Duration]) -> Duration {
    assert!(!samples.is_empty());
    samples.sort();
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2
    }
}

/// Per-call cost from paired medians: `(t(N) - t(0)) / N`.
pub fn per_call(with_calls: Duration, without: Duration, calls: u64) -> Duration {
    Duration::from_secs_f64(with_calls.saturating_sub(without).as_secs_f64() / calls as f64)
}

/// A duration in the unit that keeps three significant figures readable.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `subject / baseline`, as `12.3×`.
pub fn ratio(subject: Duration, baseline: Duration) -> String {
    let x = subject.as_secs_f64() / baseline.as_secs_f64().max(1e-12);
    if x >= 100.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.1}×")
    }
}
