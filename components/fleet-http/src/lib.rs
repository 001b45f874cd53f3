//! The HTTP edge shared by Fleet's components: webhook authentication, hint payload parsing and JSON errors.
//! Everything here is pure (no I/O), so it is tested natively and runs unchanged inside the wasm components.

pub mod auth;
pub mod body;
pub mod error;
pub mod hint;
pub mod secret_strength;
pub mod source;

pub use auth::{
    sign_request, verify_request, AuthRejected, Verified, WebhookKeys, SIGNATURE_HEADER,
    SIGNATURE_TOLERANCE_SECS,
};
pub use body::{check_declared_length, BoundedBody, MAX_BODY_BYTES};
pub use error::ApiError;
pub use hint::{parse_hint, Hint, HintSource};
