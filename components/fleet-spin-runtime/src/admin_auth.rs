//! What the admin token's routes (`/admin`, `GET /health/apps/*`) need: the token (at least 32 random
//! bytes), the failed-attempt limits and the trusted client-address header. Variables:
//! `auth_failures_per_source` (default 10), `auth_failures_global` (default 100), `auth_failure_window_secs`
//! (default 300), `client_ip_header` (default empty: Spin's `spin-client-addr`).

use fleet_http::source::client_source;
use fleet_http::ApiError;
use fleet_store::ThrottleLimits;
use fly_api::Secret;

use crate::settings::{number, optional, required_secret};
use crate::store::AnyStore;

pub struct AdminAuth {
    pub admin_token: Secret<String>,
    pub throttle: ThrottleLimits,
    pub client_ip_header: String,
}

impl AdminAuth {
    pub fn load() -> Result<AdminAuth, ApiError> {
        let defaults = ThrottleLimits::default();
        let throttle = ThrottleLimits {
            per_source: number("auth_failures_per_source", &defaults.per_source.to_string())?,
            global: number("auth_failures_global", &defaults.global.to_string())?,
            window_secs: number(
                "auth_failure_window_secs",
                &defaults.window_secs.to_string(),
            )?,
        };
        if throttle.per_source < 1 || throttle.global < 1 || throttle.window_secs < 1 {
            return Err(ApiError::new(
                500,
                "configuration",
                "variables auth_failures_per_source, auth_failures_global, auth_failure_window_secs: must be at least 1",
            ));
        }
        Ok(AdminAuth {
            admin_token: required_secret("admin_token")?,
            throttle,
            client_ip_header: optional("client_ip_header", ""),
        })
    }

    /// Checks `Authorization: Bearer <admin_token>` behind the throttle: 429 while the source or the service
    /// is over its limit, 401 (counted) for a wrong or missing token.
    pub fn verify_bearer<'a>(
        &self,
        store: &mut AnyStore,
        headers: impl DoubleEndedIterator<Item = (&'a str, &'a str)> + Clone,
        now: i64,
    ) -> Result<(), ApiError> {
        let internal = |e: fleet_store::StoreError| {
            ApiError::internal(fleet_store::sanitize_error(&e.to_string()))
        };
        let source = client_source(headers.clone(), &self.client_ip_header);
        if let Some(wait) = store
            .auth_throttled(&source, now, self.throttle)
            .map_err(internal)?
        {
            return Err(ApiError::too_many_attempts(wait));
        }
        let given = headers
            .rev()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, h)| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        let expected = self.admin_token.expose();
        if !fleet_http::auth::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            store
                .record_auth_failure(&source, now, self.throttle)
                .map_err(internal)?;
            return Err(ApiError::unauthorized());
        }
        Ok(())
    }
}
