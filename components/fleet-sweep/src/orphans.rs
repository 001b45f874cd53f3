//! Orphan detection: apps in Fleet's org with Fleet's prefix that no live row claims. Pure: the sweep lists
//! the org's apps once, and the first-seen times live in `fleet_state` under [`ORPHAN_STATE_KEY`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use fleet_store::{format_time, parse_time, AppRow, AppStatus};
use serde_json::Value;

use crate::config::OrphanPolicy;

/// The `fleet_state` key: `{app name: first seen as an orphan (RFC 3339)}`.
pub const ORPHAN_STATE_KEY: &str = "health.orphans";

/// A deleted row's app may still be listed while Fly finishes the asynchronous delete.
const DELETION_IN_FLIGHT: TimeDelta = TimeDelta::minutes(10);

/// What to do about the org's apps this sweep.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrphanPlan {
    /// Every orphan seen now.
    pub orphans: Vec<String>,
    /// Orphans seen for the first time: one `orphan_detected` event each.
    pub newly_detected: Vec<String>,
    /// Orphans to delete (delete policy, grace passed).
    pub delete: Vec<String>,
    /// The first-seen map to store.
    pub first_seen: BTreeMap<String, DateTime<Utc>>,
}

/// App names that rows still claim: every row except those deleted a while ago.
pub fn claimed_names(rows: &[AppRow], now: DateTime<Utc>) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| {
            r.status != AppStatus::Deleted
                || r.deleted_at.is_none_or(|t| now - t < DELETION_IN_FLIGHT)
        })
        .filter_map(|r| r.fly_app_name.clone())
        .collect()
}

pub fn plan_orphans(
    org_apps: &[String],
    claimed: &BTreeSet<String>,
    prefix: &str,
    previous: &BTreeMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: OrphanPolicy,
    grace: Duration,
) -> OrphanPlan {
    let mut plan = OrphanPlan::default();
    for name in org_apps {
        if !name.starts_with(prefix) || claimed.contains(name) {
            continue;
        }
        plan.orphans.push(name.clone());
        let first_seen = match previous.get(name) {
            Some(t) => *t,
            None => {
                plan.newly_detected.push(name.clone());
                now
            }
        };
        if policy == OrphanPolicy::Delete
            && fleet_store::time::elapsed_at_least(first_seen, now, grace)
        {
            plan.delete.push(name.clone());
        }
        // Apps no longer listed (deleted, or claimed again) drop out of the map.
        plan.first_seen.insert(name.clone(), first_seen);
    }
    plan
}

pub fn first_seen_from_json(value: Option<&Value>) -> BTreeMap<String, DateTime<Utc>> {
    value
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), parse_time(v.as_str()?).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn first_seen_to_json(map: &BTreeMap<String, DateTime<Utc>>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::from(format_time(*v))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_store::UserId;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn row(name: &str, status: AppStatus, deleted_mins_ago: Option<i64>) -> AppRow {
        let mut row = AppRow::new(UserId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap());
        row.fly_app_name = Some(name.into());
        row.status = status;
        row.deleted_at = deleted_mins_ago.map(|m| now() - TimeDelta::minutes(m));
        row
    }

    #[test]
    fn live_and_recently_deleted_rows_claim_their_names() {
        let rows = [
            row("vyx-user-aa", AppStatus::Active, None),
            row("vyx-user-bb", AppStatus::Deprovisioning, None),
            row("vyx-user-cc", AppStatus::Deleted, Some(2)),
            row("vyx-user-dd", AppStatus::Deleted, Some(60)),
        ];
        let claimed = claimed_names(&rows, now());
        assert_eq!(
            claimed.into_iter().collect::<Vec<_>>(),
            ["vyx-user-aa", "vyx-user-bb", "vyx-user-cc"]
        );
    }

    #[test]
    fn orphans_are_reported_once_and_deleted_only_under_the_delete_policy_after_grace() {
        let apps: Vec<String> = ["vyx-user-aa", "vyx-user-dd", "vyx-user-ee", "someone-else"]
            .map(String::from)
            .to_vec();
        let claimed: BTreeSet<String> = ["vyx-user-aa".to_string()].into();
        let grace = Duration::from_secs(3600);
        let first = plan_orphans(
            &apps,
            &claimed,
            "vyx-user-",
            &BTreeMap::new(),
            now(),
            OrphanPolicy::Delete,
            grace,
        );
        assert_eq!(first.orphans, ["vyx-user-dd", "vyx-user-ee"]);
        assert_eq!(first.newly_detected, first.orphans);
        assert!(first.delete.is_empty(), "within grace");

        let later = now() + TimeDelta::minutes(61);
        let report = plan_orphans(
            &apps,
            &claimed,
            "vyx-user-",
            &first.first_seen,
            later,
            OrphanPolicy::Report,
            grace,
        );
        assert!(report.newly_detected.is_empty() && report.delete.is_empty());
        let delete = plan_orphans(
            &apps,
            &claimed,
            "vyx-user-",
            &first.first_seen,
            later,
            OrphanPolicy::Delete,
            grace,
        );
        assert_eq!(delete.delete, ["vyx-user-dd", "vyx-user-ee"]);

        let gone = plan_orphans(
            &apps[..1],
            &claimed,
            "vyx-user-",
            &first.first_seen,
            later,
            OrphanPolicy::Delete,
            grace,
        );
        assert!(
            gone.first_seen.is_empty(),
            "apps no longer listed are forgotten"
        );
        let round_trip = first_seen_from_json(Some(&first_seen_to_json(&first.first_seen)));
        assert_eq!(round_trip, first.first_seen);
    }
}
