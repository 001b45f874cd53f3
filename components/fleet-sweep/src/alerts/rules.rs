//! Which alert conditions hold, from facts the sweep gathered. Pure. Every condition has a stable key (e.g.
//! `app_unhealthy:<app>`), so one condition is one alert until it clears. Summaries are sanitised here, so
//! nothing downstream can carry a secret out of a stored error message.

use std::time::Duration;

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use fleet_store::{sanitize_error, AppRow, AppStatus, HealthStatus, UserId};

use crate::rollout::{RolloutState, RolloutStatus};

/// The kinds of alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// An active app judged unhealthy (resolved when it is healthy again).
    AppUnhealthy,
    /// A user's row reached `error` (the reconciler gave up after `max_attempts_before_error` attempts).
    UserError,
    /// A row has been provisioning for longer than the threshold.
    ProvisionStuck,
    /// An app in Fleet's org and prefix that no row claims.
    OrphanFound,
    /// More orphans were due for deletion than the per-sweep cap: none deleted until an operator confirms.
    OrphanDeletionsHeld,
    /// An image rollout halted (too many updated machines failed health).
    RolloutHalted,
    /// Fly answered 401/403 for the org (the token is wrong, expired or lacks access).
    FlyAuth,
    /// The fleet's monthly cost estimate is above the configured budget.
    CostBudget,
}

impl AlertKind {
    pub const ALL: &'static [AlertKind] = &[
        AlertKind::AppUnhealthy,
        AlertKind::UserError,
        AlertKind::ProvisionStuck,
        AlertKind::OrphanFound,
        AlertKind::OrphanDeletionsHeld,
        AlertKind::RolloutHalted,
        AlertKind::FlyAuth,
        AlertKind::CostBudget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::AppUnhealthy => "app_unhealthy",
            AlertKind::UserError => "user_error",
            AlertKind::ProvisionStuck => "provision_stuck",
            AlertKind::OrphanFound => "orphan_found",
            AlertKind::OrphanDeletionsHeld => "orphan_deletions_held",
            AlertKind::RolloutHalted => "rollout_halted",
            AlertKind::FlyAuth => "fly_auth",
            AlertKind::CostBudget => "cost_budget",
        }
    }

    pub fn parse(value: &str) -> Option<AlertKind> {
        AlertKind::ALL.iter().copied().find(|k| k.as_str() == value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One condition that holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub kind: AlertKind,
    /// Stable across sweeps while the condition holds: `<kind>` or `<kind>:<subject>`.
    pub key: String,
    pub severity: Severity,
    /// Sanitised, one line.
    pub summary: String,
}

impl Condition {
    fn new(kind: AlertKind, subject: Option<&str>, severity: Severity, summary: String) -> Self {
        let key = match subject {
            Some(s) => format!("{}:{s}", kind.as_str()),
            None => kind.as_str().to_string(),
        };
        Condition {
            kind,
            key,
            severity,
            summary: sanitize_error(&summary),
        }
    }
}

/// The alert thresholds (the `health` component's variables).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRules {
    /// A row provisioning for longer than this is stuck.
    pub provision_stuck_after: Duration,
    /// The fleet's monthly budget in USD; `None`: no cost alert.
    pub monthly_budget_usd: Option<f64>,
    /// A condition still firing is notified again after this long; zero: never again until it clears.
    pub renotify_after: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            provision_stuck_after: Duration::from_secs(1800),
            monthly_budget_usd: None,
            renotify_after: Duration::from_secs(6 * 3600),
        }
    }
}

/// What the sweep knows about the fleet. `None` for what this sweep could not look at: those kinds neither
/// fire nor clear.
#[derive(Clone, Debug, Default)]
pub struct FleetFacts<'a> {
    pub rows: &'a [AppRow],
    /// When each provisioning row began provisioning (its latest `provision_requested` event), where known;
    /// otherwise the row's `created_at` counts (a re-provisioned row keeps its old `created_at`).
    pub provisioning_since: BTreeMap<UserId, DateTime<Utc>>,
    /// The orphans after this sweep's scan; `None` when no scan completed.
    pub orphans: Option<&'a [String]>,
    /// Orphan deletions held for an operator; `None` when the scan did not get that far.
    pub orphan_deletions_held: Option<usize>,
    pub rollout: Option<&'a RolloutState>,
    /// The org's apps were listed: `Some(None)` it worked, `Some(Some(reason))` Fly refused (401/403).
    pub fly_auth: Option<Option<String>>,
}

/// The conditions that hold, and the kinds that could not be evaluated this time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluated {
    pub holding: Vec<Condition>,
    pub not_evaluated: Vec<AlertKind>,
}

/// Lists the conditions that hold now.
pub fn conditions(facts: &FleetFacts<'_>, rules: &AlertRules, now: DateTime<Utc>) -> Evaluated {
    let mut out = Evaluated::default();
    let mut monthly = 0.0;
    for row in facts.rows {
        let subject = row.user_id.to_string();
        let app = row.fly_app_name.as_deref().unwrap_or("(no app yet)");
        match row.status {
            AppStatus::Active => {
                monthly += row.monthly_cost_estimate_usd.unwrap_or(0.0).max(0.0);
                if row.health_status == HealthStatus::Unhealthy {
                    if let Some(name) = row.fly_app_name.as_deref() {
                        out.holding.push(Condition::new(
                            AlertKind::AppUnhealthy,
                            Some(name),
                            Severity::Warning,
                            format!("app {name} (user {subject}) is unhealthy"),
                        ));
                    }
                }
            }
            AppStatus::Error => {
                let reason = row.error_message.as_deref().unwrap_or("no reason recorded");
                out.holding.push(Condition::new(
                    AlertKind::UserError,
                    Some(&subject),
                    Severity::Critical,
                    format!(
                        "user {subject} (app {app}) is in error after {} attempts: {reason}",
                        row.attempts
                    ),
                ));
            }
            AppStatus::Provisioning => {
                let since = facts
                    .provisioning_since
                    .get(&row.user_id)
                    .copied()
                    .or(row.created_at);
                let stuck = since.is_some_and(|since| {
                    fleet_store::time::after(since, rules.provision_stuck_after) <= now
                });
                if stuck {
                    out.holding.push(Condition::new(
                        AlertKind::ProvisionStuck,
                        Some(&subject),
                        Severity::Warning,
                        format!(
                            "user {subject} (app {app}) has been provisioning for more than {}s",
                            rules.provision_stuck_after.as_secs()
                        ),
                    ));
                }
            }
            AppStatus::Deprovisioning | AppStatus::Deleted => {}
        }
    }
    match facts.orphans {
        Some(orphans) => {
            for name in orphans {
                out.holding.push(Condition::new(
                    AlertKind::OrphanFound,
                    Some(name),
                    Severity::Warning,
                    format!("orphan app {name}: in Fleet's org and prefix, claimed by no user"),
                ));
            }
        }
        None => out.not_evaluated.push(AlertKind::OrphanFound),
    }
    match facts.orphan_deletions_held {
        Some(0) => {}
        Some(held) => out.holding.push(Condition::new(
            AlertKind::OrphanDeletionsHeld,
            None,
            Severity::Critical,
            format!(
                "{held} orphan deletions are held: more than the per-sweep cap were due; \
                 an operator must confirm (POST /admin/api/orphans/confirm)"
            ),
        )),
        None => out.not_evaluated.push(AlertKind::OrphanDeletionsHeld),
    }
    if let Some(rollout) = facts.rollout.filter(|r| r.status == RolloutStatus::Halted) {
        out.holding.push(Condition::new(
            AlertKind::RolloutHalted,
            Some(&rollout.target_image),
            Severity::Critical,
            format!(
                "the rollout of {} halted: {} of {} updated machines failed health",
                rollout.target_image,
                rollout.failed,
                rollout.updated.saturating_add(rollout.failed)
            ),
        ));
    }
    match &facts.fly_auth {
        Some(Some(reason)) => out.holding.push(Condition::new(
            AlertKind::FlyAuth,
            None,
            Severity::Critical,
            format!("Fly refused the org's credentials: {reason}"),
        )),
        Some(None) => {}
        None => out.not_evaluated.push(AlertKind::FlyAuth),
    }
    if let Some(budget) = rules.monthly_budget_usd {
        if monthly > budget {
            out.holding.push(Condition::new(
                AlertKind::CostBudget,
                None,
                Severity::Warning,
                format!(
                    "the fleet's monthly cost estimate ${monthly:.2} is above the budget of ${budget:.2}"
                ),
            ));
        }
    }
    out
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

    fn row(n: u128, status: AppStatus) -> AppRow {
        let mut row = AppRow::new(UserId::new(uuid::Uuid::from_u128(n)));
        row.status = status;
        row.fly_app_name = Some(format!("vyx-user-{n:08x}"));
        row.created_at = Some(now());
        row
    }

    fn keys(e: &Evaluated) -> Vec<&str> {
        e.holding.iter().map(|c| c.key.as_str()).collect()
    }

    #[test]
    fn each_row_condition_has_a_stable_key() {
        let mut unhealthy = row(1, AppStatus::Active);
        unhealthy.health_status = HealthStatus::Unhealthy;
        let healthy = row(2, AppStatus::Active);
        let mut failed = row(3, AppStatus::Error);
        failed.attempts = 5;
        failed.error_message =
            Some("create failed: postgres://fleet:hunter2@db.example/x Bearer abc.def".into());
        let mut stuck = row(4, AppStatus::Provisioning);
        stuck.created_at = Some(now() - chrono::Duration::hours(1));
        let fresh = row(5, AppStatus::Provisioning);
        // Created long ago, provisioning again since a minute ago: not stuck.
        let mut again = row(6, AppStatus::Provisioning);
        again.created_at = Some(now() - chrono::Duration::days(30));
        let rows = [unhealthy, healthy, failed, stuck, fresh, again.clone()];
        let facts = FleetFacts {
            rows: &rows,
            provisioning_since: [(again.user_id, now() - chrono::Duration::minutes(1))].into(),
            orphans: Some(&[]),
            orphan_deletions_held: Some(0),
            fly_auth: Some(None),
            ..FleetFacts::default()
        };
        let e = conditions(&facts, &AlertRules::default(), now());
        assert_eq!(
            keys(&e),
            [
                "app_unhealthy:vyx-user-00000001",
                "user_error:00000000-0000-0000-0000-000000000003",
                "provision_stuck:00000000-0000-0000-0000-000000000004",
            ]
        );
        assert!(e.not_evaluated.is_empty());
        let error = &e.holding[1].summary;
        assert!(error.contains("after 5 attempts"), "{error}");
        assert!(
            !error.contains("hunter2") && !error.contains("abc.def"),
            "{error}"
        );
    }

    #[test]
    fn fleet_wide_conditions_and_what_was_not_looked_at() {
        let mut active = row(1, AppStatus::Active);
        active.monthly_cost_estimate_usd = Some(60.0);
        let rows = [active];
        let rollout = RolloutState {
            target_image: "registry.fly.io/screener:v2".into(),
            previous_image: None,
            status: RolloutStatus::Halted,
            updated: 3,
            failed: 2,
        };
        let orphans = ["vyx-user-deadbeef".to_string()];
        let facts = FleetFacts {
            rows: &rows,
            orphans: Some(&orphans),
            orphan_deletions_held: Some(7),
            rollout: Some(&rollout),
            fly_auth: Some(Some("401 unauthorized".into())),
            ..FleetFacts::default()
        };
        let rules = AlertRules {
            monthly_budget_usd: Some(50.0),
            ..AlertRules::default()
        };
        let e = conditions(&facts, &rules, now());
        assert_eq!(
            keys(&e),
            [
                "orphan_found:vyx-user-deadbeef",
                "orphan_deletions_held",
                "rollout_halted:registry.fly.io/screener:v2",
                "fly_auth",
                "cost_budget",
            ]
        );
        let under = AlertRules {
            monthly_budget_usd: Some(60.0),
            ..AlertRules::default()
        };
        let blind = FleetFacts {
            rows: &rows,
            ..FleetFacts::default()
        };
        let e = conditions(&blind, &under, now());
        assert!(e.holding.is_empty());
        assert_eq!(
            e.not_evaluated,
            [
                AlertKind::OrphanFound,
                AlertKind::OrphanDeletionsHeld,
                AlertKind::FlyAuth
            ]
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(AlertKind::parse("nope"), None);
    }
}
