//! The wasmtime engine agentward runs every role on.
//!
//! Fuel gives a deterministic CPU cap, epochs a wall-clock one (host calls
//! included); the pooling allocator makes instantiation a slot reuse rather
//! than an mmap, which matters when a rotation runs thousands of role steps.

use super::limits::MAX_MEMORY_MIB;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the resolution of `wall_ms`.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasm stack available to a guest before it traps with a stack overflow.
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// Core instances and tables one component may need: the main module plus
/// the shims `wit-component` adds.
const CORE_INSTANCES_PER_ROLE: u32 = 16;

pub(crate) fn new_engine(max_concurrent_roles: u32) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_concurrent_roles)
        .total_core_instances(max_concurrent_roles * CORE_INSTANCES_PER_ROLE)
        .total_memories(max_concurrent_roles * 2)
        .total_tables(max_concurrent_roles * CORE_INSTANCES_PER_ROLE)
        // One stack slot per role: wasmtime's default of 1,000 costs a
        // thousand guard-page mprotects at every process start.
        .total_stacks(max_concurrent_roles)
        .max_memory_size((MAX_MEMORY_MIB * 1024 * 1024) as usize);
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("agentward-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .expect("spawning the epoch thread")
        };
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
