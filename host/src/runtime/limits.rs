//! Per-role resource limits and how a run that hits one is told apart.
//!
//! Every limit that stops a guest leaves a marker here (a flag, a trap
//! code), so the caller gets "role X hit its memory limit of 64 MiB" rather
//! than a bare `unreachable` trap from deep inside the guest's allocator.

use crate::policy::error_fix;
use bytes::Bytes;
use serde::Deserialize;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// The most memory any role may be given: the pooling allocator reserves
/// slots of this size.
pub const MAX_MEMORY_MIB: u64 = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawLimits")]
pub struct Limits {
    /// Wasm fuel: roughly one unit per instruction. Deterministic CPU cap.
    pub fuel: u64,
    /// Wall-clock deadline for the whole run, host calls included.
    pub wall_ms: u64,
    pub memory_mib: u64,
    /// Cap on each of stdout, stderr and the report.
    pub output_bytes: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default = "default_fuel")]
    fuel: u64,
    #[serde(default = "default_wall_ms")]
    wall_ms: u64,
    #[serde(default = "default_memory_mib")]
    memory_mib: u64,
    #[serde(default = "default_output_bytes")]
    output_bytes: usize,
}

fn default_fuel() -> u64 {
    2_000_000_000
}
fn default_wall_ms() -> u64 {
    10_000
}
fn default_memory_mib() -> u64 {
    64
}
fn default_output_bytes() -> usize {
    64 * 1024
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: default_fuel(),
            wall_ms: default_wall_ms(),
            memory_mib: default_memory_mib(),
            output_bytes: default_output_bytes(),
        }
    }
}

impl TryFrom<RawLimits> for Limits {
    type Error = String;

    fn try_from(raw: RawLimits) -> Result<Self, String> {
        if raw.memory_mib == 0 || raw.memory_mib > MAX_MEMORY_MIB {
            return Err(error_fix(
                format!("memory_mib = {} is out of range", raw.memory_mib),
                &format!("set memory_mib between 1 and {MAX_MEMORY_MIB}"),
            ));
        }
        if raw.fuel == 0 || raw.wall_ms == 0 {
            return Err(error_fix(
                "fuel and wall_ms must be positive".into(),
                "omit them for the defaults (fuel = 2000000000, wall_ms = 10000)",
            ));
        }
        Ok(Limits {
            fuel: raw.fuel,
            wall_ms: raw.wall_ms,
            memory_mib: raw.memory_mib,
            output_bytes: raw.output_bytes,
        })
    }
}

/// Which limit stopped a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitHit {
    Fuel {
        limit: u64,
    },
    WallClock {
        limit_ms: u64,
    },
    Memory {
        limit_mib: u64,
        requested_bytes: usize,
    },
    Stack {
        limit_bytes: usize,
    },
    /// The guest's own stack, in its linear memory, ran out: its size is
    /// fixed when the component is built, so no host limit names it.
    GuestStack {
        /// The function recursing, by name where the component kept names.
        function: String,
        /// Not shown in the message; [`super::RunError::backtrace`].
        backtrace: String,
    },
    Output {
        stream: &'static str,
        limit_bytes: usize,
    },
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Fuel { limit } => {
                write!(f, "its fuel limit (limits.fuel = {limit}) ran out")
            }
            LimitHit::WallClock { limit_ms } => {
                write!(f, "its wall-clock deadline (limits.wall_ms = {limit_ms}) passed")
            }
            LimitHit::Memory { limit_mib, requested_bytes } => write!(
                f,
                "it asked for {} MiB of memory, over its limit (limits.memory_mib = {limit_mib})",
                requested_bytes.div_ceil(1024 * 1024)
            ),
            LimitHit::Stack { limit_bytes } => write!(
                f,
                "it overflowed the wasm stack ({} KiB, the host's max_wasm_stack)",
                limit_bytes / 1024
            ),
            LimitHit::GuestStack { function, .. } => write!(
                f,
                "it overflowed its own stack in linear memory, recursing in {function} (that stack's size is set when the component is built, e.g. `-C link-arg=-zstack-size=N` for Rust; look for unbounded recursion)"
            ),
            LimitHit::Output { stream, limit_bytes } => write!(
                f,
                "it wrote more than {limit_bytes} bytes to {stream} (limits.output_bytes = {limit_bytes})"
            ),
        }
    }
}

/// Enforces the memory cap and remembers that it did.
pub(crate) struct RoleLimiter {
    limit_bytes: usize,
    pub(crate) memory_hit: Option<usize>,
}

impl RoleLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        RoleLimiter {
            limit_bytes: (limits.memory_mib * 1024 * 1024) as usize,
            memory_hit: None,
        }
    }
}

impl ResourceLimiter for RoleLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.memory_hit = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A captured stdout or stderr with a byte cap. Writing past the cap traps
/// the guest and sets a flag, so the run ends with a named limit.
#[derive(Clone)]
pub(crate) struct CappedOutput {
    pipe: MemoryOutputPipe,
    overflowed: Arc<AtomicBool>,
}

impl CappedOutput {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        CappedOutput {
            pipe: MemoryOutputPipe::new(limit_bytes),
            overflowed: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub(crate) fn contents(&self) -> Bytes {
        self.pipe.contents()
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASI 0.3 guests use this path; the pipe truncates at the cap.
        Box::new(self.pipe.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        let result = self.pipe.write(bytes);
        if result.is_err() {
            self.overflowed.store(true, Ordering::Relaxed);
        }
        result
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        self.pipe.flush()
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        let result = self.pipe.check_write();
        if result.is_err() {
            self.overflowed.store(true, Ordering::Relaxed);
        }
        result
    }
}

#[async_trait::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}
