//! What every Fleet Spin component shares: reading Spin variables into configuration, opening the store over
//! pg4 or sqlite3, the Fly client over Spin outbound HTTP, webhook handling, and JSON responses.

pub mod admin_auth;
pub mod hint_handler;
pub mod incoming;
pub mod respond;
pub mod settings;
pub mod store;
pub mod webhook_auth;

pub use fleet_http::MAX_BODY_BYTES;
pub use hint_handler::{handle_hint, Intent};
pub use incoming::{read_request, with_request};
pub use respond::{error_response, json_response};
pub use settings::Settings;
