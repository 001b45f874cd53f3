//! Engine configuration and per-store limits: the pooling allocator, a memory cap, and an epoch-based deadline so a
//! runaway component is stopped (and answered with a 500) instead of hanging the host.

use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

/// How often the epoch advances; also how often a busy guest yields to other requests.
const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory per instance.
    pub memory_bytes: usize,
    /// Wall-clock budget for one request, including time the guest spends waiting on I/O.
    pub request_timeout: Duration,
    /// Instances that can be alive at once (pooling allocator slots).
    pub max_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            request_timeout: Duration::from_secs(30),
            max_instances: 256,
        }
    }
}

/// The error a store raises when its request ran past the deadline.
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
        .max_memory_size(limits.memory_bytes);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Arms a fresh store: the guest yields every tick and traps once `timeout` has passed.
pub fn arm<T: 'static>(store: &mut Store<T>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(DeadlineExceeded(timeout)))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
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
