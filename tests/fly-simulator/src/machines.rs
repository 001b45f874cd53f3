//! Machines: create, get, list (filters, eventually consistent), update (full config), delete.

use crate::apps::readable_app;
use crate::error::{parse_body, ApiError, ApiResult};
use crate::leases::check_nonce;
use crate::machine_config;
use crate::sim::Sim;
use crate::state::{now_rfc3339, LeaseRec, MachineRec, SimState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// A machine of a readable app: 404 when either is unknown.
pub fn machine_mut<'a>(
    world: &'a mut SimState,
    app: &str,
    id: &str,
) -> ApiResult<&'a mut MachineRec> {
    readable_app(world, app)?
        .machines
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("machine not found"))
}

/// created → starting → started, on the clock.
pub fn schedule_boot(m: &mut MachineRec, sim: &Sim) {
    let now = Instant::now();
    let d = sim.config.timings.start_delay;
    m.schedule = VecDeque::from([("starting", now + d / 2), ("started", now + d)]);
}

#[derive(Deserialize)]
struct CreateMachine {
    name: Option<String>,
    region: Option<String>,
    config: Option<Value>,
    min_secrets_version: Option<u64>,
    #[serde(default)]
    skip_launch: bool,
    lease_ttl: Option<i64>,
}

/// `POST /apps/{app}/machines` → 200 Machine.
pub async fn create(
    State(sim): State<Arc<Sim>>,
    Path(app): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: CreateMachine = parse_body(&body)?;
    let mut config = req.config.unwrap_or(Value::Null);
    machine_config::validate(&mut config)?;
    let (region, region_defaulted) = machine_config::region(&sim.config, req.region.as_deref())?;
    if sim.faults().settings.full_regions.contains(&region) {
        return Err(ApiError::precondition(format!(
            "insufficient resources to create new machine in region {region}"
        ))
        .with_status("insufficient_capacity"));
    }
    let propagation = sim.config.timings.secrets_propagation_delay;
    let mut world = sim.world_for(&app);
    let (id, instance_id, ip, nonce, lease_version) = (
        world.rng.hex(14),
        world.rng.hex(26).to_uppercase(),
        format!("fdaa:0:1:a7b:{}::2", world.rng.hex(4)),
        world.rng.hex(12),
        world.rng.hex(26).to_uppercase(),
    );
    let app_rec = readable_app(&mut world, &app)?;
    let (secrets_version, secret_env) = app_rec
        .secrets
        .snapshot_for(req.min_secrets_version, propagation)?;
    let now = now_rfc3339();
    let mut m = MachineRec {
        name: req.name.unwrap_or_else(|| format!("machine-{}", &id[..6])),
        id: id.clone(),
        region,
        region_defaulted,
        state: "created".into(),
        config,
        instance_id,
        private_ip: ip,
        created_at: now.clone(),
        updated_at: now,
        created: Instant::now(),
        schedule: VecDeque::new(),
        lease: None,
        secrets_version,
        secret_env,
        checks: BTreeMap::new(),
        events: Vec::new(),
        process: None,
        crashed: false,
    };
    m.event("launch", "created");
    if let Some(ttl) = req.lease_ttl {
        m.lease = Some(LeaseRec {
            nonce,
            expires_at: chrono::Utc::now().timestamp() + ttl.clamp(1, 86_400),
            owner: format!("{}@sim.fly", sim.config.org_slug),
            description: String::new(),
            version: lease_version,
        });
    }
    if !req.skip_launch {
        schedule_boot(&mut m, &sim);
    }
    let mut json = m.json();
    if let Some(l) = &m.lease {
        json["nonce"] = l.nonce.clone().into();
    }
    app_rec.machines.insert(id, m);
    Ok(Json(json))
}

/// `GET /apps/{app}/machines/{id}`.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut world = sim.world_for(&app);
    Ok(Json(machine_mut(&mut world, &app, &id)?.json()))
}

/// `GET /apps/{app}/machines?region=&state=&include_deleted=&metadata.K=V`. A machine appears only
/// `list_lag` after creation (the list is served from an eventually consistent store).
pub async fn list(
    State(sim): State<Arc<Sim>>,
    Path(app): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Vec<Value>>> {
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let include_deleted = get("include_deleted") == Some("true");
    let states: Option<Vec<&str>> = get("state").map(|s| s.split(',').collect());
    let metadata: Vec<(&str, &str)> = q
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("metadata.")?, v.as_str())))
        .collect();
    let lag = sim.config.timings.list_lag;
    let mut world = sim.world_for(&app);
    let app = readable_app(&mut world, &app)?;
    let out = app
        .machines
        .values()
        .filter(|m| m.created.elapsed() >= lag)
        .filter(|m| include_deleted || m.state != "destroyed")
        .filter(|m| get("region").is_none_or(|r| m.region == r))
        .filter(|m| {
            states
                .as_ref()
                .is_none_or(|s| s.contains(&m.state.as_str()))
        })
        .filter(|m| metadata.iter().all(|(k, v)| m.metadata(k) == Some(*v)))
        .map(MachineRec::json)
        .collect();
    Ok(Json(out))
}

#[derive(Deserialize)]
struct UpdateMachine {
    config: Option<Value>,
    region: Option<String>,
    name: Option<String>,
    min_secrets_version: Option<u64>,
    #[serde(default)]
    skip_launch: bool,
}

/// `POST /apps/{app}/machines/{id}`: replaces the whole config; a running machine restarts with a
/// new `instance_id` and a fresh secrets snapshot.
pub async fn update(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: UpdateMachine = parse_body(&body)?;
    let mut config = req.config.unwrap_or(Value::Null);
    machine_config::validate(&mut config)?;
    let propagation = sim.config.timings.secrets_propagation_delay;
    let mut world = sim.world_for(&app);
    let instance_id = world.rng.hex(26).to_uppercase();
    let app_rec = readable_app(&mut world, &app)?;
    let snapshot = app_rec
        .secrets
        .snapshot_for(req.min_secrets_version, propagation)?;
    let m = app_rec
        .machines
        .get_mut(&id)
        .filter(|m| m.state != "destroyed")
        .ok_or_else(|| ApiError::not_found("machine not found"))?;
    check_nonce(m, &headers)?;
    if req.region.as_ref().is_some_and(|r| *r != m.region)
        || req.name.as_ref().is_some_and(|n| *n != m.name)
    {
        return Err(ApiError::bad_request("region and name cannot be changed"));
    }
    m.config = config;
    m.instance_id = instance_id;
    (m.secrets_version, m.secret_env) = snapshot;
    m.event("update", "updated");
    let running = matches!(m.state.as_str(), "started" | "starting");
    if !req.skip_launch && (running || m.state == "created") {
        m.process = None;
        m.state = "starting".into();
        schedule_boot(m, &sim);
    }
    Ok(Json(m.json()))
}

/// `DELETE /apps/{app}/machines/{id}[?force=true|kill=true]`: a running machine needs `force`.
pub async fn delete(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let force = ["force", "kill"]
        .iter()
        .any(|k| q.get(*k).is_some_and(|v| v == "true"));
    let stop_delay = sim.config.timings.stop_delay;
    let mut world = sim.world_for(&app);
    let m = machine_mut(&mut world, &app, &id)?;
    check_nonce(m, &headers)?;
    match m.state.as_str() {
        "destroyed" | "destroying" => return Ok(Json(serde_json::json!({"ok": true}))),
        "started" | "starting" | "stopping" if !force => return Err(ApiError::precondition(
            "failed_precondition: unable to destroy machine, not currently stopped or suspended",
        )),
        _ => {}
    }
    m.process = None;
    m.state = "destroying".into();
    m.schedule = VecDeque::from([("destroyed", Instant::now() + stop_delay)]);
    m.event("destroy", "destroying");
    Ok(Json(serde_json::json!({"ok": true})))
}
