//! The sweep's knobs, from the `health` component's variables (or a test's choice).

use std::time::Duration;

/// What to do with an app in Fleet's org and prefix that no live row claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanPolicy {
    /// Record an `orphan_detected` event; touch nothing.
    Report,
    /// Also delete it once it has been an orphan for longer than the grace period.
    Delete,
}

impl OrphanPolicy {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "report" => Ok(OrphanPolicy::Report),
            "delete" => Ok(OrphanPolicy::Delete),
            other => Err(format!(
                "orphan_policy must be report or delete, not {other:?}"
            )),
        }
    }
}

/// How one sweep behaves.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// Active rows whose last check is older than this are due.
    pub check_interval: Duration,
    /// Outbound observations in flight at once.
    pub concurrency: usize,
    /// Wall time the whole sweep may take; work left over is reported as `remaining`.
    pub budget: Duration,
    /// The longest one repair (a reconcile pass) may take.
    pub repair_budget: Duration,
    /// Machines updated to a new image per sweep, at most.
    pub rollout_batch_size: usize,
    /// The rollout halts once more than this fraction of updated machines failed health.
    pub rollout_failure_threshold: f64,
    /// How long an updated machine may take to start and pass its checks.
    pub rollout_wait: Duration,
    pub orphan_policy: OrphanPolicy,
    pub orphan_grace: Duration,
    /// Orphans deleted per sweep, at most; when more are due at once none is deleted and an operator must
    /// confirm (see [`crate::orphan_hold`]).
    pub orphan_delete_cap: usize,
    /// Health may stay critical this long before the sweep restarts (then recreates) the machine.
    pub unhealthy_grace: Duration,
    /// Base URL of a user's app; `{app}` is replaced by the app name. Empty (the default): the sweep does not
    /// probe the screener itself and judges health by the machine's state and Fly's checks, which Fly runs on
    /// the machine's private port. Apps have no public service unless an operator opts in, and each app has
    /// its own 6PN network (created with `network = <app>`), so Fleet reaches `http://{app}.internal:8080`
    /// only from inside that network; set the template where the apps are reachable (a public service, or a
    /// shared network). The probe carries the app's probe token.
    pub app_url_template: String,
    /// Fleet's app name prefix; only apps with it are considered for orphan detection.
    pub app_prefix: String,
    /// Per-tier guests and regions (`None`: every machine gets the provision configuration's size). A
    /// machine whose size differs from its tier's is resized in place, a rollout batch per sweep.
    pub tier_sizes: Option<fleet_reconcile::tier_size::TierSizes>,
    /// Alert thresholds (see [`crate::alerts`]).
    pub alerts: crate::alerts::AlertRules,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            check_interval: Duration::from_secs(300),
            concurrency: 16,
            budget: Duration::from_secs(25),
            repair_budget: Duration::from_secs(20),
            rollout_batch_size: 5,
            rollout_failure_threshold: 0.2,
            rollout_wait: Duration::from_secs(60),
            orphan_policy: OrphanPolicy::Report,
            orphan_grace: Duration::from_secs(24 * 3600),
            orphan_delete_cap: 5,
            unhealthy_grace: Duration::from_secs(600),
            app_url_template: String::new(),
            app_prefix: format!("{}-", fly_api::naming::APP_PREFIX),
            tier_sizes: None,
            alerts: crate::alerts::AlertRules::default(),
        }
    }
}

impl SweepConfig {
    /// The app's base URL from the template; `None` when the sweep does not probe screeners.
    pub fn app_url(&self, app: &str) -> Option<String> {
        if self.app_url_template.trim().is_empty() {
            return None;
        }
        Some(
            self.app_url_template
                .replace("{app}", app)
                .trim_end_matches('/')
                .to_string(),
        )
    }

    /// Rows claimed per round: enough to keep every observation slot busy, few enough that rows left
    /// when the budget runs out are not held by our lease.
    pub fn claim_batch(&self) -> u32 {
        (self.concurrency.max(1) * 4).clamp(8, 256) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_url_fills_the_template() {
        let config = SweepConfig::default();
        assert_eq!(
            config.app_url("vyx-user-1a2b3c4d"),
            None,
            "no probe by default"
        );
        let private = SweepConfig {
            app_url_template: "http://{app}.internal:8080".into(),
            ..SweepConfig::default()
        };
        assert_eq!(
            private.app_url("vyx-user-1a2b3c4d").as_deref(),
            Some("http://vyx-user-1a2b3c4d.internal:8080")
        );
        let local = SweepConfig {
            app_url_template: "http://127.0.0.1:9000/apps/{app}/".into(),
            ..SweepConfig::default()
        };
        assert_eq!(
            local.app_url("a").as_deref(),
            Some("http://127.0.0.1:9000/apps/a")
        );
    }

    #[test]
    fn orphan_policy_parses_only_known_values() {
        assert_eq!(OrphanPolicy::parse("report"), Ok(OrphanPolicy::Report));
        assert_eq!(OrphanPolicy::parse(" delete "), Ok(OrphanPolicy::Delete));
        assert!(OrphanPolicy::parse("remove").is_err());
    }
}
