//! Machine leases: acquire, refresh, get, release (with the `fly-machine-lease-nonce` header).

use crate::client::{ApiRequest, FlyClient};
use crate::error::{FlyError, Idempotency::*};
use crate::ids::{AppName, MachineId};
use crate::transport::Transport;
use crate::types::{CreateLeaseRequest, Lease, LeaseEnvelope};
use http::Method;

impl<T: Transport> FlyClient<T> {
    /// `POST …/lease` without a nonce. 409 (`is_conflict()`) when someone else holds it.
    /// Non-idempotent: after an ambiguous failure the lease may be ours but its nonce unknown.
    pub async fn acquire_lease(
        &self,
        app: &AppName,
        machine: &MachineId,
        ttl_secs: u64,
        description: Option<&str>,
    ) -> Result<Lease, FlyError> {
        let body = CreateLeaseRequest {
            ttl: ttl_secs,
            description: description.map(str::to_string),
        };
        let req =
            ApiRequest::new(Method::POST, lease_path(app, machine), NonIdempotent).json(&body);
        Ok(self.call::<LeaseEnvelope>(req).await?.data)
    }

    /// `POST …/lease` with our nonce: extends the lease.
    pub async fn refresh_lease(
        &self,
        app: &AppName,
        machine: &MachineId,
        nonce: &str,
        ttl_secs: u64,
    ) -> Result<Lease, FlyError> {
        let body = CreateLeaseRequest {
            ttl: ttl_secs,
            description: None,
        };
        let req = ApiRequest::new(Method::POST, lease_path(app, machine), Idempotent)
            .json(&body)
            .nonce(Some(nonce));
        Ok(self.call::<LeaseEnvelope>(req).await?.data)
    }

    /// `GET …/lease` (404 when none).
    pub async fn get_lease(&self, app: &AppName, machine: &MachineId) -> Result<Lease, FlyError> {
        let req = ApiRequest::new(Method::GET, lease_path(app, machine), Idempotent);
        Ok(self.call::<LeaseEnvelope>(req).await?.data)
    }

    /// `DELETE …/lease` with the required nonce.
    pub async fn release_lease(
        &self,
        app: &AppName,
        machine: &MachineId,
        nonce: &str,
    ) -> Result<(), FlyError> {
        let req = ApiRequest::new(Method::DELETE, lease_path(app, machine), Idempotent)
            .nonce(Some(nonce));
        self.call_empty(req).await
    }
}

fn lease_path(app: &AppName, machine: &MachineId) -> String {
    format!("/apps/{app}/machines/{machine}/lease")
}
