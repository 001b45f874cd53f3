//! Memory and work accounting shared by the engine's allocator, its interrupt handler and the worker.
//!
//! QuickJS's own `set_memory_limit` needs an expensive heap walk to learn the current usage; counting in our
//! allocator makes "the evaluation may allocate `memory_bytes` beyond what exists when it starts" cheap.

use rquickjs::allocator::{Allocator, RustAllocator};
use std::cell::Cell;
use std::rc::Rc;

/// Work units charged per interrupt-handler call: QuickJS calls the handler once every 10 000 polls (function
/// calls and backward jumps), so one unit is roughly one interpreted call or loop iteration.
pub const UNITS_PER_TICK: u64 = 10_000;
/// Work units charged per promise job (an `await` resumption or a `.then` callback).
pub const UNITS_PER_JOB: u64 = 100;

#[derive(Default)]
pub struct Meter {
    pub used_bytes: Cell<usize>,
    pub limit_bytes: Cell<usize>,
    /// Set when an allocation was refused since the last `start`.
    pub denied: Cell<bool>,
    pub fuel_used: Cell<u64>,
    pub fuel_limit: Cell<u64>,
    pub fuel_exceeded: Cell<bool>,
    /// While set, every interrupt poll stops the running code (used to discard leftover jobs).
    pub kill: Cell<bool>,
    /// Bytes allocated since `start` for values shared by every program of the close (a converted series, a
    /// cached indicator's arrays): not part of what the running program keeps.
    pub shared_bytes: Cell<isize>,
}

impl Meter {
    pub fn unlimited() -> Rc<Meter> {
        let m = Meter::default();
        m.limit_bytes.set(usize::MAX);
        m.fuel_limit.set(u64::MAX);
        Rc::new(m)
    }

    /// Opens an evaluation: `memory_bytes` on top of what is allocated now, `fuel` units of work.
    pub fn start(&self, memory_bytes: usize, fuel: u64) {
        self.limit_bytes
            .set(self.used_bytes.get().saturating_add(memory_bytes));
        self.denied.set(false);
        self.fuel_used.set(0);
        self.fuel_limit.set(fuel);
        self.fuel_exceeded.set(false);
        self.shared_bytes.set(0);
    }

    /// Runs `f`, which builds shared values, recording what it allocated as shared.
    pub fn share<T>(&self, f: impl FnOnce() -> T) -> T {
        let before = self.used_bytes.get() as isize;
        let out = f();
        let grown = self.used_bytes.get() as isize - before;
        self.shared_bytes.set(self.shared_bytes.get() + grown);
        out
    }

    /// Closes an evaluation: the worker's own bookkeeping (shared data, compiling) is not limited.
    pub fn stop(&self) {
        self.limit_bytes.set(usize::MAX);
        self.fuel_limit.set(u64::MAX);
    }

    /// Charges work; true once the limit is exceeded.
    pub fn charge(&self, units: u64) -> bool {
        let used = self.fuel_used.get().saturating_add(units);
        self.fuel_used.set(used);
        if used > self.fuel_limit.get() {
            self.fuel_exceeded.set(true);
        }
        self.fuel_exceeded.get()
    }

    /// The interrupt handler: true stops the running code with an uncatchable error.
    pub fn interrupt(&self) -> bool {
        self.kill.get() || self.charge(UNITS_PER_TICK)
    }

    fn admit(&self, extra: usize) -> bool {
        let ok = self.used_bytes.get().saturating_add(extra) <= self.limit_bytes.get();
        if !ok {
            self.denied.set(true);
        }
        ok
    }
}

/// The Rust global allocator, counting bytes and refusing to grow beyond the meter's limit.
pub struct MeteredAllocator(pub Rc<Meter>);

unsafe impl Allocator for MeteredAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.0.admit(size) {
            return std::ptr::null_mut();
        }
        let p = RustAllocator.alloc(size);
        if !p.is_null() {
            self.add(p);
        }
        p
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        if !self.0.admit(count.saturating_mul(size)) {
            return std::ptr::null_mut();
        }
        let p = RustAllocator.calloc(count, size);
        if !p.is_null() {
            self.add(p);
        }
        p
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        self.sub(ptr);
        RustAllocator.dealloc(ptr);
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        let old = RustAllocator::usable_size(ptr);
        if new_size > old && !self.0.admit(new_size - old) {
            return std::ptr::null_mut();
        }
        let p = RustAllocator.realloc(ptr, new_size);
        if !p.is_null() {
            let new = RustAllocator::usable_size(p);
            let used = &self.0.used_bytes;
            used.set(used.get() - old + new);
        }
        p
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        RustAllocator::usable_size(ptr)
    }
}

impl MeteredAllocator {
    fn add(&self, p: *mut u8) {
        let n = unsafe { RustAllocator::usable_size(p) };
        self.0.used_bytes.set(self.0.used_bytes.get() + n);
    }

    unsafe fn sub(&self, p: *mut u8) {
        let n = RustAllocator::usable_size(p);
        self.0
            .used_bytes
            .set(self.0.used_bytes.get().saturating_sub(n));
    }
}
