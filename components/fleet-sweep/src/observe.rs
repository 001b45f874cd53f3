//! Observing one app: one list-machines call (state, checks, image, instance) and, when a machine is
//! started, one probe of the screener's `/health`. A 429 waits out its `Retry-After` when the budget allows;
//! it never fails the sweep.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_reconcile::observe::observed_machine;
use fleet_reconcile::probe_token;
use fleet_reconcile::{Clock, MachineState, ObservedApp};
use fleet_store::AppRow;
use fly_api::types::{ListMachines, Machine};
use fly_api::{AppName, ErrorClass, FlyClient, Secret, Transport};

use crate::config::SweepConfig;
use crate::health::{MachineChecks, Observation};
use crate::probe::{probe_health, ProbeResult};

/// Attempts of the list call before the app is left for the next sweep.
const LIST_ATTEMPTS: u32 = 4;

/// How observing one app ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    Seen(Observation),
    /// Fly did not answer usefully; the row stays due for the next sweep.
    Failed {
        error: String,
        rate_limited: bool,
        /// Fly's `Retry-After` on a 429.
        retry_after: Option<Duration>,
    },
    /// The budget ran out before the app could be looked at.
    OutOfTime,
}

/// Everything observation needs, shared by the concurrent observations of one sweep.
pub struct Observer<'a, T, P, K> {
    pub fly: &'a FlyClient<T>,
    pub probe: &'a P,
    pub clock: &'a K,
    pub config: &'a SweepConfig,
    /// The key of the apps' probe tokens (`probe_key`); `None`: probes carry no token.
    pub probe_token: Option<Secret<String>>,
    pub deadline: DateTime<Utc>,
}

impl<T: Transport, P: Transport, K: Clock> Observer<'_, T, P, K> {
    pub async fn observe(&self, row: &AppRow) -> Observed {
        if self.clock.now() >= self.deadline {
            return Observed::OutOfTime;
        }
        let Some(name) = row.fly_app_name.as_deref() else {
            // No name yet (a lost provision webhook): nothing to ask Fly.
            return Observed::Seen(Observation {
                app: ObservedApp::NotLooked,
                checks: Vec::new(),
                probe: ProbeResult::NotProbed,
            });
        };
        let app = match AppName::parse(name) {
            Ok(app) => app,
            Err(e) => {
                return Observed::Failed {
                    error: format!("stored app name is invalid: {e}"),
                    rate_limited: false,
                    retry_after: None,
                }
            }
        };
        let machines = match self.list_machines(&app).await {
            Ok(Some(machines)) => machines,
            Ok(None) => {
                return Observed::Seen(Observation {
                    app: ObservedApp::Missing,
                    checks: Vec::new(),
                    probe: ProbeResult::NotProbed,
                })
            }
            Err(failed) => return failed,
        };
        let mut observation = Observation {
            app: ObservedApp::Present {
                machines: machines.iter().map(observed_machine).collect(),
            },
            checks: machines.iter().map(machine_checks).collect(),
            probe: ProbeResult::NotProbed,
        };
        let started = observation
            .machine(row.machine_id.as_deref())
            .is_some_and(|m| m.state == MachineState::Started);
        // Without an app URL (the default) Fly's checks on the private port are the health signal.
        if let (true, Some(url)) = (started, self.config.app_url(name)) {
            let token = self.probe_token.as_ref().map(|key| probe_token(key, name));
            observation.probe = probe_health(self.probe, &url, token.as_ref()).await;
        }
        Observed::Seen(observation)
    }

    /// The app's machines, `None` when the app does not exist for us: 404, or 403 (the name belongs to another
    /// organisation), exactly as the reconciler observes it, so the repair moves on to the next name candidate.
    async fn list_machines(&self, app: &AppName) -> Result<Option<Vec<Machine>>, Observed> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.fly.list_machines(app, &ListMachines::default()).await {
                Ok(machines) => return Ok(Some(machines)),
                Err(e) if matches!(e.class, ErrorClass::NotFound | ErrorClass::Forbidden) => {
                    return Ok(None)
                }
                Err(e) => e,
            };
            let retry = retry_wait(&error.class, attempt);
            let failed = || Observed::Failed {
                error: error.to_string(),
                rate_limited: matches!(error.class, ErrorClass::RateLimited { .. }),
                retry_after: match error.class {
                    ErrorClass::RateLimited { retry_after } => retry_after,
                    _ => None,
                },
            };
            // Non-retryable classes are not waited for at all; a wait must end before the deadline.
            let Some(wait) = retry else {
                return Err(failed());
            };
            let fits = fleet_store::time::after(self.clock.now(), wait) < self.deadline;
            if attempt >= LIST_ATTEMPTS || !fits {
                return Err(failed());
            }
            self.clock.sleep(wait).await;
        }
    }
}

/// How long to wait before listing again after `class`, or `None` when repeating the call cannot help.
pub fn retry_wait(class: &ErrorClass, attempt: u32) -> Option<Duration> {
    match class {
        ErrorClass::RateLimited { retry_after } => {
            Some(retry_after.unwrap_or(Duration::from_secs(1)))
        }
        ErrorClass::Transient | ErrorClass::Ambiguous => {
            Some(Duration::from_millis(200).saturating_mul(attempt.max(1)))
        }
        _ => None,
    }
}

/// Fly's checks of one machine, reduced to passing or not (Fly's `bg_deployments_compat*` ignored).
pub fn machine_checks(machine: &Machine) -> MachineChecks {
    MachineChecks {
        machine_id: machine.id.as_str().to_string(),
        instance_id: machine.instance_id.clone(),
        passing: machine.all_checks_passing(),
        failing: machine
            .checks
            .iter()
            .filter(|c| !c.name.starts_with("bg_deployments_compat") && c.status != "passing")
            .map(|c| c.name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A non-retryable answer is never waited for (it used to become `Duration::MAX`, which overflowed
    /// `now + wait` and trapped the health component); only 429s and transient failures wait.
    #[test]
    fn only_rate_limits_and_transient_failures_are_waited_for() {
        for class in [
            ErrorClass::NameTaken,
            ErrorClass::NotFound,
            ErrorClass::Forbidden,
            ErrorClass::Unauthorized,
            ErrorClass::InsufficientCapacity,
            ErrorClass::Invalid,
        ] {
            assert_eq!(retry_wait(&class, 1), None, "{class:?}");
        }
        assert_eq!(
            retry_wait(&ErrorClass::RateLimited { retry_after: None }, 1),
            Some(Duration::from_secs(1))
        );
        let huge = ErrorClass::RateLimited {
            retry_after: Some(Duration::MAX),
        };
        let wait = retry_wait(&huge, 1).unwrap();
        // Whatever the wait, the deadline check saturates instead of overflowing.
        let now = chrono::Utc::now();
        assert_eq!(
            fleet_store::time::after(now, wait),
            fleet_store::time::latest()
        );
        assert_eq!(
            retry_wait(&ErrorClass::Transient, u32::MAX),
            Some(Duration::from_millis(200).saturating_mul(u32::MAX))
        );
    }
}
