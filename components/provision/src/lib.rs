//! Spin component `provision`: `POST /provision` reconciles an entitled user's app towards one started
//! machine. The work lives in fleet-spin-runtime and fleet-reconcile.

use fleet_spin_runtime::{handle_hint, Intent};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    handle_hint(req, Intent::Provision).await
}
