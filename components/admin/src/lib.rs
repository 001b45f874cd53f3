//! Spin component `admin`: the dashboard page and JSON API under `/admin`. This file only adapts Spin's
//! request/response and variables; the routes, auth and handlers live in the fleet-admin crate.

use std::time::Duration;

use fleet_admin::{Admin, AdminConfig, AdminRequest, AdminResponse, Pacing};
use fleet_http::ApiError;
use fleet_reconcile::SystemClock;
use fleet_spin_runtime::admin_auth::AdminAuth;
use fleet_spin_runtime::settings::optional;
use fleet_spin_runtime::store::{open_store, AnyStore};
use fleet_spin_runtime::{with_request, Settings, MAX_BODY_BYTES};
use fly_api::transport_spin::SpinTransport;
use spin_sdk::http::{IncomingRequest, Request, Response};
use spin_sdk::http_component;

/// Admin actions answer within this much, even when `reconcile_budget_ms` allows more, so the page stays
/// responsive (Spin itself puts no deadline on a request; a proxy in front of it may).
const ADMIN_BUDGET_CAP: Duration = Duration::from_secs(20);

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    with_request(req, MAX_BODY_BYTES, handle_admin).await
}

async fn handle_admin(req: Request) -> Response {
    let request = AdminRequest::new(
        &req.method().to_string(),
        req.path_and_query().unwrap_or("/"),
        req.headers()
            .filter_map(|(name, value)| Some((name.to_string(), value.as_str()?.to_string()))),
        req.body().to_vec(),
    );
    let response = match configure() {
        Ok((settings, config)) => {
            let database_url = settings.database_url.expose().clone();
            let open = move || -> Result<AnyStore, ApiError> { open_store(&database_url) };
            let fly = settings.fly_client(SpinTransport);
            let admin = Admin {
                config: &config,
                open_store: &open,
                fly: &fly,
                clock: &SystemClock,
            };
            admin.handle(&request).await
        }
        Err(error) => AdminResponse::error(&error),
    };
    let mut builder = Response::builder();
    builder.status(response.status);
    for (name, value) in &response.headers {
        builder.header(name.as_str(), value.as_str());
    }
    builder.body(response.body).build()
}

fn configure() -> Result<(Settings, AdminConfig), ApiError> {
    let settings = Settings::load()?;
    let allow_tier_override = match optional("allow_tier_override", "false").trim() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(ApiError::new(
                500,
                "configuration",
                "variable allow_tier_override: expected true or false",
            ))
        }
    };
    let auth = AdminAuth::load()?;
    let config = AdminConfig {
        admin_token: auth.admin_token,
        throttle: auth.throttle,
        client_ip_header: auth.client_ip_header,
        allow_tier_override,
        reconcile: settings.reconcile.clone(),
        budget: settings.budget.min(ADMIN_BUDGET_CAP),
        pacing: migration_pacing()?,
    };
    Ok((settings, config))
}

/// `migration_batch_size` / `migration_interval_ms` (defaults: Fly's documented limits).
fn migration_pacing() -> Result<Pacing, ApiError> {
    let batch = optional("migration_batch_size", "");
    let interval = optional("migration_interval_ms", "");
    Pacing::from_variables(Some(&batch), Some(&interval)).map_err(|(variable, problem)| {
        ApiError::new(
            500,
            "configuration",
            format!("variable {variable}: {problem}"),
        )
    })
}
