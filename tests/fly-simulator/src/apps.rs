//! Apps: one org, a global namespace shared with "foreign" apps, eventual visibility after create,
//! asynchronous delete.

use crate::error::{parse_body, ApiError, ApiResult};
use crate::sim::Sim;
use crate::state::{now_rfc3339, AppRec, SimState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// Our app, readable now: 403 for a foreign name, 404 when unknown, not yet visible, or deleting.
pub fn readable_app<'a>(world: &'a mut SimState, name: &str) -> ApiResult<&'a mut AppRec> {
    if world.foreign.contains(name) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "unauthorized"));
    }
    match world.apps.get_mut(name) {
        Some(app) if app.readable(Instant::now()) => Ok(app),
        _ => Err(ApiError::not_found("app not found")),
    }
}

/// Fly's app-name rules (a DNS label): `[a-z0-9-]`, a leading letter, ≤ 63 chars.
fn valid_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[derive(Deserialize)]
struct CreateApp {
    name: Option<String>,
    app_name: Option<String>,
    org_slug: Option<String>,
    network: Option<String>,
}

/// `POST /apps` → 201 `{id, created_at}`; 422 `name_taken` for any held name: ours, another org's (Fly's
/// names are one global namespace and the same 422 comes back whoever holds it — reference §2.1), mid-delete,
/// or (strict mode) reserved after a completed delete.
pub async fn create_app(
    State(sim): State<Arc<Sim>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: CreateApp = parse_body(&body)?;
    let name = match (req.name, req.app_name) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request("name and app_name differ"));
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => return Err(ApiError::bad_request("name is required")),
    };
    if !valid_app_name(&name) {
        return Err(ApiError::unprocessable(
            "Validation failed: Name may only contain lowercase letters, numbers and dashes, start with a letter, and be at most 63 characters",
        ));
    }
    match req.org_slug.as_deref() {
        None => return Err(ApiError::bad_request("org_slug is required")),
        Some(o) if o != sim.config.org_slug => {
            return Err(ApiError::not_found(format!("organization {o} not found")));
        }
        Some(_) => {}
    }
    let mut world = sim.world_for(&name);
    if world.name_taken(&name, Instant::now()) {
        return Err(
            ApiError::unprocessable("Validation failed: Name has already been taken")
                .with_status("name_taken"),
        );
    }
    let id = world.rng.hex(16);
    let created_at = now_rfc3339();
    world.apps.insert(
        name.clone(),
        AppRec {
            id: id.clone(),
            name,
            network: req.network,
            created_at: created_at.clone(),
            visible_at: Instant::now() + sim.config.timings.app_visibility_delay,
            deleting_until: None,
            secrets: Default::default(),
            machines: BTreeMap::new(),
        },
    );
    let created_ms = chrono::Utc::now().timestamp_millis();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "created_at": created_ms })),
    ))
}

/// `GET /apps/{app}`.
pub async fn get_app(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut world = sim.world_for(&name);
    let app = readable_app(&mut world, &name)?;
    Ok(Json(app.json(&sim.config.org_slug, &sim.config.org_name)))
}

/// `GET /apps?org_slug=` (required).
pub async fn list_apps(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    match q.get("org_slug") {
        None => return Err(ApiError::bad_request("org_slug is required")),
        Some(o) if *o != sim.config.org_slug => {
            return Err(ApiError::not_found(format!("organization {o} not found")));
        }
        Some(_) => {}
    }
    let world = sim.world();
    let now = Instant::now();
    let apps: Vec<Value> = world
        .apps
        .values()
        .filter(|a| a.readable(now))
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "machine_count": a.live_machine_count(),
                "network": a.network.clone().unwrap_or_else(|| "default".into()),
            })
        })
        .collect();
    Ok(Json(json!({ "total_apps": apps.len(), "apps": apps })))
}

/// `DELETE /apps/{app}[?force=true]` → 202; completes after `app_delete_delay`. Without `force`,
/// an app with running machines is refused (Fly: "Machines should be stopped before deletion").
pub async fn delete_app(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let force = q.get("force").is_some_and(|v| v == "true");
    let mut world = sim.world_for(&name);
    if world.foreign.contains(&name) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "unauthorized"));
    }
    let Some(app) = world.apps.get_mut(&name) else {
        return Err(ApiError::not_found("app not found"));
    };
    if app.deleting_until.is_some() {
        return Ok(StatusCode::ACCEPTED);
    }
    let running = app
        .machines
        .values()
        .any(|m| matches!(m.state.as_str(), "started" | "starting"));
    if running && !force {
        return Err(ApiError::precondition(
            "failed_precondition: app has running machines; stop them first or use force=true",
        ));
    }
    for m in app.machines.values_mut() {
        m.process = None;
        m.schedule.clear();
        m.state = "destroyed".into();
        m.event("destroy", "destroyed");
    }
    app.deleting_until = Some(Instant::now() + sim.config.timings.app_delete_delay);
    Ok(StatusCode::ACCEPTED)
}
