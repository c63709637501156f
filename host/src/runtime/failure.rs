//! How a run that failed inside the engine is told apart: which limit
//! stopped it, or what trapped, in one line that names the limit.
//!
//! The engine reports a guest that ran out of its own stack — the shadow
//! stack that Rust and C keep in linear memory, below the engine's own — as
//! a bare "out of bounds memory access" under a backtrace of the same
//! function twenty times. A memory fault whose innermost frames are one
//! function recursing is reported as that stack running out; the backtrace
//! is kept apart from the message, for `--verbose`.

use super::limits::RoleLimiter;
use super::{LimitHit, Limits, RunError, MAX_WASM_STACK};
use crate::capabilities::CallContext;
use crate::policy::RoleName;
use wasmtime::{Trap, WasmBacktrace};

/// Innermost frames that must mostly be one function for a memory fault
/// to read as recursion (the engine keeps 20 frames of a backtrace).
const RECURSION_FRAMES: usize = 16;

pub(super) fn classify(
    role: RoleName,
    limits: &Limits,
    limiter: &RoleLimiter,
    error: wasmtime::Error,
    calls: &CallContext,
) -> RunError {
    let limit = |limit| RunError::Limit { role, limit };
    if let Some(requested_bytes) = limiter.memory_hit {
        return limit(LimitHit::Memory {
            limit_mib: limits.memory_mib,
            requested_bytes,
        });
    }
    let backtrace = error.downcast_ref::<WasmBacktrace>();
    let trap = error.downcast_ref::<Trap>();
    match trap {
        Some(Trap::OutOfFuel) => return limit(LimitHit::Fuel { limit: limits.fuel }),
        Some(Trap::Interrupt) => {
            return limit(LimitHit::WallClock {
                limit_ms: limits.wall_ms,
            })
        }
        Some(Trap::StackOverflow) => {
            return limit(LimitHit::Stack {
                limit_bytes: MAX_WASM_STACK,
            })
        }
        Some(Trap::MemoryOutOfBounds) => {
            if let Some((backtrace, function)) = backtrace.and_then(|b| Some((b, recursing(b)?))) {
                return limit(LimitHit::GuestStack {
                    function,
                    backtrace: calls.scrub(&backtrace.to_string()),
                });
            }
        }
        _ => {}
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return RunError::Guest {
            role,
            message: format!(
                "exited with status {} instead of returning a report",
                exit.0
            ),
        };
    }
    match trap {
        Some(trap) => RunError::Trap {
            role,
            message: format!("wasm trap: {trap}"),
            backtrace: backtrace.map(|b| calls.scrub(&b.to_string())),
        },
        None => RunError::Instantiate {
            role,
            message: calls.scrub(&format!("{error:#}")),
        },
    }
}

/// The function that fills the innermost frames of `backtrace`, if one does.
fn recursing(backtrace: &WasmBacktrace) -> Option<String> {
    let frames = backtrace.frames();
    let window = frames.get(..RECURSION_FRAMES)?;
    let counted = |index: u32| window.iter().filter(|f| f.func_index() == index).count();
    let frame = window
        .iter()
        .max_by_key(|f| counted(f.func_index()))
        .filter(|f| counted(f.func_index()) * 4 >= RECURSION_FRAMES * 3)?;
    Some(match frame.func_name() {
        Some(name) => format!("`{name}`"),
        None => format!("wasm function {}", frame.func_index()),
    })
}
