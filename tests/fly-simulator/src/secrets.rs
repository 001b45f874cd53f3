//! App secrets with a version counter, and their handlers.

use crate::apps::readable_app;
use crate::error::{parse_body, ApiError, ApiResult};
use crate::sim::Sim;
use crate::state::now_rfc3339;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct SecretRec {
    value: String,
    created_at: String,
    updated_at: String,
}

/// Current secrets plus every version's snapshot (machines boot with a snapshot).
#[derive(Default)]
pub struct SecretStore {
    pub version: u64,
    values: BTreeMap<String, SecretRec>,
    history: Vec<(u64, Instant, BTreeMap<String, String>)>,
}

impl SecretStore {
    fn commit(&mut self) -> u64 {
        self.version += 1;
        let snapshot = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        self.history.push((self.version, Instant::now(), snapshot));
        self.version
    }

    /// The snapshot a machine boots with. With `min_version` the newest (which must be ≥ it);
    /// without it only versions older than `propagation` are visible (eventual consistency).
    pub fn snapshot_for(
        &self,
        min_version: Option<u64>,
        propagation: Duration,
    ) -> Result<(u64, BTreeMap<String, String>), ApiError> {
        let pick = |v: &(u64, Instant, BTreeMap<String, String>)| (v.0, v.2.clone());
        match min_version {
            Some(min) if min > self.version => Err(ApiError::bad_request(format!(
                "min_secrets_version {min} is not available yet (latest is {})",
                self.version
            ))),
            Some(_) => Ok(self.history.last().map(pick).unwrap_or_default()),
            None => Ok(self
                .history
                .iter()
                .rev()
                .find(|v| v.1.elapsed() >= propagation)
                .map(pick)
                .unwrap_or_default()),
        }
    }

    /// All current values (for redacting the request log).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(|v| v.value.as_str())
    }

    fn list_json(&self) -> Vec<Value> {
        self.values
            .iter()
            .map(|(name, s)| {
                json!({
                    "name": name,
                    "digest": hex::encode(&Sha256::digest(s.value.as_bytes())[..8]),
                    "created_at": s.created_at,
                    "updated_at": s.updated_at,
                })
            })
            .collect()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[derive(Deserialize)]
struct SetSecrets {
    values: BTreeMap<String, Option<String>>,
}

/// `POST /apps/{app}/secrets` `{"values":{K: v|null}}` → `{secrets, version}`.
pub async fn set_secrets(
    State(sim): State<Arc<Sim>>,
    Path(app): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: SetSecrets = parse_body(&body)?;
    if let Some(bad) = req.values.keys().find(|k| !valid_name(k)) {
        return Err(ApiError::bad_request(format!(
            "invalid secret name {bad:?}"
        )));
    }
    let mut world = sim.world_for(&app);
    let app = readable_app(&mut world, &app)?;
    let now = now_rfc3339();
    for (name, value) in req.values {
        match value {
            Some(value) => {
                let created_at = app
                    .secrets
                    .values
                    .get(&name)
                    .map_or(now.clone(), |s| s.created_at.clone());
                app.secrets.values.insert(
                    name,
                    SecretRec {
                        value,
                        created_at,
                        updated_at: now.clone(),
                    },
                );
            }
            None => {
                app.secrets.values.remove(&name);
            }
        }
    }
    let version = app.secrets.commit();
    Ok(Json(
        json!({ "secrets": app.secrets.list_json(), "version": version, "Version": version }),
    ))
}

/// `GET /apps/{app}/secrets`.
pub async fn list_secrets(
    State(sim): State<Arc<Sim>>,
    Path(app): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut world = sim.world_for(&app);
    let app = readable_app(&mut world, &app)?;
    Ok(Json(json!({ "secrets": app.secrets.list_json() })))
}

/// `DELETE /apps/{app}/secrets/{name}` → `{version}`.
pub async fn delete_secret(
    State(sim): State<Arc<Sim>>,
    Path((app, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut world = sim.world_for(&app);
    let app = readable_app(&mut world, &app)?;
    if app.secrets.values.remove(&name).is_none() {
        return Err(ApiError::not_found(format!("secret {name} not found")));
    }
    Ok(Json(json!({ "version": app.secrets.commit() })))
}
