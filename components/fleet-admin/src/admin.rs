//! The admin service: configuration and dispatch (route → auth → handler). Login, logout, sessions and the
//! throttle live in `login.rs`; handlers in `views.rs` (reads), `actions.rs` and `migrate.rs`.

use std::time::Duration;

use fleet_http::ApiError;
use fleet_reconcile::{Clock, Outcome, ReconcileConfig, Reconciler};
use fleet_store::{sanitize_error, SqlConnection, Store, StoreError, ThrottleLimits, UserId};
use fly_api::{FlyClient, Secret, Transport};

use crate::auth::{self, Principal};
use crate::http::{AdminRequest, AdminResponse, MAX_BODY_BYTES};
use crate::migration::Pacing;
use crate::routes::{route, Route};

/// The one HTML page, served at `/admin`.
pub const PAGE: &str = include_str!("page.html");

/// What the admin needs beyond the stores and the Fly client.
pub struct AdminConfig {
    pub admin_token: Secret<String>,
    /// Whether operators may set a user's tier (true for the local run, false in production).
    pub allow_tier_override: bool,
    pub reconcile: ReconcileConfig,
    /// Time budget of one request's reconcile work (actions, migration steps).
    pub budget: Duration,
    pub pacing: Pacing,
    /// Failed password attempts allowed per source and overall in each window.
    pub throttle: ThrottleLimits,
    /// The header a trusted proxy sets to the client's address (`client_ip_header`); empty: Spin's
    /// `spin-client-addr`.
    pub client_ip_header: String,
}

/// Opens a store connection; migrations open one per concurrent provision.
pub type StoreOpener<'a, C> = &'a dyn Fn() -> Result<Store<C>, ApiError>;

/// One request's view of the admin service.
pub struct Admin<'a, C: SqlConnection, T: Transport, K: Clock> {
    pub config: &'a AdminConfig,
    pub open_store: StoreOpener<'a, C>,
    pub fly: &'a FlyClient<T>,
    pub clock: &'a K,
}

/// A store failure as a 500 whose detail is sanitised.
pub fn internal(error: StoreError) -> ApiError {
    ApiError::internal(sanitize_error(&error.to_string()))
}

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    /// Answers one request; never panics on input, every failure is a JSON error.
    pub async fn handle(&self, req: &AdminRequest) -> AdminResponse {
        match self.dispatch(req).await {
            Ok(response) => response,
            Err(error) => AdminResponse::error(&error),
        }
    }

    async fn dispatch(&self, req: &AdminRequest) -> Result<AdminResponse, ApiError> {
        let route = route(&req.method, &req.path)?;
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
        }
        // `Host` never reaches a Spin guest (wasi-http strips it): the authority comes from `spin-full-url`.
        let secure = auth::cookie_must_be_secure(auth::request_authority(req));
        let now = self.clock.now().timestamp();
        match route {
            Route::Page => return Ok(AdminResponse::html(PAGE)),
            Route::Login => return self.login(req, secure, now),
            Route::Logout => return self.logout(req, secure, now),
            _ => {}
        }
        let principal = self.authorize(req, route.changes_state(), now)?;
        match route {
            Route::Session => Ok(self.session(&principal)),
            Route::Summary => self.summary(),
            Route::Apps => self.apps(req),
            Route::App(user) => self.app(user),
            Route::Orphans => self.orphans(),
            Route::Alerts => self.alerts(),
            Route::ConfirmOrphans => self.confirm_orphans(req, &principal),
            Route::Signals => self.signals(req),
            Route::RevokeSessions => self.revoke_sessions(secure, now),
            Route::Migrations => self.migration_progress(),
            Route::Action(user, action) => self.action(user, action, req, &principal).await,
            Route::SetTier(user) => self.set_tier(user, req, &principal).await,
            Route::StartMigration => self.start_migration(req, &principal).await,
            Route::AdvanceMigration => self.advance_migration().await,
            Route::CancelMigration => self.cancel_migration(&principal).await,
            Route::Users => self.users_by_email(req),
            Route::Holds => self.list_holds(),
            Route::Report => self.seed_report(),
            Route::ProvisionNow => self.provision_now(req, &principal).await,
            Route::Hold(user) => self.force_deprovision(user, req, &principal).await,
            Route::Release(user) => self.lift_hold(user, req, &principal).await,
            Route::Page | Route::Login | Route::Logout => unreachable!("answered above"),
        }
    }

    fn session(&self, principal: &Principal) -> AdminResponse {
        let csrf = match principal {
            Principal::Session { csrf_token } => Some(csrf_token.as_str()),
            Principal::Bearer => None,
        };
        AdminResponse::json(
            200,
            &serde_json::json!({
                "authenticated": true,
                "via": principal.actor(),
                "csrf_token": csrf,
                "allow_tier_override": self.config.allow_tier_override,
                "pacing": self.config.pacing,
            }),
        )
    }

    pub(crate) fn store(&self) -> Result<Store<C>, ApiError> {
        (self.open_store)()
    }

    /// One reconcile pass over `user` within `budget`, as a webhook handler would run it.
    pub(crate) async fn pass(
        &self,
        store: &mut Store<C>,
        user: UserId,
        budget: Duration,
    ) -> Result<Outcome, ApiError> {
        self.pass_for(store, user, budget, fleet_reconcile::Cause::admin("admin"))
            .await
    }

    /// [`Admin::pass`] recording `cause` (the operator) on its provision/deprovision events.
    pub(crate) async fn pass_for(
        &self,
        store: &mut Store<C>,
        user: UserId,
        budget: Duration,
        cause: fleet_reconcile::Cause,
    ) -> Result<Outcome, ApiError> {
        let owner = format!("admin:{}", uuid::Uuid::new_v4());
        let mut reconciler = Reconciler {
            store,
            fly: self.fly,
            config: &self.config.reconcile,
            clock: self.clock,
            owner: &owner,
            cause,
        };
        reconciler.reconcile(user, budget).await.map_err(internal)
    }
}
