//! Debug endpoints under `/__sim` (no auth): state dump, request log, reset, faults, app URLs,
//! crashing a machine, adding foreign apps, toggling rate limits.

use crate::error::{parse_body, ApiError, ApiResult};
use crate::faults::{FaultSettings, FaultState};
use crate::sim::Sim;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// The base URL standing in for the app on Fly's private network (`http://<app>.internal:<port>`, 6PN): the
/// first started, process-backed machine. Reachable from inside the org whatever the machine's services.
pub fn app_url(sim: &Sim, app: &str) -> Option<String> {
    reachable_url(sim, app, false)
}

/// The base URL standing in for `https://<app>.fly.dev`: as [`app_url`], but only for a machine whose config
/// opens a public service (a `services` entry with ports). As on Fly, a machine without one is not reachable
/// from the internet.
pub fn public_app_url(sim: &Sim, app: &str) -> Option<String> {
    reachable_url(sim, app, true)
}

fn reachable_url(sim: &Sim, app: &str, public: bool) -> Option<String> {
    let world = sim.world();
    let a = world.apps.get(app)?;
    a.machines
        .values()
        .filter(|m| m.state == "started")
        .filter(|m| !public || has_public_service(&m.config))
        .find_map(|m| m.process.as_ref())
        .map(|p| format!("http://127.0.0.1:{}", p.port))
}

/// Whether a machine config exposes any port to the internet.
pub fn has_public_service(config: &Value) -> bool {
    config["services"].as_array().is_some_and(|services| {
        services
            .iter()
            .any(|s| s["ports"].as_array().is_some_and(|p| !p.is_empty()))
    })
}

/// The whole world as JSON, including each machine's effective env (config env + booted secrets).
pub fn dump(sim: &Sim) -> Value {
    let apps: Vec<Value> = {
        let world = sim.world();
        let now = Instant::now();
        world
            .apps
            .values()
            .map(|a| {
                let machines: Vec<Value> = a
                    .machines
                    .values()
                    .map(|m| {
                        let mut j = m.json();
                        j["region_defaulted"] = m.region_defaulted.into();
                        j["effective_env"] = json!(m.effective_env());
                        j["secrets_version"] = m.secrets_version.into();
                        j["lease"] = m.lease.as_ref().map_or(Value::Null, |l| {
                            json!({"owner": l.owner, "expires_at": l.expires_at, "active": l.active()})
                        });
                        j["process"] = m.process.as_ref().map_or(Value::Null, |p| {
                            json!({"pid": p.pid(), "port": p.port})
                        });
                        j
                    })
                    .collect();
                json!({
                    "name": a.name,
                    "id": a.id,
                    "network": a.network,
                    "visible": now >= a.visible_at,
                    "deleting": a.deleting_until.is_some(),
                    "secrets_version": a.secrets.version,
                    "machines": machines,
                })
            })
            .collect()
    };
    let (foreign, reserved): (Vec<String>, Vec<String>) = {
        let world = sim.world();
        let now = std::time::Instant::now();
        (
            world.foreign.iter().cloned().collect(),
            world
                .reserved
                .iter()
                .filter(|(_, until)| **until > now)
                .map(|(name, _)| name.clone())
                .collect(),
        )
    };
    let mut apps = apps;
    for a in apps.iter_mut() {
        let name = a["name"].as_str().unwrap_or_default().to_string();
        a["base_url"] = app_url(sim, &name).map_or(Value::Null, Value::from);
    }
    json!({
        "org_slug": sim.config.org_slug,
        "apps": apps,
        "foreign_apps": foreign,
        "reserved_names": reserved,
        "faults": sim.faults().settings,
    })
}

pub async fn state(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(dump(&sim))
}

pub async fn requests(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.log().entries()))
}

pub async fn reset(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

pub async fn get_faults(State(sim): State<Arc<Sim>>) -> Json<FaultSettings> {
    Json(sim.faults().settings.clone())
}

/// Replaces the fault settings (and re-seeds the generator).
pub async fn put_faults(
    State(sim): State<Arc<Sim>>,
    body: Bytes,
) -> ApiResult<Json<FaultSettings>> {
    let settings: FaultSettings = parse_body(&body)?;
    *sim.faults() = FaultState::new(settings.clone());
    Ok(Json(settings))
}

pub async fn get_app_url(
    State(sim): State<Arc<Sim>>,
    Path(app): Path<String>,
) -> ApiResult<Json<Value>> {
    if !sim.world().apps.contains_key(&app) {
        return Err(ApiError::not_found("app not found"));
    }
    Ok(Json(json!({
        "app": app,
        "url": app_url(&sim, &app),
        "public_url": public_app_url(&sim, &app),
    })))
}

/// Kills the machine's process (if any) and leaves it crashed: state `stopped`, checks critical.
pub fn crash_machine(sim: &Sim, id: &str) -> bool {
    let mut world = sim.world();
    let Some((_, m)) = world.find_machine_mut(id) else {
        return false;
    };
    m.process = None;
    m.schedule.clear();
    m.crashed = true;
    m.state = "stopped".into();
    m.event("exit", "crashed (fault injection)");
    true
}

pub async fn crash(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if crash_machine(&sim, &id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("machine not found"))
    }
}

#[derive(Deserialize)]
struct ForeignApp {
    name: String,
}

pub async fn add_foreign(State(sim): State<Arc<Sim>>, body: Bytes) -> ApiResult<StatusCode> {
    let req: ForeignApp = parse_body(&body)?;
    sim.world().foreign.insert(req.name);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct RateLimits {
    enabled: bool,
}

pub async fn put_rate_limits(State(sim): State<Arc<Sim>>, body: Bytes) -> ApiResult<StatusCode> {
    let req: RateLimits = parse_body(&body)?;
    sim.limiter().set_enabled(req.enabled);
    Ok(StatusCode::NO_CONTENT)
}
