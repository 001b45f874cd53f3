//! Apps: create, get, list, delete, and claiming a deterministic name across collisions.

use crate::client::{ApiRequest, FlyClient};
use crate::error::{ErrorClass, FlyError, Idempotency::*};
use crate::ids::AppName;
use crate::naming::{resolve_collision, CollisionOutcome, NameCandidates, NameProbe};
use crate::transport::Transport;
use crate::types::{App, CreateAppRequest, ListAppsResponse};
use http::Method;

/// Result of [`FlyClient::claim_app`]. The caller persists the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppClaim {
    /// We created the app under this name.
    Created(AppName),
    /// The name was already ours (e.g. an earlier create whose reply was lost): adopted.
    Adopted(AppName),
    /// The name is mid-deletion or not yet readable: try again later with this name.
    RetryLater(AppName),
    /// Every candidate is held by someone else.
    Exhausted,
}

impl<T: Transport> FlyClient<T> {
    /// `POST /apps` (201). Sends both `name` and `app_name`, the org, and `network` when given.
    /// Non-idempotent: a 5xx/timeout is `Ambiguous`, and a repeat answers `NameTaken`.
    pub async fn create_app(&self, name: &AppName, network: Option<&str>) -> Result<(), FlyError> {
        let body = CreateAppRequest {
            name: name.to_string(),
            app_name: name.to_string(),
            org_slug: self.org().as_str().to_string(),
            network: network.map(str::to_string),
        };
        self.call_empty(ApiRequest::new(Method::POST, "/apps".into(), NonIdempotent).json(&body))
            .await
    }

    /// `GET /apps/{app}`.
    pub async fn get_app(&self, name: &AppName) -> Result<App, FlyError> {
        self.call(ApiRequest::new(
            Method::GET,
            format!("/apps/{name}"),
            Idempotent,
        ))
        .await
    }

    /// `GET /apps?org_slug=<our org>`.
    pub async fn list_apps(&self) -> Result<ListAppsResponse, FlyError> {
        let req = ApiRequest::new(Method::GET, "/apps".into(), Idempotent)
            .query("org_slug", self.org().as_str());
        self.call(req).await
    }

    /// `DELETE /apps/{app}` (202, completes asynchronously; `force` stops machines first).
    pub async fn delete_app(&self, name: &AppName, force: bool) -> Result<(), FlyError> {
        let mut req = ApiRequest::new(Method::DELETE, format!("/apps/{name}"), Idempotent);
        if force {
            req = req.query("force", "true");
        }
        self.call_empty(req).await
    }

    /// `GET /apps/{app}` interpreted for a collision: 200 / 403 / 404, other errors returned.
    pub async fn probe_name(&self, name: &AppName) -> Result<NameProbe, FlyError> {
        match self.get_app(name).await {
            Ok(app) => Ok(NameProbe::Visible {
                org_slug: app.organization.map(|o| o.slug).unwrap_or_default(),
            }),
            Err(e) if e.class == ErrorClass::Forbidden => Ok(NameProbe::Forbidden),
            Err(e) if e.class == ErrorClass::NotFound => Ok(NameProbe::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Creates the user's app under the first free candidate, adopting it when it is already ours
    /// ([`resolve_collision`]). One pass, no sleeping; errors other than name collisions are returned.
    pub async fn claim_app(
        &self,
        candidates: &NameCandidates,
        network: Option<&str>,
    ) -> Result<AppClaim, FlyError> {
        let mut name = candidates.first().clone();
        loop {
            match self.create_app(&name, network).await {
                Ok(()) => return Ok(AppClaim::Created(name)),
                Err(e) if e.class == ErrorClass::NameTaken => {}
                Err(e) => return Err(e),
            }
            let probe = self.probe_name(&name).await?;
            match resolve_collision(candidates, &name, &probe, self.org()) {
                CollisionOutcome::Adopt(n) => return Ok(AppClaim::Adopted(n)),
                CollisionOutcome::TryNext(n) => name = n,
                CollisionOutcome::RetryLater(n) => return Ok(AppClaim::RetryLater(n)),
                CollisionOutcome::Exhausted => return Ok(AppClaim::Exhausted),
            }
        }
    }
}
