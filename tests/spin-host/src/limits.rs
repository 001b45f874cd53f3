//! Engine configuration and per-store limits.
//!
//! By default the host behaves like `spin up`: no request deadline and no memory cap beyond wasm32's 4 GiB
//! (Spin sets a store deadline only for its WASIp3 executor or when embedded with
//! `InstanceReuseConfig::single_use_with_request_deadline`, and caps memory only with `--max-instance-memory` /
//! `SPIN_MAX_INSTANCE_MEMORY`). Both are opt-in here, for runs that must bound a runaway component (see the
//! README): a per-request wall-clock deadline (epoch interruption plus a timer for guests parked in a host call)
//! and a per-memory growth cap enforced by a store limiter, as Spin's `StoreLimitsAsync` does.

use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

/// How often the epoch advances; also how often a busy guest yields to other requests.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// wasm32's whole address space: the pooling allocator's per-memory ceiling, as in Spin (`max_memory_size(4 *
/// GB)` in spin-core). The opt-in cap is enforced per store, below it.
const WASM32_MAX_MEMORY: usize = 4 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Opt-in cap on each linear memory of an instance (Spin: `--max-instance-memory`). `None` = like Spin's
    /// default, no cap below 4 GiB.
    pub memory_bytes: Option<usize>,
    /// Opt-in wall-clock budget for one request, including time the guest spends waiting on I/O. `None` = like
    /// `spin up`, a request may run (or hang) forever.
    pub request_timeout: Option<Duration>,
    /// Instances that can be alive at once (pooling allocator slots).
    pub max_instances: u32,
}

impl Default for Limits {
    /// What `spin up` does: no deadline, no memory cap.
    fn default() -> Self {
        Limits {
            memory_bytes: None,
            request_timeout: None,
            max_instances: 256,
        }
    }
}

/// The error a store raises when its request ran past the (opt-in) deadline.
#[derive(Debug, thiserror::Error)]
#[error("request exceeded its {0:?} deadline")]
pub struct DeadlineExceeded(pub Duration);

pub fn engine(limits: &Limits) -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    let instances = limits.max_instances;
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(WASM32_MAX_MEMORY);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// The store limiter for one request: `memory_bytes` caps each memory's growth (`memory.grow` fails, the guest's
/// allocator then aborts), as Spin's `StoreLimitsAsync` does with `--max-instance-memory`.
pub fn store_limits(limits: &Limits) -> wasmtime::StoreLimits {
    let mut builder = wasmtime::StoreLimitsBuilder::new();
    if let Some(bytes) = limits.memory_bytes {
        builder = builder.memory_size(bytes);
    }
    builder.build()
}

/// Arms a fresh store: the guest yields every tick, and, when `timeout` is set, traps once it has passed.
pub fn arm<T: 'static>(store: &mut Store<T>, timeout: Option<Duration>) {
    let deadline = timeout.map(|timeout| (Instant::now() + timeout, timeout));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| match deadline {
        Some((at, timeout)) if Instant::now() >= at => {
            Err(wasmtime::Error::new(DeadlineExceeded(timeout)))
        }
        _ => Ok(UpdateDeadline::Yield(1)),
    });
}

/// Advances the engine's epoch on a background thread until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
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
