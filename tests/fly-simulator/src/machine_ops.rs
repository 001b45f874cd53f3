//! Machine operations: start, stop, wait (408 on timeout).

use crate::error::{parse_body, ApiError, ApiResult};
use crate::leases::check_nonce;
use crate::machines::{machine_mut, schedule_boot};
use crate::sim::Sim;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `POST …/start`: from stopped/created/failed to starting → started. Already running: 200.
pub async fn start(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let mut world = sim.world_for(&app);
    let m = machine_mut(&mut world, &app, &id)?;
    check_nonce(m, &headers)?;
    let previous = m.state.clone();
    match previous.as_str() {
        "stopped" | "created" | "failed" => {
            m.state = "starting".into();
            m.event("start", "starting");
            schedule_boot(m, &sim);
        }
        "started" | "starting" => {}
        other => {
            return Err(ApiError::precondition(format!(
                "failed_precondition: unable to start machine from current state: '{other}'"
            )))
        }
    }
    Ok(Json(
        json!({ "status": "success", "previous_state": previous }),
    ))
}

#[derive(Deserialize, Default)]
struct StopBody {
    signal: Option<String>,
    timeout: Option<Value>,
}

/// `POST …/stop` `{signal, timeout}` → stopping → stopped. Already stopped: 200.
pub async fn stop(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: StopBody = parse_body(&body)?;
    let signal = req.signal.unwrap_or_else(|| "SIGINT".into());
    if !signal.starts_with("SIG") {
        return Err(ApiError::bad_request(format!("invalid signal {signal:?}")));
    }
    let _ = req.timeout;
    let stop_delay = sim.config.timings.stop_delay;
    let mut world = sim.world_for(&app);
    let m = machine_mut(&mut world, &app, &id)?;
    check_nonce(m, &headers)?;
    match m.state.as_str() {
        "started" | "starting" => {
            m.process = None;
            m.state = "stopping".into();
            m.event("stop", &format!("stopping ({signal})"));
            m.schedule = VecDeque::from([("stopped", Instant::now() + stop_delay)]);
        }
        "stopped" | "stopping" | "created" | "failed" => {}
        other => {
            return Err(ApiError::precondition(format!(
                "failed_precondition: unable to stop machine from current state: '{other}'"
            )))
        }
    }
    Ok(Json(json!({ "ok": true })))
}

const WAIT_STATES: [&str; 6] = [
    "started",
    "stopped",
    "suspended",
    "destroyed",
    "failed",
    "settled",
];
const SETTLED: [&str; 5] = ["started", "stopped", "suspended", "destroyed", "failed"];

/// `GET …/wait?state=a,b&timeout=N` (1–60 s, default 60): 200 `{ok, state}` or 408 on timeout.
pub async fn wait(
    State(sim): State<Arc<Sim>>,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    let wanted: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "state")
        .flat_map(|(_, v)| v.split(',').map(str::to_string))
        .collect();
    let wanted = if wanted.is_empty() {
        vec!["started".to_string()]
    } else {
        wanted
    };
    if let Some(bad) = wanted.iter().find(|s| !WAIT_STATES.contains(&s.as_str())) {
        return Err(ApiError::bad_request(format!("invalid state {bad:?}")));
    }
    let timeout = match q.iter().find(|(k, _)| k == "timeout") {
        None => 60,
        Some((_, t)) => t
            .parse::<u64>()
            .ok()
            .filter(|t| (1..=60).contains(t))
            .ok_or_else(|| {
                ApiError::bad_request("timeout must be an integer from 1 to 60 seconds")
            })?,
    };
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        let state = {
            let mut world = sim.world_for(&app);
            machine_mut(&mut world, &app, &id)?.state.clone()
        };
        let reached = wanted
            .iter()
            .any(|w| *w == state || (w == "settled" && SETTLED.contains(&state.as_str())));
        if reached {
            return Ok(Json(json!({ "ok": true, "state": state })));
        }
        if Instant::now() >= deadline {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "deadline_exceeded: machine is {state}, not {}",
                    wanted.join(",")
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
