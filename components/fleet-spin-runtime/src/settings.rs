//! Fleet's Spin variables, read once per request. A missing or malformed variable is a configuration error
//! that names the variable and never its value.

use std::time::Duration;

use fleet_http::ApiError;
use fleet_reconcile::{
    ca_cert_secrets, exposure_from, per_user_role_access, refuse_shared_database_on_real_fly,
    validate_image, DatabaseAccess, ReconcileConfig,
};
use fly_api::types::Guest;
use fly_api::{FlyClient, OrgSlug, Secret};
use spin_sdk::variables;

/// Everything a component needs from its variables.
pub struct Settings {
    /// The HMAC key of signed hints (never sent; Postgres signs with it).
    pub webhook_secret: Secret<String>,
    /// The optional bearer token of the webhooks (`webhook_bearer_token`); `None`: bearer is refused.
    pub webhook_bearer_token: Option<Secret<String>>,
    pub database_url: Secret<String>,
    pub fly_base_url: String,
    pub fly_token: Secret<String>,
    pub reconcile: ReconcileConfig,
    /// Per-tier guests and regions (`fly_*_pro`, `fly_*_elite`; unset: the single size above).
    pub tiers: fleet_reconcile::tier_size::TierSizes,
    pub budget: Duration,
}

fn config_error(variable: &str, problem: &str) -> ApiError {
    ApiError::new(
        500,
        "configuration",
        format!("variable {variable}: {problem}"),
    )
}

/// A variable's value; absent or empty is an error naming the variable.
pub fn required(name: &str) -> Result<String, ApiError> {
    match variables::get(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        Ok(_) => Err(config_error(name, "is empty")),
        Err(_) => Err(config_error(name, "is not available to this component")),
    }
}

/// A variable's value, or `default` when it is absent or empty.
pub fn optional(name: &str, default: &str) -> String {
    variables::get(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A required secret of Fleet's own (`webhook_secret`, `admin_token`): present and at least 32 random bytes.
pub fn required_secret(name: &str) -> Result<Secret<String>, ApiError> {
    let value = required(name)?;
    fleet_http::secret_strength::check_secret(&value).map_err(|why| config_error(name, why))?;
    Ok(Secret::new(value))
}

pub(crate) fn number<T: std::str::FromStr>(name: &str, default: &str) -> Result<T, ApiError> {
    optional(name, default)
        .trim()
        .parse()
        .map_err(|_| config_error(name, "is not a number"))
}

fn list(name: &str) -> Vec<String> {
    optional(name, "")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Settings {
    pub fn load() -> Result<Settings, ApiError> {
        let image = required("fly_image")?;
        validate_image(&image).map_err(|problem| config_error("fly_image", &problem))?;
        let database_url = required("database_url")?;
        let database = if database_url.starts_with("sqlite:") {
            DatabaseAccess::Shared {
                database_url: Secret::new(optional("screener_database_url", "")),
            }
        } else {
            // Direct, or through Supabase's pooler in session or transaction mode (screener_db_mode).
            per_user_role_access(|name| variables::get(name).ok())
                .map_err(|e| config_error(e.variable, &e.problem))?
        };
        let fly_api_origin = optional("fly_api_origin", "https://api.machines.dev");
        refuse_shared_database_on_real_fly(&database, &fly_api_origin)
            .map_err(|e| config_error(e.variable, &e.problem))?;
        let extra_secrets = ca_cert_secrets(variables::get("screener_db_ca_cert").ok().as_deref())
            .map_err(|e| config_error(e.variable, &e.problem))?;
        let reconcile = ReconcileConfig {
            org: OrgSlug::new(required("fly_org")?),
            image,
            region: optional("fly_region", "sin"),
            region_fallbacks: list("fly_region_fallbacks"),
            guest: Guest {
                cpu_kind: optional("fly_cpu_kind", "shared"),
                cpus: number("fly_cpus", "2")?,
                memory_mb: number("fly_memory_mb", "512")?,
            },
            database,
            extra_secrets,
            max_attempts_before_error: number("max_attempts_before_error", "5")?,
            exposure: exposure_from(|name| variables::get(name).ok())
                .map_err(|(variable, problem)| config_error(variable, &problem))?,
        };
        let webhook_secret = required_secret("webhook_secret")?;
        let webhook_bearer_token = webhook_bearer_token(&webhook_secret)?;
        Ok(Settings {
            webhook_secret,
            webhook_bearer_token,
            database_url: Secret::new(database_url),
            fly_base_url: format!("{}/v1", fly_api_origin.trim_end_matches('/')),
            fly_token: Secret::new(required("fly_api_token")?),
            reconcile,
            tiers: fleet_reconcile::tier_size::TierSizes::from_variables(|name| {
                variables::get(name).ok()
            })
            .map_err(|e| config_error(e.variable, &e.problem))?,
            budget: Duration::from_millis(number("reconcile_budget_ms", "20000")?),
        })
    }

    /// The provision configuration of a user of `tier` (its guest and region; the single size otherwise).
    pub fn reconcile_for(&self, tier: Option<&str>) -> ReconcileConfig {
        match tier.and_then(|t| self.tiers.for_tier(t)) {
            Some(size) => fleet_reconcile::tier_size::sized(&self.reconcile, size),
            None => self.reconcile.clone(),
        }
    }

    /// A Fly client over `transport` (e.g. a [`fleet_reconcile::CountingTransport`] around Spin's).
    pub fn fly_client<T: fly_api::Transport>(&self, transport: T) -> FlyClient<T> {
        FlyClient::new(
            transport,
            self.fly_base_url.clone(),
            self.fly_token.clone(),
            self.reconcile.org.clone(),
        )
    }
}

/// `webhook_bearer_token`: empty (bearer refused), or at least 32 random bytes and not the signing key.
fn webhook_bearer_token(signing: &Secret<String>) -> Result<Option<Secret<String>>, ApiError> {
    let name = "webhook_bearer_token";
    let token = optional(name, "");
    if token.is_empty() {
        return Ok(None);
    }
    fleet_http::secret_strength::check_secret(&token).map_err(|why| config_error(name, why))?;
    if fleet_http::auth::constant_time_eq(token.as_bytes(), signing.expose().as_bytes()) {
        return Err(config_error(name, "must differ from webhook_secret"));
    }
    Ok(Some(Secret::new(token)))
}
