//! The fleet summary, computed from the rows and recent provision events without further I/O.

use std::collections::{BTreeMap, HashMap};

use fleet_store::{AppRow, AppStatus, Event, EventType, HealthStatus, UserId};
use serde::Serialize;

/// The provision events the summary looks at (newest `PROVISION_EVENT_WINDOW` of them).
pub const PROVISION_EVENT_TYPES: &[EventType] = &[
    EventType::ProvisionRequested,
    EventType::ProvisionStarted,
    EventType::ProvisionCompleted,
    EventType::ProvisionFailed,
];
pub const PROVISION_EVENT_WINDOW: u32 = 5000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProvisionStats {
    pub completed: u64,
    pub failed_attempts: u64,
    /// completed / (completed + failed attempts) over the window; `None` without data.
    pub success_rate: Option<f64>,
    /// Median seconds from the first request/start event of a provision to its completion.
    pub median_seconds: Option<f64>,
    pub samples: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub apps_total: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    /// Health of the apps that should be running (not deleted).
    pub by_health: BTreeMap<&'static str, usize>,
    pub provision: ProvisionStats,
    /// Sum of the per-app estimates of apps not deleted (estimates, from the sweep's price table).
    pub monthly_cost_estimate_usd: f64,
    pub apps_without_cost_estimate: usize,
    pub accrued_cost_usd: f64,
    pub rollout: Option<serde_json::Value>,
}

pub fn summarize(
    rows: &[AppRow],
    provision_events: &[Event],
    rollout: Option<serde_json::Value>,
) -> Summary {
    let mut by_status: BTreeMap<&'static str, usize> =
        AppStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut by_health: BTreeMap<&'static str, usize> =
        HealthStatus::ALL.iter().map(|h| (h.as_str(), 0)).collect();
    let (mut cost, mut without_cost, mut accrued) = (0.0, 0, 0.0);
    for row in rows {
        *by_status.entry(row.status.as_str()).or_default() += 1;
        accrued += row.accrued_cost_usd;
        if row.status == AppStatus::Deleted {
            continue;
        }
        *by_health.entry(row.health_status.as_str()).or_default() += 1;
        match row.monthly_cost_estimate_usd {
            Some(c) => cost += c,
            None => without_cost += 1,
        }
    }
    Summary {
        apps_total: rows.len(),
        by_status,
        by_health,
        provision: provision_stats(provision_events),
        monthly_cost_estimate_usd: round_cents(cost),
        apps_without_cost_estimate: without_cost,
        accrued_cost_usd: round_cents(accrued),
        rollout,
    }
}

fn round_cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// Success rate and median duration, from events in any order.
pub fn provision_stats(events: &[Event]) -> ProvisionStats {
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by_key(|e| e.seq);
    let mut open: HashMap<UserId, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut durations = Vec::new();
    let (mut completed, mut failed) = (0u64, 0u64);
    for event in ordered {
        let Some(user) = event.user_id else { continue };
        match event.event_type {
            EventType::ProvisionRequested | EventType::ProvisionStarted => {
                open.entry(user).or_insert(event.created_at);
            }
            EventType::ProvisionCompleted => {
                completed += 1;
                if let Some(start) = open.remove(&user) {
                    durations.push((event.created_at - start).num_milliseconds() as f64 / 1000.0);
                }
            }
            EventType::ProvisionFailed => failed += 1,
            _ => {}
        }
    }
    let attempts = completed + failed;
    ProvisionStats {
        completed,
        failed_attempts: failed,
        success_rate: (attempts > 0).then(|| completed as f64 / attempts as f64),
        samples: durations.len(),
        median_seconds: median(&mut durations),
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(n: u32) -> UserId {
        UserId::parse(&format!("aaaaaaaa-0000-4000-8000-{n:012}")).unwrap()
    }

    fn event(seq: i64, n: u32, event_type: EventType, second: u32) -> Event {
        Event {
            seq,
            fly_app_id: None,
            user_id: Some(user(n)),
            fly_app_name: None,
            event_type,
            status: None,
            metadata: serde_json::json!({}),
            error_details: None,
            created_at: chrono::Utc
                .with_ymd_and_hms(2025, 1, 1, 0, 0, second)
                .unwrap(),
        }
    }

    #[test]
    fn median_spans_first_start_to_completion_per_provision() {
        use EventType::*;
        let events = vec![
            event(1, 1, ProvisionRequested, 0),
            event(2, 1, ProvisionStarted, 1),
            event(3, 2, ProvisionStarted, 2),
            event(4, 1, ProvisionCompleted, 4),
            event(5, 2, ProvisionFailed, 5),
            event(6, 2, ProvisionStarted, 6),
            event(7, 2, ProvisionCompleted, 12),
            event(8, 1, ProvisionStarted, 20),
            event(9, 1, ProvisionCompleted, 22),
        ];
        let mut reversed = events.clone();
        reversed.reverse();
        let stats = provision_stats(&reversed);
        assert_eq!(
            (stats.completed, stats.failed_attempts, stats.samples),
            (3, 1, 3)
        );
        // durations: 4, 10, 2 -> median 4
        assert_eq!(stats.median_seconds, Some(4.0));
        assert_eq!(stats.success_rate, Some(0.75));
        assert_eq!(provision_stats(&[]).success_rate, None);
    }

    #[test]
    fn counts_and_costs_skip_deleted_apps() {
        let mut active = AppRow::new(user(1));
        active.status = AppStatus::Active;
        active.health_status = HealthStatus::Healthy;
        active.monthly_cost_estimate_usd = Some(10.5);
        active.accrued_cost_usd = 1.25;
        let mut deleted = AppRow::new(user(2));
        deleted.status = AppStatus::Deleted;
        deleted.monthly_cost_estimate_usd = Some(99.0);
        deleted.accrued_cost_usd = 3.0;
        let fresh = AppRow::new(user(3));
        let s = summarize(&[active, deleted, fresh], &[], None);
        assert_eq!(s.apps_total, 3);
        assert_eq!(s.by_status["active"], 1);
        assert_eq!(s.by_status["deleted"], 1);
        assert_eq!(s.by_status["error"], 0);
        assert_eq!(s.by_health["healthy"], 1);
        assert_eq!(s.by_health["unknown"], 1);
        assert_eq!(s.monthly_cost_estimate_usd, 10.5);
        assert_eq!(s.apps_without_cost_estimate, 1);
        assert_eq!(s.accrued_cost_usd, 4.25);
    }
}
