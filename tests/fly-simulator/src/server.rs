//! The router and the handle (`FlySim`) that runs the simulator in-process or in its own thread.

use crate::config::SimConfig;
use crate::faults::{FaultSettings, FaultState};
use crate::request_log::LogEntry;
use crate::sim::Sim;
use crate::{apps, checks, debug, leases, machine_ops, machines, middleware, secrets};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TICK: Duration = Duration::from_millis(20);

async fn regions(axum::extract::State(sim): axum::extract::State<Arc<Sim>>) -> Json<Value> {
    let regions: Vec<Value> = sim
        .config
        .regions
        .iter()
        .map(|r| json!({"code": r, "name": r}))
        .collect();
    Json(json!({ "regions": regions }))
}

pub fn router(sim: Arc<Sim>) -> Router {
    let api = Router::new()
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route("/apps/{app}", get(apps::get_app).delete(apps::delete_app))
        .route(
            "/apps/{app}/secrets",
            get(secrets::list_secrets).post(secrets::set_secrets),
        )
        .route(
            "/apps/{app}/secrets/{name}",
            axum::routing::delete(secrets::delete_secret),
        )
        .route(
            "/apps/{app}/machines",
            get(machines::list).post(machines::create),
        )
        .route(
            "/apps/{app}/machines/{id}",
            get(machines::get)
                .post(machines::update)
                .delete(machines::delete),
        )
        .route("/apps/{app}/machines/{id}/start", post(machine_ops::start))
        .route("/apps/{app}/machines/{id}/stop", post(machine_ops::stop))
        .route("/apps/{app}/machines/{id}/wait", get(machine_ops::wait))
        .route(
            "/apps/{app}/machines/{id}/lease",
            get(leases::get)
                .post(leases::acquire)
                .delete(leases::release),
        )
        .route("/platform/regions", get(regions))
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            middleware::api_layer,
        ));
    let debug = Router::new()
        .route("/state", get(debug::state))
        .route("/requests", get(debug::requests))
        .route("/reset", post(debug::reset))
        .route("/faults", get(debug::get_faults).put(debug::put_faults))
        .route("/apps/{app}/url", get(debug::get_app_url))
        .route("/machines/{id}/crash", post(debug::crash))
        .route("/foreign-apps", post(debug::add_foreign))
        .route("/rate-limits", axum::routing::put(debug::put_rate_limits));
    Router::new()
        .nest("/v1", api)
        .nest("/__sim", debug)
        .with_state(sim)
}

/// Advances the clock-driven lifecycle and probes process-driven checks. Only process-driven machines need
/// it (their processes must start, exit and be probed on time); otherwise every read advances what it reads,
/// so a tick would only cost O(fleet) under the world's lock for nothing a caller can observe.
async fn ticker(sim: Arc<Sim>) {
    if sim.config.process_driver.is_none() {
        return;
    }
    let http = checks::http_client();
    let mut last_probe = Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        drop(sim.world());
        if last_probe.elapsed() >= sim.config.timings.check_interval {
            checks::probe_all(&sim, &http).await;
            last_probe = Instant::now();
        }
    }
}

/// A running simulator. Dropping it stops the server and kills driven processes.
pub struct FlySim {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    tick: JoinHandle<()>,
}

impl FlySim {
    /// Binds 127.0.0.1 (`config.port`, 0 = any free port) and serves on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<FlySim> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let sim = Arc::new(Sim::new(config));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(sim.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let tick = tokio::spawn(ticker(sim.clone()));
        Ok(FlySim {
            sim,
            addr,
            stop: Some(stop),
            server: Some(server),
            tick,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Machines API base, the stand-in for `https://api.machines.dev/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.root_url())
    }

    pub fn token(&self) -> &str {
        &self.sim.config.token
    }

    pub fn org_slug(&self) -> &str {
        &self.sim.config.org_slug
    }

    /// The same JSON as `GET /__sim/state`.
    pub fn state_dump(&self) -> Value {
        debug::dump(&self.sim)
    }

    pub fn request_log(&self) -> Vec<LogEntry> {
        self.sim.log().entries()
    }

    pub fn faults(&self) -> FaultSettings {
        self.sim.faults().settings.clone()
    }

    pub fn set_faults(&self, settings: FaultSettings) {
        *self.sim.faults() = FaultState::new(settings);
    }

    pub fn set_rate_limits_enabled(&self, enabled: bool) {
        self.sim.limiter().set_enabled(enabled);
    }

    pub fn add_foreign_app(&self, name: &str) {
        self.sim.world().foreign.insert(name.to_string());
    }

    /// The app on Fly's private network (`http://<app>.internal:<port>` equivalent; process driver only).
    pub fn app_url(&self, app: &str) -> Option<String> {
        debug::app_url(&self.sim, app)
    }

    /// The app's `https://<app>.fly.dev` equivalent: `None` unless a started machine opens a public service.
    pub fn public_app_url(&self, app: &str) -> Option<String> {
        debug::public_app_url(&self.sim, app)
    }

    pub fn crash_machine(&self, id: &str) -> bool {
        debug::crash_machine(&self.sim, id)
    }

    pub fn reset(&self) {
        self.sim.reset();
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.sim.reset();
    }
}

impl Drop for FlySim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.tick.abort();
        if let Some(server) = &self.server {
            server.abort();
        }
        self.sim.reset();
    }
}

/// A simulator on its own thread and runtime, for synchronous callers.
pub struct FlySimThread {
    sim: Option<FlySim>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FlySimThread {
    pub fn start(config: SimConfig) -> std::io::Result<FlySimThread> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let sim = runtime.block_on(FlySim::start(config))?;
        Ok(FlySimThread {
            sim: Some(sim),
            runtime: Some(runtime),
        })
    }

    pub fn sim(&self) -> &FlySim {
        self.sim.as_ref().expect("present until drop")
    }
}

impl Drop for FlySimThread {
    fn drop(&mut self) {
        if let (Some(sim), Some(rt)) = (self.sim.take(), self.runtime.take()) {
            rt.block_on(sim.shutdown());
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
