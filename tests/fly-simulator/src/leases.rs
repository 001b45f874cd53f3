//! Machine leases: acquire/refresh (409 when held by someone else), get, release (nonce required).

use crate::error::{parse_body, ApiError, ApiResult};
use crate::machines::machine_mut;
use crate::sim::Sim;
use crate::state::{LeaseRec, MachineRec};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const NONCE_HEADER: &str = "fly-machine-lease-nonce";

fn nonce(headers: &HeaderMap) -> Option<&str> {
    headers.get(NONCE_HEADER).and_then(|v| v.to_str().ok())
}

/// Mutations of a leased machine must carry the holder's nonce.
pub fn check_nonce(m: &MachineRec, headers: &HeaderMap) -> ApiResult<()> {
    match &m.lease {
        Some(l) if l.active() && nonce(headers) != Some(l.nonce.as_str()) => {
            Err(ApiError::conflict(format!(
                "machine {} is leased by {}; send its {NONCE_HEADER}",
                m.id, l.owner
            )))
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize, Default)]
struct CreateLease {
    ttl: Option<i64>,
    description: Option<String>,
}

/// `POST …/lease` → 201 `{"status":"success","data":{nonce, expires_at, owner, description, version}}`.
pub async fn acquire(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: CreateLease = parse_body(&body)?;
    let ttl = req
        .ttl
        .or_else(|| q.get("ttl").and_then(|t| t.parse().ok()))
        .unwrap_or(30);
    if !(1..=86_400).contains(&ttl) {
        return Err(ApiError::bad_request(
            "ttl must be between 1 and 86400 seconds",
        ));
    }
    let mut world = sim.world_for(&app);
    let fresh_nonce = world.rng.hex(12);
    let version = world.rng.hex(26).to_uppercase();
    let m = machine_mut(&mut world, &app, &id)?;
    if m.state == "destroyed" {
        return Err(ApiError::not_found("machine not found"));
    }
    let expires_at = chrono::Utc::now().timestamp() + ttl;
    match &mut m.lease {
        Some(l) if l.active() => {
            if nonce(&headers) != Some(l.nonce.as_str()) {
                return Err(ApiError::conflict(format!(
                    "lease currently held by {}",
                    l.owner
                )));
            }
            l.expires_at = expires_at;
        }
        _ => {
            m.lease = Some(LeaseRec {
                nonce: fresh_nonce,
                expires_at,
                owner: format!("{}@sim.fly", sim.config.org_slug),
                description: req.description.unwrap_or_default(),
                version,
            });
        }
    }
    let lease = m.lease.as_ref().expect("set above");
    Ok((StatusCode::CREATED, Json(lease.envelope())))
}

/// `GET …/lease` → 200 or 404.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut world = sim.world_for(&app);
    let m = machine_mut(&mut world, &app, &id)?;
    match &m.lease {
        Some(l) if l.active() => Ok(Json(l.envelope())),
        _ => Err(ApiError::not_found("no active lease")),
    }
}

/// `DELETE …/lease` with the required nonce header.
pub async fn release(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let Some(given) = nonce(&headers).map(str::to_string) else {
        return Err(ApiError::bad_request(format!(
            "{NONCE_HEADER} header is required"
        )));
    };
    let mut world = sim.world_for(&app);
    let m = machine_mut(&mut world, &app, &id)?;
    match &m.lease {
        Some(l) if l.active() && l.nonce != given => {
            Err(ApiError::conflict("lease is held with a different nonce"))
        }
        Some(l) if l.active() => {
            m.lease = None;
            Ok(Json(json!({})))
        }
        _ => Err(ApiError::not_found("no active lease")),
    }
}
