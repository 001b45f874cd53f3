//! What the local run needs to start: where things are, which Fly it talks to, and its secrets.

use anyhow::{bail, Result};
use fly_api::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The image every simulated machine runs; the simulator maps it to the freshly built screener binary.
/// Pinned (a tag, not `:latest`), as Fleet requires of every image.
pub const DEMO_IMAGE: &str = "registry.fly.io/fleet-screener:local-demo";

/// Which Fly Machines API the components call.
#[derive(Clone, Debug)]
pub enum FlyTarget {
    /// The in-process simulator, driving real screener processes.
    Simulator,
    /// The real Fly API: it creates real, billed apps in `org`.
    Real {
        token: Secret<String>,
        org: String,
        image: String,
        origin: String,
    },
}

impl FlyTarget {
    /// `FLY_API_TOKEN` (with `FLY_ORG` and `FLY_IMAGE`; `FLY_API_ORIGIN` optional) selects the real Fly API.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<FlyTarget> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let Some(token) = get("FLY_API_TOKEN") else {
            return Ok(FlyTarget::Simulator);
        };
        let missing: Vec<&str> = ["FLY_ORG", "FLY_IMAGE"]
            .into_iter()
            .filter(|name| get(name).is_none())
            .collect();
        if !missing.is_empty() {
            bail!(
                "FLY_API_TOKEN is set, so the local run would target the real Fly API, but {} {} not set \
                 (unset FLY_API_TOKEN to use the simulator)",
                missing.join(" and "),
                if missing.len() == 1 { "is" } else { "are" }
            );
        }
        Ok(FlyTarget::Real {
            token: Secret::new(token),
            org: get("FLY_ORG").unwrap_or_default(),
            image: get("FLY_IMAGE").unwrap_or_default(),
            origin: get("FLY_API_ORIGIN").unwrap_or_else(|| "https://api.machines.dev".into()),
        })
    }

    pub fn is_real(&self) -> bool {
        matches!(self, FlyTarget::Real { .. })
    }
}

#[derive(Clone)]
pub struct LocalRunConfig {
    /// The repository root (spin.toml, screener/replay).
    pub repo: PathBuf,
    pub listen: SocketAddr,
    /// Where the database, the served manifest and logs live (`<repo>/.fleet`, gitignored).
    pub state_dir: PathBuf,
    /// Where the `.wasm` components were built.
    pub components_dir: PathBuf,
    /// The screener executable simulated machines run.
    pub screener_bin: PathBuf,
    /// `MARKET_DATA=replay:<this>` for simulated machines.
    pub replay_file: PathBuf,
    pub fly: FlyTarget,
    /// `None`: random per run.
    pub webhook_secret: Option<String>,
    /// `None`: random per run.
    pub admin_token: Option<String>,
    pub sweep_every: Duration,
    /// Keep the simulator-mode database across runs (the simulated Fly world is new every run, so by default
    /// the database starts fresh too). Real-Fly mode always keeps it: it describes real apps.
    pub keep_state: bool,
    /// The Spin host executable (`spin-test-host`).
    pub host_bin: PathBuf,
    /// `RUST_LOG` for screener processes.
    pub screener_log: String,
}

impl LocalRunConfig {
    /// Defaults for this checkout and build: 127.0.0.1:3000, `.fleet/`, components, host and screener from
    /// the running executable's target directory, the shipped replay sample, the simulator, a sweep every 5 s.
    ///
    /// `FLEET_COMPONENTS_DIR`, `FLEET_HOST_BIN` and `FLEET_SCREENER_BIN` override where the built pieces are.
    pub fn for_this_build() -> Result<LocalRunConfig> {
        let repo = crate::paths::repo_root();
        let path_from_env = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Ok(LocalRunConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            state_dir: repo.join(".fleet"),
            components_dir: path_from_env("FLEET_COMPONENTS_DIR")
                .map_or_else(crate::paths::default_components_dir, Ok)?,
            screener_bin: path_from_env("FLEET_SCREENER_BIN")
                .map_or_else(crate::paths::default_screener_bin, Ok)?,
            replay_file: crate::paths::default_replay_file(&repo),
            fly: FlyTarget::Simulator,
            webhook_secret: None,
            admin_token: None,
            sweep_every: Duration::from_secs(5),
            keep_state: false,
            host_bin: path_from_env("FLEET_HOST_BIN")
                .map_or_else(crate::paths::default_host_bin, Ok)?,
            screener_log: "warn".into(),
            repo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn target(vars: &[(&str, &str)]) -> Result<FlyTarget> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FlyTarget::from_env(|name| map.get(name).cloned())
    }

    #[test]
    fn no_token_means_the_simulator() {
        assert!(!target(&[]).unwrap().is_real());
        assert!(!target(&[("FLY_API_TOKEN", " "), ("FLY_ORG", "o")])
            .unwrap()
            .is_real());
    }

    #[test]
    fn a_token_needs_org_and_image_and_the_error_names_them_without_the_token() {
        let error = target(&[("FLY_API_TOKEN", "fo1_secret")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("FLY_ORG and FLY_IMAGE are not set"),
            "{error}"
        );
        assert!(!error.contains("fo1_secret"));
        let real = target(&[
            ("FLY_API_TOKEN", "t"),
            ("FLY_ORG", "acme"),
            ("FLY_IMAGE", "registry.fly.io/s:v1"),
        ]);
        match real.unwrap() {
            FlyTarget::Real {
                org, image, origin, ..
            } => {
                assert_eq!(
                    (org.as_str(), image.as_str()),
                    ("acme", "registry.fly.io/s:v1")
                );
                assert_eq!(origin, "https://api.machines.dev");
            }
            FlyTarget::Simulator => panic!("expected the real Fly API"),
        }
    }
}
