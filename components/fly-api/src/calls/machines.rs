//! Machines: create, get, list, wait, stop, start, update, delete.

use crate::client::{ApiRequest, FlyClient};
use crate::error::{FlyError, Idempotency::*};
use crate::ids::{AppName, MachineId};
use crate::transport::Transport;
use crate::types::{
    CreateMachineRequest, ListMachines, Machine, StopRequest, UpdateMachineRequest, WaitResponse,
};
use http::Method;
use std::time::Duration;

/// The longest a single `wait` may block (Fly's maximum).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

impl<T: Transport> FlyClient<T> {
    /// `POST /apps/{app}/machines`. Non-idempotent: prefer [`crate::create_machine_idempotent`].
    pub async fn create_machine(
        &self,
        app: &AppName,
        request: &CreateMachineRequest,
    ) -> Result<Machine, FlyError> {
        let req = ApiRequest::new(Method::POST, format!("/apps/{app}/machines"), NonIdempotent)
            .json(request);
        self.call(req).await
    }

    /// `GET /apps/{app}/machines/{id}`.
    pub async fn get_machine(&self, app: &AppName, id: &MachineId) -> Result<Machine, FlyError> {
        self.call(ApiRequest::new(
            Method::GET,
            machine_path(app, id, ""),
            Idempotent,
        ))
        .await
    }

    /// `GET /apps/{app}/machines` with `region`, `include_deleted` and `metadata.K=V` filters.
    pub async fn list_machines(
        &self,
        app: &AppName,
        filter: &ListMachines,
    ) -> Result<Vec<Machine>, FlyError> {
        let mut req = ApiRequest::new(Method::GET, format!("/apps/{app}/machines"), Idempotent);
        if let Some(r) = &filter.region {
            req = req.query("region", r);
        }
        if filter.include_deleted {
            req = req.query("include_deleted", "true");
        }
        for (k, v) in &filter.metadata {
            req = req.query(format!("metadata.{k}"), v);
        }
        self.call(req).await
    }

    /// `GET …/wait?state=&timeout=` (timeout clamped to 1..=60 s). A 408 (`is_wait_timeout()`,
    /// class `Transient`) means "not yet": call again.
    pub async fn wait_machine(
        &self,
        app: &AppName,
        id: &MachineId,
        state: &str,
        timeout: Duration,
        instance_id: Option<&str>,
    ) -> Result<WaitResponse, FlyError> {
        let secs = timeout.as_secs().clamp(1, MAX_WAIT.as_secs());
        let mut req = ApiRequest::new(Method::GET, machine_path(app, id, "/wait"), Idempotent)
            .query("state", state)
            .query("timeout", secs.to_string());
        if let Some(i) = instance_id {
            req = req.query("instance_id", i);
        }
        self.call(req).await
    }

    /// `POST …/stop` with `{signal, timeout}`.
    pub async fn stop_machine(
        &self,
        app: &AppName,
        id: &MachineId,
        request: &StopRequest,
        nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let req = ApiRequest::new(Method::POST, machine_path(app, id, "/stop"), Idempotent)
            .json(request)
            .nonce(nonce);
        self.call_empty(req).await
    }

    /// `POST …/start`.
    pub async fn start_machine(
        &self,
        app: &AppName,
        id: &MachineId,
        nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let req =
            ApiRequest::new(Method::POST, machine_path(app, id, "/start"), Idempotent).nonce(nonce);
        self.call_empty(req).await
    }

    /// `POST /apps/{app}/machines/{id}` with the full config (GET it first and modify).
    pub async fn update_machine(
        &self,
        app: &AppName,
        id: &MachineId,
        request: &UpdateMachineRequest,
        nonce: Option<&str>,
    ) -> Result<Machine, FlyError> {
        let req = ApiRequest::new(Method::POST, machine_path(app, id, ""), Idempotent)
            .json(request)
            .nonce(nonce);
        self.call(req).await
    }

    /// `DELETE /apps/{app}/machines/{id}` (`force=true` kills a running machine).
    pub async fn delete_machine(
        &self,
        app: &AppName,
        id: &MachineId,
        force: bool,
        nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let mut req =
            ApiRequest::new(Method::DELETE, machine_path(app, id, ""), Idempotent).nonce(nonce);
        if force {
            req = req.query("force", "true");
        }
        self.call_empty(req).await
    }
}

fn machine_path(app: &AppName, id: &MachineId, suffix: &str) -> String {
    format!("/apps/{app}/machines/{id}{suffix}")
}
