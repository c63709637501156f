//! The WASI context a role runs in: no ambient authority at all.
//!
//! `WasiCtxBuilder` starts empty — no preopened directories, no environment,
//! no arguments, no network — and this module keeps it that way, adding only
//! the capped capture of stdout and stderr. Socket calls therefore fail with
//! access-denied, file opens find no directory, `env::vars()` is empty.

use super::limits::CappedOutput;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView};

pub(crate) struct Sandbox {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl Sandbox {
    pub(crate) fn new(stdout: &CappedOutput, stderr: &CappedOutput) -> Self {
        let ctx = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        Sandbox {
            ctx,
            table: ResourceTable::new(),
        }
    }

    pub(crate) fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}
