//! App secrets: bulk set/unset, list, delete one.

use crate::client::{ApiRequest, FlyClient};
use crate::error::{ErrorClass, FlyError, Idempotency::*};
use crate::ids::AppName;
use crate::transport::Transport;
use crate::types::{
    DeleteSecretResponse, ListSecretsResponse, SetSecretsRequest, SetSecretsResponse,
};
use http::Method;

/// Secret names go into URL paths: env-var style only.
fn check_secret_name(name: &str) -> Result<(), FlyError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(FlyError {
            class: ErrorClass::Invalid,
            status: None,
            message: format!("invalid secret name {name:?}: use letters, digits and underscores"),
            request_id: None,
        })
    }
}

impl<T: Transport> FlyClient<T> {
    /// `POST /apps/{app}/secrets` `{"values":{…}}` → the new secrets `version`. Idempotent (same values).
    pub async fn set_secrets(
        &self,
        app: &AppName,
        request: &SetSecretsRequest,
    ) -> Result<SetSecretsResponse, FlyError> {
        for name in request.values.keys() {
            check_secret_name(name)?;
        }
        let req =
            ApiRequest::new(Method::POST, format!("/apps/{app}/secrets"), Idempotent).json(request);
        self.call(req).await
    }

    /// `GET /apps/{app}/secrets` (names and digests; values are never requested).
    pub async fn list_secrets(&self, app: &AppName) -> Result<ListSecretsResponse, FlyError> {
        self.call(ApiRequest::new(
            Method::GET,
            format!("/apps/{app}/secrets"),
            Idempotent,
        ))
        .await
    }

    /// `DELETE /apps/{app}/secrets/{name}` → the new `version`.
    pub async fn delete_secret(
        &self,
        app: &AppName,
        name: &str,
    ) -> Result<DeleteSecretResponse, FlyError> {
        check_secret_name(name)?;
        let req = ApiRequest::new(
            Method::DELETE,
            format!("/apps/{app}/secrets/{name}"),
            Idempotent,
        );
        self.call(req).await
    }
}
