//! How a user's screener is reached. By default it is not public: the machine has no Fly service (no
//! ports 80/443), and the health sweep probes it over Fly's private network (`http://<app>.internal:8080`).
//! Its detailed `/health` and `/metrics` answer only to the app's probe token, delivered as the app secret
//! [`PROBE_TOKEN_SECRET`] and derived, never stored: `hex(HMAC-SHA256(probe_key, "fleet-probe-token:v1:" +
//! app name))`. Rotating `probe_key` changes every token; apps get the new one when their secrets are set
//! again (reprovision), and until then the sweep records the refusal as a reason.

use fly_api::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The app secret (environment variable on the machine) holding the app's probe token.
pub const PROBE_TOKEN_SECRET: &str = "FLEET_PROBE_TOKEN";

const DOMAIN: &[u8] = b"fleet-probe-token:v1:";

/// Whether the app is public and how its probe token is made.
#[derive(Clone, Debug, Default)]
pub struct Exposure {
    /// Open ports 80/443 through a Fly service. Off unless an operator opts in (`public_service = "true"`).
    pub public_service: bool,
    /// The key every app's probe token is derived from (`probe_key`); `None`: no token is delivered.
    pub probe_key: Option<Secret<String>>,
}

impl Exposure {
    /// The probe token of `app`, when a probe key is configured.
    pub fn probe_token(&self, app: &str) -> Option<Secret<String>> {
        self.probe_key.as_ref().map(|key| probe_token(key, app))
    }
}

/// `hex(HMAC-SHA256(key, "fleet-probe-token:v1:" + app))`.
pub fn probe_token(key: &Secret<String>, app: &str) -> Secret<String> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(DOMAIN);
    mac.update(app.as_bytes());
    Secret::new(hex::encode(mac.finalize().into_bytes()))
}

/// Reads `public_service` (`true`/`false`, default false) and `probe_key` (empty: none; else at least 32
/// characters) through `get`. Errors name the variable, never its value.
pub fn exposure_from(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Exposure, (&'static str, String)> {
    let public_service = match get("public_service").as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(("public_service", "must be true or false".into())),
    };
    let probe_key = match get("probe_key").map(|k| k.trim().to_string()) {
        None => None,
        Some(k) if k.is_empty() => None,
        Some(k) if k.len() < 32 => {
            return Err((
                "probe_key",
                "must be at least 32 random characters (e.g. `openssl rand -hex 32`)".into(),
            ))
        }
        Some(k) => Some(Secret::new(k)),
    };
    Ok(Exposure {
        public_service,
        probe_key,
    })
}
