//! Spin component `deprovision`: `POST /deprovision` reconciles a no-longer-entitled user's app towards
//! deleted (machine stopped and destroyed, database role revoked, app deleted; traders and signals kept).

use fleet_spin_runtime::{handle_hint, Intent};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    handle_hint(req, Intent::Deprovision).await
}
