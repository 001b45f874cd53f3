//! Login, logout, "sign out everywhere" and the throttle in front of every password check.
//!
//! A password attempt is `POST /admin/login` or any request with an `Authorization` header. Before it is
//! checked, the source (see `fleet_http::source`) and the service as a whole must be under this window's
//! failure limits (`fleet_auth_failures`, shared by every instance); over a limit the answer is 429 with
//! `Retry-After`, even for the right password. A wrong password is counted. Session cookies are not
//! passwords (their ids are random and live server-side), so they are neither throttled nor counted.

use fleet_http::source::client_source;
use fleet_http::ApiError;
use fleet_reconcile::Clock;
use fleet_store::SqlConnection;
use fly_api::Transport;
use serde::Deserialize;

use crate::admin::{internal, Admin};
use crate::auth::{self, Principal};
use crate::http::{json_body, AdminRequest, AdminResponse};
use crate::session::{self, SESSION_TTL_SECS};

impl<C: SqlConnection, T: Transport, K: Clock> Admin<'_, C, T, K> {
    fn source(&self, req: &AdminRequest) -> String {
        client_source(
            req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            &self.config.client_ip_header,
        )
    }

    /// 429 when `req`'s source or the whole service is over its failure limit.
    fn check_throttle(&self, req: &AdminRequest, now: i64) -> Result<(), ApiError> {
        let limits = self.config.throttle;
        match self
            .store()?
            .auth_throttled(&self.source(req), now, limits)
            .map_err(internal)?
        {
            Some(wait) => Err(ApiError::too_many_attempts(wait)),
            None => Ok(()),
        }
    }

    fn record_failure(&self, req: &AdminRequest, now: i64) -> Result<(), ApiError> {
        self.store()?
            .record_auth_failure(&self.source(req), now, self.config.throttle)
            .map_err(internal)
    }

    /// The principal of a non-public route's request: bearer (throttled, failures counted) or live session.
    pub(crate) fn authorize(
        &self,
        req: &AdminRequest,
        changes_state: bool,
        now: i64,
    ) -> Result<Principal, ApiError> {
        let token = self.config.admin_token.expose();
        let password = req.header("authorization").is_some();
        if password {
            self.check_throttle(req, now)?;
        }
        let mut live = |id: &str| {
            self.store()?
                .admin_session_active(id, now)
                .map_err(internal)
        };
        let result = auth::authenticate(req, token, changes_state, &mut live);
        if password && matches!(&result, Err(e) if e.status == 401) {
            self.record_failure(req, now)?;
        }
        result
    }

    pub(crate) fn login(
        &self,
        req: &AdminRequest,
        secure: bool,
        now: i64,
    ) -> Result<AdminResponse, ApiError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Login {
            token: String,
        }
        let is_form = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let given = if is_form {
            form_urlencoded::parse(&req.body)
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        } else {
            json_body::<Login>(&req.body)?.token.into()
        };
        let given = given.filter(|t| !t.is_empty()).ok_or_else(|| {
            ApiError::bad_request("token_required", "send the admin token as `token`")
        })?;
        self.check_throttle(req, now)?;
        let token = self.config.admin_token.expose();
        if token.is_empty()
            || !fleet_http::auth::constant_time_eq(given.as_bytes(), token.as_bytes())
        {
            self.record_failure(req, now)?;
            return Err(ApiError::unauthorized());
        }
        let id = session::new_session_id();
        self.store()?
            .create_admin_session(&id, now, now + SESSION_TTL_SECS)
            .map_err(internal)?;
        let cookie = session::cookie_value(token, &id);
        let body = serde_json::json!({
            "authenticated": true,
            "csrf_token": auth::csrf_token(token, &cookie),
            "expires_in": SESSION_TTL_SECS,
        });
        Ok(AdminResponse::json(200, &body)
            .with_header("set-cookie", auth::session_cookie(&cookie, secure)))
    }

    /// Ends the caller's session server-side (a copied cookie stops working too) and clears the cookie.
    pub(crate) fn logout(
        &self,
        req: &AdminRequest,
        secure: bool,
        now: i64,
    ) -> Result<AdminResponse, ApiError> {
        let token = self.config.admin_token.expose();
        let id = auth::session_from_cookies(req.header("cookie"))
            .and_then(|value| session::session_id(token, value));
        if let Some(id) = id {
            self.store()?
                .revoke_admin_session(id, now)
                .map_err(internal)?;
        }
        Ok(
            AdminResponse::json(200, &serde_json::json!({"logged_out": true}))
                .with_header("set-cookie", auth::clear_cookie(secure)),
        )
    }

    /// "Sign out everywhere": every session ends now, the caller's too.
    pub(crate) fn revoke_sessions(
        &self,
        secure: bool,
        now: i64,
    ) -> Result<AdminResponse, ApiError> {
        let revoked = self
            .store()?
            .revoke_all_admin_sessions(now)
            .map_err(internal)?;
        Ok(
            AdminResponse::json(200, &serde_json::json!({"revoked_sessions": revoked}))
                .with_header("set-cookie", auth::clear_cookie(secure)),
        )
    }
}
