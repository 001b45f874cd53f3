//! Cost estimates: a monthly figure from the guest size and region, and the cost accrued while a machine
//! was observed started. Prices come from an embedded, clearly labelled estimate file.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The embedded price table (see its `_label`: these are estimates from the reference, not Fly's list).
pub const PRICE_TABLE_JSON: &str = include_str!("fly-prices.estimate.json");

/// Seconds in Fly's billing month (30 days).
const MONTH_SECS: f64 = 30.0 * 24.0 * 3600.0;

/// The price model of shared-CPU machines.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PriceTable {
    #[serde(rename = "_label")]
    pub label: String,
    pub shared_cpu_month_usd: f64,
    pub included_memory_mb_per_cpu: u32,
    pub extra_memory_gb_month_usd: f64,
    pub stopped_rootfs_gb_month_usd: f64,
    pub region_markup: std::collections::BTreeMap<String, f64>,
    pub verified_regions: Vec<String>,
}

impl PriceTable {
    /// The embedded table; it is part of the build, so a parse failure is a bug caught by the tests.
    pub fn embedded() -> PriceTable {
        serde_json::from_str(PRICE_TABLE_JSON).expect("the embedded price table is valid JSON")
    }

    /// Estimated USD per 30 days for one started machine, or `None` for guests the table does not price
    /// (performance CPUs, unknown kinds).
    pub fn monthly_estimate(
        &self,
        cpu_kind: &str,
        cpus: u32,
        memory_mb: u32,
        region: &str,
    ) -> Option<f64> {
        if cpu_kind != "shared" || cpus == 0 {
            return None;
        }
        let included = self.included_memory_mb_per_cpu * cpus;
        let extra_gb = f64::from(memory_mb.saturating_sub(included)) / 1024.0;
        let baseline =
            f64::from(cpus) * self.shared_cpu_month_usd + extra_gb * self.extra_memory_gb_month_usd;
        let markup = self.region_markup.get(region).copied().unwrap_or(1.0);
        Some(round_cents(baseline * markup))
    }
}

/// Cost of running at `monthly_usd` for the started time between two observations. Only when the machine
/// was started at both ends is the interval counted: a machine seen stopped pays (almost) nothing.
pub fn accrued_between(
    monthly_usd: Option<f64>,
    previous_check: Option<DateTime<Utc>>,
    was_started: bool,
    now: DateTime<Utc>,
    is_started: bool,
) -> f64 {
    let (Some(monthly), Some(previous), true, true) =
        (monthly_usd, previous_check, was_started, is_started)
    else {
        return 0.0;
    };
    let secs = (now - previous).num_milliseconds().max(0) as f64 / 1000.0;
    monthly * secs / MONTH_SECS
}

fn round_cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn the_embedded_table_is_labelled_as_an_estimate() {
        let table = PriceTable::embedded();
        assert!(table.label.starts_with("ESTIMATES"));
    }

    #[test]
    fn monthly_estimates_match_the_reference_figures() {
        let table = PriceTable::embedded();
        let cases = [
            // (cpu_kind, cpus, memory_mb, region, expected)
            ("shared", 1, 256, "iad", Some(1.94)),
            ("shared", 1, 512, "iad", Some(3.19)),
            ("shared", 1, 1024, "iad", Some(5.69)),
            ("shared", 2, 512, "sin", Some(3.88)),
            ("shared", 4, 1024, "sin", Some(7.76)),
            ("shared", 1, 256, "sjc", Some(2.33)),
            ("performance", 1, 2048, "sin", None),
            ("shared", 0, 256, "sin", None),
        ];
        for (kind, cpus, mem, region, expected) in cases {
            assert_eq!(
                table.monthly_estimate(kind, cpus, mem, region),
                expected,
                "{kind} {cpus} {mem} {region}"
            );
        }
    }

    #[test]
    fn accrual_counts_only_time_started_at_both_ends() {
        let now = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z")
            .unwrap()
            .to_utc();
        let day_ago = Some(now - TimeDelta::days(1));
        let monthly = Some(30.0);
        assert!((accrued_between(monthly, day_ago, true, now, true) - 1.0).abs() < 1e-9);
        assert_eq!(accrued_between(monthly, day_ago, false, now, true), 0.0);
        assert_eq!(accrued_between(monthly, day_ago, true, now, false), 0.0);
        assert_eq!(accrued_between(monthly, None, true, now, true), 0.0);
        assert_eq!(accrued_between(None, day_ago, true, now, true), 0.0);
        // A clock that went backwards accrues nothing rather than a negative amount.
        assert_eq!(
            accrued_between(monthly, Some(now + TimeDelta::hours(1)), true, now, true),
            0.0
        );
    }
}
