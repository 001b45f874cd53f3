//! The apps table: one view per row, and pure filtering, sorting and pagination of those views.

use std::cmp::Ordering;

use fleet_http::ApiError;
use fleet_store::{format_time, AppRow, AppStatus, HealthStatus};
use serde::Serialize;

use crate::queries::TierView;

/// One app as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppView {
    pub user_id: String,
    pub app_name: Option<String>,
    pub status: &'static str,
    pub health: &'static str,
    pub tier: Option<String>,
    pub entitled: bool,
    pub region: Option<String>,
    pub machine_id: Option<String>,
    pub image: Option<String>,
    pub monthly_cost_usd: Option<f64>,
    pub accrued_cost_usd: f64,
    pub trader_count: Option<i64>,
    pub last_health_check: Option<String>,
    pub attempts: i64,
    pub error_message: Option<String>,
    pub next_attempt_at: Option<String>,
    pub deployed_at: Option<String>,
    pub updated_at: Option<String>,
}

impl AppView {
    pub fn new(row: &AppRow, tier: Option<&TierView>) -> Self {
        AppView {
            user_id: row.user_id.to_string(),
            app_name: row.fly_app_name.clone(),
            status: row.status.as_str(),
            health: row.health_status.as_str(),
            tier: tier.map(|t| t.tier.clone()),
            entitled: tier.is_some_and(|t| t.entitled),
            region: row.region.clone(),
            machine_id: row.machine_id.clone(),
            image: row.docker_image.clone(),
            monthly_cost_usd: row.monthly_cost_estimate_usd,
            accrued_cost_usd: row.accrued_cost_usd,
            trader_count: row
                .health_detail
                .get("trader_count")
                .and_then(|v| v.as_i64()),
            last_health_check: row.last_health_check.map(format_time),
            attempts: row.attempts,
            error_message: row.error_message.clone(),
            next_attempt_at: row.next_attempt_at.map(format_time),
            deployed_at: row.deployed_at.map(format_time),
            updated_at: row.updated_at.map(format_time),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    User,
    App,
    Status,
    Health,
    Tier,
    Region,
    Cost,
    Accrued,
    LastCheck,
    Updated,
    Attempts,
}

const SORT_KEYS: &[(&str, SortKey)] = &[
    ("user_id", SortKey::User),
    ("app_name", SortKey::App),
    ("status", SortKey::Status),
    ("health", SortKey::Health),
    ("tier", SortKey::Tier),
    ("region", SortKey::Region),
    ("monthly_cost_usd", SortKey::Cost),
    ("accrued_cost_usd", SortKey::Accrued),
    ("last_health_check", SortKey::LastCheck),
    ("updated_at", SortKey::Updated),
    ("attempts", SortKey::Attempts),
];

pub const MAX_PER_PAGE: usize = 200;

/// `GET /admin/api/apps` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct AppsQuery {
    pub status: Option<AppStatus>,
    pub health: Option<HealthStatus>,
    pub tier: Option<String>,
    /// Case-insensitive substring of the user id or app name.
    pub search: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub page: usize,
    pub per_page: usize,
}

impl Default for AppsQuery {
    fn default() -> Self {
        AppsQuery {
            status: None,
            health: None,
            tier: None,
            search: None,
            sort: SortKey::Updated,
            descending: true,
            page: 1,
            per_page: 50,
        }
    }
}

fn invalid(parameter: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{parameter}: {detail}"))
}

fn number(name: &str, value: &str, max: usize) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            format!("expected a whole number from 1 to {max}"),
        )),
    }
}

impl AppsQuery {
    /// Parses the query string; unknown parameters and bad values are 400s, empty values mean "any".
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut q = AppsQuery::default();
        for (key, value) in pairs {
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "status" => {
                    q.status = Some(AppStatus::parse(value).map_err(|e| invalid("status", e))?)
                }
                "health" => {
                    q.health = Some(HealthStatus::parse(value).map_err(|e| invalid("health", e))?)
                }
                "tier" => {
                    fleet_store::Tier::parse(value).map_err(|e| invalid("tier", e))?;
                    q.tier = Some(value.clone());
                }
                "q" if value.len() <= 100 => q.search = Some(value.to_ascii_lowercase()),
                "q" => return Err(invalid("q", "at most 100 characters")),
                "sort" => {
                    q.sort = SORT_KEYS
                        .iter()
                        .find(|(name, _)| name == value)
                        .map(|(_, key)| *key)
                        .ok_or_else(|| {
                            invalid("sort", format!("expected one of {}", sort_names()))
                        })?
                }
                "order" => {
                    q.descending = match value.as_str() {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(invalid("order", "expected asc or desc")),
                    }
                }
                "page" => q.page = number("page", value, 1_000_000)?,
                "per_page" => q.per_page = number("per_page", value, MAX_PER_PAGE)?,
                other => {
                    return Err(invalid(
                        &other.chars().take(40).collect::<String>(),
                        "unknown parameter",
                    ))
                }
            }
        }
        Ok(q)
    }

    fn matches(&self, app: &AppView) -> bool {
        self.status.is_none_or(|s| app.status == s.as_str())
            && self.health.is_none_or(|h| app.health == h.as_str())
            && self
                .tier
                .as_ref()
                .is_none_or(|t| app.tier.as_ref() == Some(t))
            && self.search.as_ref().is_none_or(|needle| {
                app.user_id.contains(needle.as_str())
                    || app
                        .app_name
                        .as_deref()
                        .is_some_and(|n| n.contains(needle.as_str()))
            })
    }
}

fn sort_names() -> String {
    SORT_KEYS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn compare(a: &AppView, b: &AppView, key: SortKey) -> Ordering {
    let float = |x: Option<f64>, y: Option<f64>| x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    match key {
        SortKey::User => a.user_id.cmp(&b.user_id),
        SortKey::App => a.app_name.cmp(&b.app_name),
        SortKey::Status => a.status.cmp(b.status),
        SortKey::Health => a.health.cmp(b.health),
        SortKey::Tier => a.tier.cmp(&b.tier),
        SortKey::Region => a.region.cmp(&b.region),
        SortKey::Cost => float(a.monthly_cost_usd, b.monthly_cost_usd),
        SortKey::Accrued => float(Some(a.accrued_cost_usd), Some(b.accrued_cost_usd)),
        SortKey::LastCheck => a.last_health_check.cmp(&b.last_health_check),
        SortKey::Updated => a.updated_at.cmp(&b.updated_at),
        SortKey::Attempts => a.attempts.cmp(&b.attempts),
    }
}

/// One page of the apps table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppsPage {
    pub items: Vec<AppView>,
    /// Rows matching the filters (all pages).
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub pages: usize,
}

/// Filters, sorts (ties broken by user id, so pages are stable) and cuts one page.
pub fn page(apps: Vec<AppView>, query: &AppsQuery) -> AppsPage {
    let mut matching: Vec<AppView> = apps.into_iter().filter(|a| query.matches(a)).collect();
    matching.sort_by(|a, b| {
        let primary = compare(a, b, query.sort);
        let primary = if query.descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then_with(|| a.user_id.cmp(&b.user_id))
    });
    let total = matching.len();
    let start = (query.page - 1).saturating_mul(query.per_page).min(total);
    let items: Vec<AppView> = matching
        .into_iter()
        .skip(start)
        .take(query.per_page)
        .collect();
    AppsPage {
        items,
        total,
        page: query.page,
        per_page: query.per_page,
        pages: total.div_ceil(query.per_page).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_store::UserId;

    fn view(n: u32, status: AppStatus, cost: Option<f64>) -> AppView {
        let mut row =
            AppRow::new(UserId::parse(&format!("aaaaaaaa-0000-4000-8000-{n:012}")).unwrap());
        row.status = status;
        row.fly_app_name = Some(format!("fleet-app-{n}"));
        row.monthly_cost_estimate_usd = cost;
        AppView::new(&row, None)
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_sorts_and_pages() {
        let apps: Vec<AppView> = (1..=7)
            .map(|n| {
                view(
                    n,
                    if n % 2 == 0 {
                        AppStatus::Error
                    } else {
                        AppStatus::Active
                    },
                    Some(n as f64),
                )
            })
            .collect();
        let q = AppsQuery::parse(&pairs(&[
            ("status", "active"),
            ("sort", "monthly_cost_usd"),
            ("order", "desc"),
            ("per_page", "3"),
        ]))
        .unwrap();
        let first = page(apps.clone(), &q);
        assert_eq!(first.total, 4);
        assert_eq!(first.pages, 2);
        let costs: Vec<_> = first
            .items
            .iter()
            .map(|a| a.monthly_cost_usd.unwrap())
            .collect();
        assert_eq!(costs, vec![7.0, 5.0, 3.0]);
        let second = page(
            apps.clone(),
            &AppsQuery {
                page: 2,
                ..q.clone()
            },
        );
        assert_eq!(second.items.len(), 1);
        let beyond = page(apps.clone(), &AppsQuery { page: 9, ..q });
        assert!(beyond.items.is_empty());
        let search = AppsQuery::parse(&pairs(&[("q", "APP-6")])).unwrap();
        assert_eq!(
            page(apps, &search).items[0].app_name.as_deref(),
            Some("fleet-app-6")
        );
    }

    #[test]
    fn bad_parameters_are_400s() {
        for q in [
            [("status", "running")],
            [("health", "ok")],
            [("sort", "password")],
            [("order", "sideways")],
            [("page", "0")],
            [("per_page", "100000")],
            [("per_page", "-1")],
            [("tier", "gold")],
            [("drop", "table")],
        ] {
            let err = AppsQuery::parse(&pairs(&q)).unwrap_err();
            assert_eq!((err.status, err.error), (400, "invalid_query"), "{q:?}");
        }
        assert_eq!(
            AppsQuery::parse(&pairs(&[("status", "")])).unwrap(),
            AppsQuery::default()
        );
    }
}
