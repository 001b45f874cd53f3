//! The converged state, checked against the database's own entitlement rule, the rows, the audit log and
//! the simulator: every entitled user has exactly one app with one started machine of the configured
//! image, region and guest; everyone else has none; no orphan app; the latest completion event matches;
//! no stored text holds a secret.

use std::collections::{HashMap, HashSet};

use fleet_store::{AppRow, AppStatus, UserId};
use serde_json::{json, Value};

/// What every machine must look like (the rig's provision variables).
pub struct Expected {
    pub image: String,
    pub region: String,
    pub guest: Value,
    pub app_prefix: String,
}

impl Expected {
    pub fn fleet_defaults(image: &str) -> Expected {
        Expected {
            image: image.into(),
            region: "sin".into(),
            guest: json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512}),
            app_prefix: format!("{}-", fly_api::naming::APP_PREFIX),
        }
    }
}

/// Users entitled now, by `fleet.entitled` (the one rule everything uses).
pub fn entitled_users(db: &mut postgres::Client) -> HashSet<String> {
    db.query(
        "SELECT user_id::text FROM fleet_entitlements WHERE entitled",
        &[],
    )
    .expect("read entitlements")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// user id → the latest of provision_completed / deprovision_completed (by `seq`, the order events were
/// written in; `id` is a random uuid on the platform's table).
fn latest_completions(db: &mut postgres::Client) -> HashMap<String, String> {
    db.query(
        "SELECT DISTINCT ON (user_id) user_id::text, event_type FROM user_fly_app_events \
         WHERE event_type IN ('provision_completed', 'deprovision_completed') \
         ORDER BY user_id, seq DESC",
        &[],
    )
    .expect("read completion events")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Everything wrong with the final state; empty when converged.
pub fn violations(
    db: &mut postgres::Client,
    rows: &[AppRow],
    sim_state: &Value,
    users: &[UserId],
    expected: &Expected,
) -> Vec<String> {
    let entitled = entitled_users(db);
    let completions = latest_completions(db);
    let live_apps: Vec<&Value> = sim_state["apps"]
        .as_array()
        .map(|a| a.iter().filter(|a| a["deleting"] != true).collect())
        .unwrap_or_default();
    let app_named = |name: &str| live_apps.iter().find(|a| a["name"] == name).copied();
    let rows_by_user: HashMap<String, &AppRow> =
        rows.iter().map(|r| (r.user_id.to_string(), r)).collect();
    let mut out = Vec::new();
    for user in users.iter().map(UserId::to_string) {
        let row = rows_by_user.get(&user).copied();
        let completion = completions.get(&user).map(String::as_str);
        if entitled.contains(&user) {
            check_entitled(&user, row, completion, &app_named, expected, &mut out);
        } else if let Some(row) = row {
            if row.status != AppStatus::Deleted {
                out.push(format!(
                    "{user}: not entitled but the row is {:?}",
                    row.status
                ));
            }
            if let Some(app) = row.fly_app_name.as_deref().and_then(&app_named) {
                out.push(format!(
                    "{user}: not entitled but app {} is live",
                    app["name"]
                ));
            }
            if completion != Some("deprovision_completed") {
                out.push(format!(
                    "{user}: not entitled; latest completion {completion:?}"
                ));
            }
        }
    }
    let claimed: HashSet<&str> = rows
        .iter()
        .filter(|r| r.status != AppStatus::Deleted)
        .filter_map(|r| r.fly_app_name.as_deref())
        .collect();
    for app in &live_apps {
        let name = app["name"].as_str().unwrap_or_default();
        if name.starts_with(&expected.app_prefix) && !claimed.contains(name) {
            out.push(format!("orphan app {name}"));
        }
    }
    out
}

fn check_entitled<'a>(
    user: &str,
    row: Option<&AppRow>,
    completion: Option<&str>,
    app_named: &impl Fn(&str) -> Option<&'a Value>,
    expected: &Expected,
    out: &mut Vec<String>,
) {
    let Some(row) = row else {
        out.push(format!("{user}: entitled but has no row"));
        return;
    };
    if row.status != AppStatus::Active {
        out.push(format!(
            "{user}: entitled but the row is {:?} ({:?})",
            row.status, row.error_message
        ));
    }
    if completion != Some("provision_completed") {
        out.push(format!(
            "{user}: entitled; latest completion {completion:?}"
        ));
    }
    let Some(app) = row.fly_app_name.as_deref().and_then(app_named) else {
        out.push(format!(
            "{user}: entitled but no live app {:?}",
            row.fly_app_name
        ));
        return;
    };
    let machines: Vec<&Value> = app["machines"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["state"] != "destroyed").collect())
        .unwrap_or_default();
    let [machine] = machines.as_slice() else {
        out.push(format!(
            "{user}: {} machines in {}",
            machines.len(),
            app["name"]
        ));
        return;
    };
    let wanted = [
        ("state", machine["state"].clone(), json!("started")),
        (
            "image",
            machine["config"]["image"].clone(),
            json!(expected.image),
        ),
        ("region", machine["region"].clone(), json!(expected.region)),
        (
            "guest",
            machine["config"]["guest"].clone(),
            expected.guest.clone(),
        ),
        (
            "USER_ID",
            machine["effective_env"]["USER_ID"].clone(),
            json!(user),
        ),
        (
            "row machine_id",
            json!(row.machine_id),
            machine["id"].clone(),
        ),
    ];
    for (what, got, want) in wanted {
        if got != want {
            out.push(format!("{user}: machine {what} is {got}, want {want}"));
        }
    }
}

/// Every stored text a secret could leak into: events (whole rows) and the rows' error messages and
/// health details. Returns the hits as "table: which secret".
pub fn secret_hits(db: &mut postgres::Client, secrets: &[(&str, String)]) -> Vec<String> {
    let texts: Vec<(String, String)> = db
        .query(
            "SELECT 'user_fly_app_events', row_to_json(e)::text FROM user_fly_app_events e \
             UNION ALL SELECT 'user_fly_apps', concat_ws(' ', error_message, health_detail::text) \
             FROM user_fly_apps",
            &[],
        )
        .expect("read stored texts")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut hits = Vec::new();
    for (name, secret) in secrets.iter().filter(|(_, s)| s.len() >= 6) {
        for (table, text) in &texts {
            if text.contains(secret.as_str()) {
                hits.push(format!("{table}: {name}"));
            }
        }
    }
    hits
}

/// The passwords of the per-user database roles, from the machines' DATABASE_URL secrets.
pub fn minted_passwords(sim_state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for app in sim_state["apps"].as_array().into_iter().flatten() {
        for m in app["machines"].as_array().into_iter().flatten() {
            if let Some(pw) = m["effective_env"]["DATABASE_URL"]
                .as_str()
                .and_then(url_password)
            {
                out.push(pw);
            }
        }
    }
    out
}

/// The password in `scheme://user:password@host/...`.
pub fn url_password(url: &str) -> Option<String> {
    let (credentials, _) = url.split("://").nth(1)?.split_once('@')?;
    let (_, password) = credentials.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}
