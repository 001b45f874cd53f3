//! Spin component `health`: `POST /health/sweep` runs one sweep of the fleet (authenticated like the
//! webhooks) and `GET /health/apps/{user_id}` shows one app's live view to operators (admin token).
//! The work lives in fleet-sweep; this file is routing, auth and settings.

mod alerts;
mod settings;

use fleet_http::{ApiError, SIGNATURE_HEADER};
use fleet_reconcile::{CountingTransport, SystemClock};
use fleet_spin_runtime::admin_auth::AdminAuth;
use fleet_spin_runtime::store::open_store;
use fleet_spin_runtime::webhook_auth::authenticate;
use fleet_spin_runtime::{error_response, json_response, with_request, Settings, MAX_BODY_BYTES};
use fleet_store::{sanitize_error, StoreError, UserId};
use fleet_sweep::health::assess;
use fleet_sweep::observe::{Observed, Observer};
use fleet_sweep::{PriceTable, Sweeper};
use fly_api::transport_spin::SpinTransport;
use spin_sdk::http::{IncomingRequest, Method, Request, Response};
use spin_sdk::http_component;

const APPS_PREFIX: &str = "/health/apps/";
/// Events shown in the operator's view.
const VIEW_EVENTS: u32 = 20;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    with_request(req, MAX_BODY_BYTES, |req| async {
        match route(req).await {
            Ok(response) => response,
            Err(error) => error_response(&error),
        }
    })
    .await
}

async fn route(req: Request) -> Result<Response, ApiError> {
    let path = req
        .path()
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    match path.as_str() {
        "/health/sweep" if *req.method() == Method::Post => sweep(req).await,
        "/health/sweep" => Err(ApiError::method_not_allowed("POST")),
        p if p.starts_with(APPS_PREFIX) && *req.method() == Method::Get => {
            app_view(&req, &p[APPS_PREFIX.len()..]).await
        }
        p if p.starts_with(APPS_PREFIX) => Err(ApiError::method_not_allowed("GET")),
        _ => Err(ApiError::not_found(
            "try POST /health/sweep or GET /health/apps/{user_id}",
        )),
    }
}

fn internal(e: StoreError) -> ApiError {
    ApiError::internal(sanitize_error(&e.to_string()))
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

/// One sweep within `sweep_budget_ms`; answers the summary.
async fn sweep(req: Request) -> Result<Response, ApiError> {
    let settings = Settings::load()?;
    let mut store = open_store(settings.database_url.expose())?;
    authenticate(
        &settings,
        &mut store,
        header(&req, "authorization"),
        header(&req, SIGNATURE_HEADER),
        req.body(),
    )?;
    // Schedulers may send `{}` or nothing; anything else must at least be JSON.
    if !req.body().is_empty()
        && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(req.body()).is_err()
    {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body must be empty or a JSON object",
        ));
    }
    let sweep_config = settings::sweep_config()?;
    let counter = CountingTransport::new(SpinTransport);
    let fly = settings.fly_client(&counter);
    let owner = format!("sweep:{}", uuid::Uuid::new_v4());
    let prices = PriceTable::embedded();
    let calls = || counter.calls();
    let mut sweeper = Sweeper {
        store: &mut store,
        fly: &fly,
        probe: &SpinTransport,
        reconcile: &settings.reconcile,
        config: &sweep_config,
        prices: &prices,
        clock: &SystemClock,
        owner: &owner,
        fly_calls: &calls,
    };
    let summary = sweeper.run().await.map_err(internal)?;
    // Alerts go out after the sweep's own work, within their own bounded time (alert_delivery_budget_ms).
    let delivery = alerts::deliver(&mut store, &owner).await;
    let mut answer = serde_json::to_value(&summary).unwrap_or_default();
    answer["alert_delivery"] = delivery;
    Ok(json_response(200, &answer))
}

/// The stored row, a live observation (one Fly call and one probe) and recent events. Read only.
async fn app_view(req: &Request, user: &str) -> Result<Response, ApiError> {
    let settings = Settings::load()?;
    let mut store = open_store(settings.database_url.expose())?;
    let headers: Vec<(String, String)> = req
        .headers()
        .filter_map(|(name, value)| Some((name.to_string(), value.as_str()?.to_string())))
        .collect();
    AdminAuth::load()?.verify_bearer(
        &mut store,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        chrono::Utc::now().timestamp(),
    )?;
    let user_id = UserId::new(fleet_http::hint::parse_user_id(user)?);
    let sweep_config = settings::sweep_config()?;
    let state = store.read_user(user_id, VIEW_EVENTS).map_err(internal)?;
    let Some(row) = state.app else {
        return Err(ApiError::not_found("no app row for this user"));
    };
    let fly = settings.fly_client(SpinTransport);
    let observer = Observer {
        fly: &fly,
        probe: &SpinTransport,
        clock: &SystemClock,
        config: &sweep_config,
        probe_token: settings.reconcile.exposure.probe_key.clone(),
        deadline: fleet_store::time::after(chrono::Utc::now(), std::time::Duration::from_secs(20)),
    };
    let observed = observer.observe(&row).await;
    let verdict = match (&observed, state.entitlement.entitled) {
        (Observed::Seen(o), true) => Some(assess(
            o,
            row.machine_id.as_deref(),
            &row.user_id.to_string(),
        )),
        _ => None,
    };
    let view = fleet_sweep::view::app_view(
        &row,
        state.entitlement.entitled,
        &observed,
        verdict.as_ref(),
        &state.events,
    );
    Ok(json_response(200, &view))
}
