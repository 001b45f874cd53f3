//! The shared simulator core handed to every handler.

use crate::config::SimConfig;
use crate::faults::FaultState;
use crate::lifecycle;
use crate::rate_limit::RateLimiter;
use crate::request_log::RequestLog;
use crate::state::SimState;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

pub struct Sim {
    pub config: SimConfig,
    pub state: Mutex<SimState>,
    pub faults: Mutex<FaultState>,
    pub limiter: Mutex<RateLimiter>,
    pub log: Mutex<RequestLog>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Self {
        Sim {
            state: Mutex::new(SimState::new(
                config.foreign_apps.clone(),
                config.faults.seed,
            )),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            limiter: Mutex::new(RateLimiter::new(config.rate_limits.clone())),
            log: Mutex::new(RequestLog::default()),
            config,
        }
    }

    /// The world with all due lifecycle transitions applied. Never hold it across an await.
    pub fn world(&self) -> MutexGuard<'_, SimState> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        lifecycle::advance(&mut state, Instant::now(), &self.config, &faults.settings);
        state
    }

    /// The world with due transitions applied to one app only (O(app) per call): for handlers that
    /// touch a single app. Never hold it across an await.
    pub fn world_for(&self, app: &str) -> MutexGuard<'_, SimState> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        lifecycle::advance_app(
            &mut state,
            app,
            Instant::now(),
            &self.config,
            &faults.settings,
        );
        state
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forget everything (processes are killed as their records drop); faults back to the config's.
    pub fn reset(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
            SimState::new(self.config.foreign_apps.clone(), self.config.faults.seed);
        *self.faults() = FaultState::new(self.config.faults.clone());
        self.limiter().reset();
        *self.log() = RequestLog::default();
    }
}
