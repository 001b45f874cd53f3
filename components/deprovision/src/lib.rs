//! Spin component `deprovision`: `POST /deprovision` reconciles a no-longer-entitled user's app towards
//! deleted (machine stopped and destroyed, database role revoked, app deleted; traders and signals kept).

use fleet_spin_runtime::{handle_hint, with_request, Intent, MAX_BODY_BYTES};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    with_request(req, MAX_BODY_BYTES, |req| {
        handle_hint(req, Intent::Deprovision)
    })
    .await
}
