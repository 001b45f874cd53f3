//! The sweep's variables.

use std::time::Duration;

use fleet_http::ApiError;
use fleet_spin_runtime::settings::optional;
use fleet_sweep::{OrphanPolicy, SweepConfig};

pub(crate) fn config_error(variable: &str, problem: &str) -> ApiError {
    ApiError::new(
        500,
        "configuration",
        format!("variable {variable}: {problem}"),
    )
}

pub(crate) fn number<T: std::str::FromStr>(name: &str, default: &str) -> Result<T, ApiError> {
    optional(name, default)
        .trim()
        .parse()
        .map_err(|_| config_error(name, "is not a number"))
}

fn secs(name: &str, default: &str) -> Result<Duration, ApiError> {
    Ok(Duration::from_secs(number(name, default)?))
}

/// The sweep's configuration from the component's variables (defaults as in spin.toml).
pub fn sweep_config() -> Result<SweepConfig, ApiError> {
    let threshold: f64 = number("rollout_failure_threshold", "0.2")?;
    if !(0.0..=1.0).contains(&threshold) {
        return Err(config_error(
            "rollout_failure_threshold",
            "must be between 0 and 1",
        ));
    }
    // Empty (default): no direct probe; Fly's checks judge the screener (see SweepConfig::app_url_template).
    let template = optional("app_url_template", "");
    if !template.is_empty() && !template.contains("{app}") {
        return Err(config_error("app_url_template", "must contain {app}"));
    }
    let defaults = SweepConfig::default();
    Ok(SweepConfig {
        check_interval: secs("check_interval_secs", "300")?,
        concurrency: number::<usize>("sweep_concurrency", "16")?.clamp(1, 256),
        budget: Duration::from_millis(number("sweep_budget_ms", "25000")?),
        repair_budget: Duration::from_millis(number("reconcile_budget_ms", "20000")?),
        rollout_batch_size: number("rollout_batch_size", "5")?,
        rollout_failure_threshold: threshold,
        rollout_wait: secs("rollout_wait_secs", "60")?,
        orphan_policy: OrphanPolicy::parse(&optional("orphan_policy", "report"))
            .map_err(|problem| config_error("orphan_policy", &problem))?,
        orphan_grace: secs("orphan_grace_secs", "86400")?,
        orphan_delete_cap: number("orphan_delete_cap", "5")?,
        unhealthy_grace: secs("unhealthy_grace_secs", "600")?,
        app_url_template: template,
        app_prefix: defaults.app_prefix,
        alerts: crate::alerts::alert_rules()?,
        // Per-tier guests and regions; unset tier variables mean today's single size for both.
        tier_sizes: Some(
            fleet_reconcile::tier_size::TierSizes::from_variables(|name| {
                spin_sdk::variables::get(name).ok()
            })
            .map_err(|e| config_error(e.variable, &e.problem))?,
        ),
    })
}
