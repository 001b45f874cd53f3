//! What every provisioned app should look like, from the components' variables.

use std::collections::BTreeMap;

use fly_api::types::{
    Check, CreateMachineRequest, Guest, MachineConfig, Port, Restart, Service, StopConfig,
};
use fly_api::{OrgSlug, Secret};

use crate::screener_db::PoolMode;

/// How a screener reaches the database: its own role in Postgres mode (directly or through Supabase's
/// pooler), or a shared URL locally. [`crate::screener_db`] reads it from the variables and builds the URL.
#[derive(Clone, Debug)]
pub enum DatabaseAccess {
    /// Postgres, direct: a per-user LOGIN role is minted; machines log in as `<role>` at `host:port/database`.
    PerUserRole {
        host: String,
        port: u16,
        database: String,
        /// Extra URL parameters, e.g. `sslmode=require` in production.
        url_params: String,
    },
    /// Postgres through Supabase's pooler (Supavisor): a per-user LOGIN role is minted; machines log in as
    /// `<role>.<project_ref>` at the pooler's `host:port/database`.
    Pooled {
        mode: PoolMode,
        host: String,
        port: u16,
        project_ref: String,
        database: String,
        /// Extra URL parameters, e.g. `sslmode=require`.
        url_params: String,
    },
    /// SQLite (local run): every screener gets the same URL; no per-user role exists.
    Shared { database_url: Secret<String> },
}

impl DatabaseAccess {
    /// Whether each user's screener gets its own database role (Postgres, direct or pooled).
    pub fn mints_roles(&self) -> bool {
        !matches!(self, DatabaseAccess::Shared { .. })
    }
}

/// Fleet's desired shape of each user's app.
#[derive(Clone, Debug)]
pub struct ReconcileConfig {
    pub org: OrgSlug,
    /// Pinned image reference (never `:latest`); see [`validate_image`].
    pub image: String,
    pub region: String,
    /// Regions to try, in order, when the primary has no capacity.
    pub region_fallbacks: Vec<String>,
    pub guest: Guest,
    pub database: DatabaseAccess,
    /// Extra app secrets every machine gets.
    pub extra_secrets: BTreeMap<String, Secret<String>>,
    /// Failures before a row's status becomes `error` (it is still retried).
    pub max_attempts_before_error: i64,
    /// Public ports (off by default) and the probe token delivered to each app.
    pub exposure: crate::exposure::Exposure,
}

/// Refuses image references that are not pinned: `:latest` or no tag or digest at all.
pub fn validate_image(image: &str) -> Result<(), String> {
    let image = image.trim();
    if image.is_empty() {
        return Err(
            "fly_image is empty: set it to a pinned image such as registry.fly.io/screener:v1"
                .into(),
        );
    }
    if image.contains("@sha256:") {
        return Ok(());
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.split_once(':') {
        Some((_, "latest")) => Err(format!(
            "fly_image {image:?} uses :latest; pin a version tag or a digest so every machine runs the same code"
        )),
        Some((_, tag)) if !tag.is_empty() => Ok(()),
        _ => Err(format!(
            "fly_image {image:?} has no tag; pin a version tag or a digest"
        )),
    }
}

impl ReconcileConfig {
    /// The one machine of a user's app, in `region`.
    pub fn machine_request(
        &self,
        user_id: &str,
        app_row_id: Option<&str>,
        region: &str,
        secrets_version: Option<u64>,
    ) -> CreateMachineRequest {
        let mut env = BTreeMap::new();
        env.insert("RUN_MODE".to_string(), "user_dedicated".to_string());
        env.insert("USER_ID".to_string(), user_id.to_string());
        env.insert(
            "FLEET_APP_ID".to_string(),
            app_row_id.unwrap_or_default().to_string(),
        );
        let mut metadata = BTreeMap::new();
        metadata.insert("fleet_user".to_string(), user_id.to_string());
        let mut checks = BTreeMap::new();
        checks.insert(
            "health".to_string(),
            Check {
                kind: "http".into(),
                port: Some(8080),
                interval: Some("15s".into()),
                timeout: Some("5s".into()),
                grace_period: Some("30s".into()),
                method: Some("GET".into()),
                path: Some("/health".into()),
            },
        );
        CreateMachineRequest {
            name: Some("screener".into()),
            region: Some(region.to_string()),
            config: MachineConfig {
                image: self.image.clone(),
                env,
                guest: Some(self.guest.clone()),
                restart: Some(Restart {
                    policy: "always".into(),
                    max_retries: None,
                }),
                // No public service unless an operator opts in: the sweep probes over the private network.
                services: self.public_services(),
                checks,
                metadata,
                stop_config: Some(StopConfig {
                    signal: Some("SIGTERM".into()),
                    timeout: Some("30s".into()),
                }),
                ..Default::default()
            },
            min_secrets_version: secrets_version,
            ..Default::default()
        }
    }

    /// Ports 80/443 to the screener, only when `public_service` is on.
    fn public_services(&self) -> Vec<Service> {
        if !self.exposure.public_service {
            return Vec::new();
        }
        vec![Service {
            protocol: "tcp".into(),
            internal_port: 8080,
            ports: vec![
                Port {
                    port: 80,
                    handlers: vec!["http".into()],
                    force_https: Some(true),
                },
                Port {
                    port: 443,
                    handlers: vec!["tls".into(), "http".into()],
                    force_https: None,
                },
            ],
            autostart: Some(true),
            autostop: None,
            min_machines_running: Some(1),
            concurrency: None,
        }]
    }

    /// Primary region first, then the fallbacks, without repeats.
    pub fn regions(&self) -> Vec<&str> {
        let mut regions = vec![self.region.as_str()];
        for region in &self.region_fallbacks {
            if !regions.contains(&region.as_str()) {
                regions.push(region);
            }
        }
        regions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pinned_images_are_accepted() {
        for ok in [
            "registry.fly.io/screener:v1.2.3",
            "localhost:5000/screener:2026-11-22",
            "ghcr.io/vyx/screener@sha256:0123abcd",
        ] {
            assert_eq!(validate_image(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "registry.fly.io/screener",
            "screener:latest",
            "localhost:5000/screener",
        ] {
            assert!(validate_image(bad).is_err(), "{bad}");
        }
    }
}
