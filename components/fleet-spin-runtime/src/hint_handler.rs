//! `POST /provision` and `POST /deprovision`: authenticate, parse the hint, check the entitlement in the
//! database (never the payload), mark the user due and reconcile within the time budget.

use fleet_http::{parse_hint, ApiError, SIGNATURE_HEADER};
use fleet_reconcile::{wants_app, Cause, CountingTransport, Reconciler, SystemClock};
use fleet_store::UserId;
use fly_api::transport_spin::SpinTransport;
use spin_sdk::http::{Method, Request, Response};

use crate::respond::{error_response, json_response};
use crate::settings::Settings;
use crate::store::open_store;
use crate::webhook_auth::authenticate;

/// Which way the route pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Provision,
    Deprovision,
}

impl Intent {
    fn name(self) -> &'static str {
        match self {
            Intent::Provision => "provision",
            Intent::Deprovision => "deprovision",
        }
    }
}

pub async fn handle_hint(req: Request, intent: Intent) -> Response {
    match run(req, intent).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn run(req: Request, intent: Intent) -> Result<Response, ApiError> {
    if *req.method() != Method::Post {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let settings = Settings::load()?;
    let header = |name: &str| req.header(name).and_then(|v| v.as_str());
    let mut store = open_store(settings.database_url.expose())?;
    authenticate(
        &settings,
        &mut store,
        header("authorization"),
        header(SIGNATURE_HEADER),
        req.body(),
    )?;
    let hint = parse_hint(req.body())?;
    let user_id = UserId::new(hint.user_id);

    let internal = |e: fleet_store::StoreError| {
        ApiError::internal(fleet_store::sanitize_error(&e.to_string()))
    };
    let entitlement = store.entitlement(user_id).map_err(internal)?;
    let entitled = wants_app(&entitlement);
    match (intent, entitled) {
        (Intent::Provision, false) if entitlement.held => {
            return Err(ApiError::conflict(
                "held",
                "an operator forced this user's app down until the hold is lifted",
            ))
        }
        (Intent::Provision, false) => {
            return Err(ApiError::conflict(
                "not_entitled",
                "the user has no active Pro or Elite subscription",
            ))
        }
        (Intent::Deprovision, true) => {
            return Err(ApiError::conflict(
                "entitled",
                "the user still has an active Pro or Elite subscription",
            ))
        }
        _ => {}
    }
    store
        .mark_due(user_id, chrono::Utc::now(), entitled)
        .map_err(internal)?;

    let counter = CountingTransport::new(SpinTransport);
    let fly = settings.fly_client(&counter);
    let owner = format!("{}:{}", intent.name(), uuid::Uuid::new_v4());
    // The user's tier picks the machine's guest and region (per-tier sizes).
    let config = settings.reconcile_for(entitlement.tier.map(|t| t.as_str()));
    let mut reconciler = Reconciler {
        store: &mut store,
        fly: &fly,
        config: &config,
        clock: &SystemClock,
        owner: &owner,
        cause: Cause::hint(hint.tier.as_deref(), hint.reason.as_deref()),
    };
    let mut outcome = reconciler
        .reconcile(user_id, settings.budget)
        .await
        .map_err(internal)?;
    outcome.fly_calls = counter.calls();
    let status = if outcome.converged { 200 } else { 202 };
    Ok(json_response(status, &outcome))
}
