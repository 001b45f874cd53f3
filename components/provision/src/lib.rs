//! Spin component `provision`: `POST /provision` reconciles an entitled user's app towards one started
//! machine. The work lives in fleet-spin-runtime and fleet-reconcile.

use fleet_spin_runtime::{handle_hint, with_request, Intent, MAX_BODY_BYTES};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    with_request(req, MAX_BODY_BYTES, |req| {
        handle_hint(req, Intent::Provision)
    })
    .await
}
