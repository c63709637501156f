//! The WASI context a role runs in: no ambient authority at all.
//!
//! `WasiCtxBuilder` starts empty — no preopened directories, no environment,
//! no arguments, no network — and this module keeps it that way, adding only
//! the capped capture of stdout and stderr. Socket calls therefore fail with
//! access-denied, file opens find no directory, `env::vars()` is empty.

use super::limits::CappedOutput;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostMonotonicClock, WasiCtx, WasiCtxBuilder, WasiCtxView};

pub(crate) struct Sandbox {
    ctx: WasiCtx,
    table: ResourceTable,
    /// Zero of the run's monotonic clock (see [`SinceStart`]).
    started: std::time::Instant,
}

/// The monotonic clock a role reads: nanoseconds since its sandbox was
/// made, so that the host can turn a `subscribe-instant` into a wait
/// ([`super::deadline`]).
struct SinceStart(std::time::Instant);

impl wasmtime_wasi::HostMonotonicClock for SinceStart {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

impl Sandbox {
    pub(crate) fn new(stdout: &CappedOutput, stderr: &CappedOutput) -> Self {
        let started = std::time::Instant::now();
        let ctx = WasiCtxBuilder::new()
            .monotonic_clock(SinceStart(started))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        Sandbox {
            ctx,
            table: ResourceTable::new(),
            started,
        }
    }

    /// What the role's monotonic clock reads now.
    pub(crate) fn clock_now(&self) -> u64 {
        SinceStart(self.started).now()
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    pub(crate) fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}
