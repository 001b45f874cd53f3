//! Simulator configuration: org, token, regions, timings, rate limits, foreign apps, process driver.

use crate::faults::FaultSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Durations of the simulated (real-time) lifecycle. Short by default so tests run fast.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// After a create, `GET /apps/{name}` (and machine calls) answer 404 for this long.
    #[serde(with = "millis")]
    pub app_visibility_delay: Duration,
    /// `DELETE /apps/{name}` completes after this long; the name stays taken until then.
    #[serde(with = "millis")]
    pub app_delete_delay: Duration,
    /// created → starting → started.
    #[serde(with = "millis")]
    pub start_delay: Duration,
    /// stopping → stopped, destroying → destroyed.
    #[serde(with = "millis")]
    pub stop_delay: Duration,
    /// A new machine shows up in `GET …/machines` (the eventually consistent list) only after this.
    #[serde(with = "millis")]
    pub list_lag: Duration,
    /// Without `min_secrets_version`, a machine sees only secrets written at least this long ago.
    #[serde(with = "millis")]
    pub secrets_propagation_delay: Duration,
    /// How often process-driver health checks probe `/health`.
    #[serde(with = "millis")]
    pub check_interval: Duration,
    /// Strict mode: after an app's asynchronous delete has completed (GET 404, gone from the list, DELETE
    /// 404), its global name stays reserved this much longer: create answers 422 `name_taken` while
    /// `GET /apps/{name}` answers 404. Fly deletes apps asynchronously (`DELETE /apps/{app}` → 202, reference
    /// §2.1 and §6.7) and app names are one global namespace (§4); when a deleted name becomes free again is
    /// undocumented, so a stricter stand-in keeps it taken for a while. 0 (the default) = freed at once.
    #[serde(with = "millis")]
    pub name_hold_after_delete: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            app_visibility_delay: Duration::from_millis(150),
            app_delete_delay: Duration::from_millis(300),
            start_delay: Duration::from_millis(100),
            stop_delay: Duration::from_millis(100),
            list_lag: Duration::ZERO,
            secrets_propagation_delay: Duration::from_millis(500),
            check_interval: Duration::from_millis(200),
            name_hold_after_delete: Duration::ZERO,
        }
    }
}

/// Documented Fly limits: 1 req/s burst 3 per action per app/machine; GET machine 5/s burst 10;
/// app deletions 100/min.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub action_per_sec: f64,
    pub action_burst: f64,
    pub get_machine_per_sec: f64,
    pub get_machine_burst: f64,
    pub app_deletes_per_min: f64,
    /// Strict mode: the documented per-action rule ("rate limits apply per-action … scoped per identifier",
    /// 1 req/s burst 3; reads like Get Machine 5 req/s burst 10 — reference §3) applied to the actions for
    /// which Fly documents no figure (§3: "Nothing documented per org, for app creation specifically, or for
    /// secrets"): app create and app list per org, `GET /apps/{app}` per app (read limits), secrets writes
    /// and reads per app (action limits). Off by default (the old behaviour: those are unlimited).
    pub app_actions: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            action_per_sec: 1.0,
            action_burst: 3.0,
            get_machine_per_sec: 5.0,
            get_machine_burst: 10.0,
            app_deletes_per_min: 100.0,
            app_actions: false,
        }
    }
}

/// Opt-in: run machines as local child processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessDriverConfig {
    /// Image reference → executable.
    pub images: BTreeMap<String, PathBuf>,
    /// Extra arguments per image.
    pub args: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// The one accepted token (sent as `Bearer <token>` or as-is when it starts with `FlyV1 `).
    pub token: String,
    pub org_slug: String,
    pub org_name: String,
    pub regions: Vec<String>,
    /// Where a machine lands when the request omits `region` (recorded as "defaulted").
    pub default_region: String,
    /// Names held by other orgs: create answers 422 `name_taken`, GET answers 403.
    pub foreign_apps: Vec<String>,
    pub timings: Timings,
    pub rate_limits: RateLimitConfig,
    pub faults: FaultSettings,
    pub process_driver: Option<ProcessDriverConfig>,
    /// 0 = pick a free port.
    pub port: u16,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            token: "sim-token".into(),
            org_slug: "fleet".into(),
            org_name: "Fleet".into(),
            regions: [
                "iad", "ord", "sjc", "lax", "lhr", "ams", "fra", "sin", "syd", "nrt", "gru",
            ]
            .map(String::from)
            .to_vec(),
            default_region: "iad".into(),
            foreign_apps: Vec::new(),
            timings: Timings::default(),
            rate_limits: RateLimitConfig::default(),
            faults: FaultSettings::default(),
            process_driver: None,
            port: 0,
        }
    }
}

impl SimConfig {
    /// Rate limits off (for tests that are not about them).
    pub fn without_rate_limits(mut self) -> Self {
        self.rate_limits.enabled = false;
        self
    }

    /// At least as strict as real Fly where Fly's behaviour is documented, and stricter where it is not
    /// (issue 14): rate limits on for every action including app create, reads and secrets
    /// ([`RateLimitConfig::app_actions`]), and a deleted app's name held for `name_hold` after its
    /// asynchronous delete completes ([`Timings::name_hold_after_delete`]). Fault rates (failures before the
    /// effect, effect-then-5xx/408, effect-then-dropped-connection) and foreign-owned names are per suite:
    /// set `faults` and `foreign_apps`.
    pub fn strict(mut self, name_hold: Duration) -> Self {
        self.rate_limits.enabled = true;
        self.rate_limits.app_actions = true;
        self.timings.name_hold_after_delete = name_hold;
        self
    }
}

/// Durations as integer milliseconds in JSON config files.
pub mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
