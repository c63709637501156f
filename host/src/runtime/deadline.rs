//! The run's deadline inside WASI's sleeps.
//!
//! `limits.wall_ms` is enforced by epoch interruption, which stops wasm
//! code but cannot reach a host call: a guest in `std::thread::sleep` (a
//! `wasi:clocks/monotonic-clock` subscription, then `wasi:io/poll`) would
//! block in wasmtime-wasi for as long as it asked, with the run's deadline
//! long past. This module shadows the clock's two `subscribe-*` functions:
//! a wait that ends before the deadline is served as before; one that
//! would outlast it lasts until the deadline and then interrupts the run,
//! as the epoch would have, so it ends with the `wall_ms` error (waking the
//! guest early instead would let it run on past its deadline until its next
//! epoch check). Sockets, files and stdin give a role nothing to block on
//! (see [`super::sandbox`]); this was the last such call.

use super::RoleState;
use std::time::Duration;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};

/// The interface as wasmtime-wasi defines it; guests importing an earlier
/// 0.2 release resolve to it too.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Ready at `at` (a run's capped sleep).
struct Until(tokio::time::Instant);

#[wasmtime_wasi::async_trait]
impl Pollable for Until {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await;
    }
}

/// Replaces the clock's subscriptions in `linker` (after WASI is linked).
pub(super) fn add_to_linker(linker: &mut Linker<RoleState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store, (nanos,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state: &mut RoleState = store.data_mut();
            let wait = Duration::from_nanos(nanos);
            Ok((capped(state, wait)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store, (when,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state: &mut RoleState = store.data_mut();
            // `when` is on the clock `now` reads: nanoseconds since the
            // run's sandbox was made.
            let now = state.sandbox.clock_now();
            let wait = Duration::from_nanos(when.saturating_sub(now));
            Ok((capped(state, wait)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A pollable ready after `wait`; or, if the run's deadline comes first,
/// the run interrupted at its deadline.
fn capped(state: &mut RoleState, wait: Duration) -> wasmtime::Result<Resource<DynPollable>> {
    let left = state.calls.deadline.left();
    if wait >= left {
        std::thread::sleep(left);
        return Err(wasmtime::Trap::Interrupt.into());
    }
    let at = tokio::time::Instant::now() + wait;
    let table = state.sandbox.table();
    let pollable = table.push(Until(at))?;
    subscribe(table, pollable)
}
