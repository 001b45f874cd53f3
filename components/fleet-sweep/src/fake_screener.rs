//! A stand-in for the screeners' `/health` (tests and the benchmark only, feature `bench`): answers
//! `GET /apps/{app}/health` the way the screener on that app's machine would, from the simulator's view of
//! the machine's env (`USER_ID`, `RUN_MODE`), unless a test overrides the answer (e.g. a wrong user). Like
//! the screener, an app whose machine has a probe token (`FLEET_PROBE_TOKEN`) shows its details only to
//! `Authorization: Bearer <token>`: liveness only without one, 401 for a wrong one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What an app's screener answers instead of its real identity.
#[derive(Clone, Debug)]
pub struct Answer {
    pub user_id: String,
    pub run_mode: String,
    pub status: String,
}

#[derive(Default)]
struct Shared {
    /// App → identity, known up front (the benchmark) or learned from the simulator.
    known: HashMap<String, Answer>,
    overrides: HashMap<String, Answer>,
    /// App → the probe token its machine booted with (learned from the simulator).
    tokens: HashMap<String, String>,
    probes: u64,
}

/// The running fake; serves on 127.0.0.1 until the runtime it was started on shuts down.
pub struct FakeScreener {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

#[derive(Clone)]
struct Ctx {
    shared: Arc<Mutex<Shared>>,
    sim_root: String,
    http: reqwest::Client,
}

impl FakeScreener {
    /// Starts on `runtime`; `sim_root` is the simulator's root URL (for its state dump).
    pub fn start(runtime: &tokio::runtime::Runtime, sim_root: String) -> FakeScreener {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let ctx = Ctx {
            shared: shared.clone(),
            sim_root,
            http: reqwest::Client::new(),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .expect("bind the fake screener");
        let port = listener.local_addr().expect("local addr").port();
        let app = Router::new()
            .route("/apps/{app}/health", get(health))
            .with_state(ctx);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeScreener { port, shared }
    }

    /// The `app_url_template` pointing at this fake.
    pub fn url_template(&self) -> String {
        format!("http://127.0.0.1:{}/apps/{{app}}", self.port)
    }

    /// Makes `app`'s screener answer with `answer` from now on.
    pub fn answer_as(&self, app: &str, answer: Answer) {
        self.lock().overrides.insert(app.to_string(), answer);
    }

    pub fn clear_override(&self, app: &str) {
        self.lock().overrides.remove(app);
    }

    /// Registers an app's real identity (skips the simulator lookup; the benchmark's 1,000 apps).
    pub fn know(&self, app: &str, user_id: &str) {
        self.lock().known.insert(
            app.to_string(),
            Answer {
                user_id: user_id.into(),
                run_mode: "user_dedicated".into(),
                status: "ok".into(),
            },
        );
    }

    pub fn probes(&self) -> u64 {
        self.lock().probes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn health(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let known = {
        let mut shared = ctx.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.probes += 1;
        shared
            .overrides
            .get(&app)
            .or_else(|| shared.known.get(&app))
            .cloned()
    };
    let answer = match known {
        Some(answer) => Some(answer),
        None => match identity_from_sim(&ctx, &app).await {
            Some((answer, token)) => {
                let mut shared = ctx.shared.lock().unwrap_or_else(|p| p.into_inner());
                match token {
                    Some(token) => shared.tokens.insert(app.clone(), token),
                    None => shared.tokens.remove(&app),
                };
                Some(answer)
            }
            None => None,
        },
    };
    let token = {
        let shared = ctx.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.tokens.get(&app).cloned()
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let detailed = match (&token, given) {
        (None, _) => true,
        (Some(token), Some(given)) if token == given => true,
        (Some(_), Some(_)) => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "unauthorized", "detail": "a valid probe token is required"})),
            )
        }
        (Some(_), None) => false,
    };
    let Some(answer) = answer else {
        // No started machine: like Fly's proxy with nothing behind it.
        return (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": "no started machine"})),
        );
    };
    let code = if answer.status == "failing" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    if !detailed {
        return (code, Json(json!({"status": answer.status})));
    }
    let body = json!({
        "status": answer.status,
        "reasons": [],
        "run_mode": answer.run_mode,
        "user_id": answer.user_id,
        "trader_count": 1,
        "last_candle_at": chrono::Utc::now().to_rfc3339(),
        "app": app,
    });
    (code, Json(body))
}

/// The env of the app's first started machine, as the simulator booted it: its identity and probe token.
async fn identity_from_sim(ctx: &Ctx, app: &str) -> Option<(Answer, Option<String>)> {
    let state: Value = ctx
        .http
        .get(format!("{}/__sim/state", ctx.sim_root))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let machine = state["apps"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == app)?["machines"]
        .as_array()?
        .iter()
        .find(|m| m["state"] == "started")?
        .clone();
    let env = &machine["effective_env"];
    let answer = Answer {
        user_id: env["USER_ID"].as_str()?.to_string(),
        run_mode: env["RUN_MODE"].as_str().unwrap_or_default().to_string(),
        status: "ok".into(),
    };
    let token = env[fleet_reconcile::PROBE_TOKEN_SECRET]
        .as_str()
        .map(str::to_string);
    Some((answer, token))
}
