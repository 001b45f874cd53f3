//! Who an admin request acts as, recorded on every operator action event as `operator`. This is the one
//! place per-operator sign-in fills in: today the bearer token is "admin-token" and a session is "admin".

use crate::auth::Principal;

/// The operator identity a request's authentication gives (never a credential).
pub fn operator(principal: &Principal) -> String {
    match principal {
        Principal::Bearer => "admin-token".to_owned(),
        #[allow(unreachable_patterns)]
        _ => "admin".to_owned(),
    }
}
