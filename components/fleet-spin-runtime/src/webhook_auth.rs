//! Authenticating `POST /provision`, `/deprovision` and `/health/sweep`: a fresh HMAC signature made with
//! `webhook_secret` and never seen before, or (when `webhook_bearer_token` is set) that bearer token. Every
//! refusal is the same 401; which check failed is never said.

use fleet_http::{verify_request, ApiError, WebhookKeys, SIGNATURE_TOLERANCE_SECS};

use crate::settings::Settings;
use crate::store::AnyStore;

/// Checks the request's credentials and, for a signature, records its `(t, mac)` so it is accepted once.
pub fn authenticate(
    settings: &Settings,
    store: &mut AnyStore,
    authorization: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let keys = WebhookKeys {
        signing: settings.webhook_secret.expose(),
        bearer: settings
            .webhook_bearer_token
            .as_ref()
            .map(|t| t.expose().as_str()),
    };
    let verified = verify_request(keys, authorization, signature, body, now)
        .map_err(|_| ApiError::unauthorized())?;
    let Some((t, mac)) = verified.replay_key() else {
        return Ok(());
    };
    let first = store
        .first_use_of_signature(t, &mac, now.saturating_sub(2 * SIGNATURE_TOLERANCE_SECS))
        .map_err(|e| ApiError::internal(fleet_store::sanitize_error(&e.to_string())))?;
    if first {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}
