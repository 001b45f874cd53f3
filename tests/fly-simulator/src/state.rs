//! The simulator's in-memory world: apps (ours), foreign app names, secrets, machines.

use crate::process_driver::RunningProcess;
use crate::rng::SimRng;
use crate::secrets::SecretStore;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub struct SimState {
    pub apps: BTreeMap<String, AppRec>,
    /// Names held by other orgs.
    pub foreign: BTreeSet<String>,
    /// Names of our deleted apps still reserved (strict mode's `name_hold_after_delete`), until when.
    pub reserved: BTreeMap<String, Instant>,
    pub rng: SimRng,
}

impl SimState {
    pub fn new(foreign: impl IntoIterator<Item = String>, seed: u64) -> Self {
        SimState {
            apps: BTreeMap::new(),
            foreign: foreign.into_iter().collect(),
            reserved: BTreeMap::new(),
            rng: SimRng::seeded(seed ^ 0x5EED),
        }
    }

    /// Whether a create of `name` must answer 422 `name_taken`: ours (live or mid-deletion), foreign, or
    /// still reserved after its delete completed.
    pub fn name_taken(&self, name: &str, now: Instant) -> bool {
        self.foreign.contains(name)
            || self.apps.contains_key(name)
            || self.reserved.get(name).is_some_and(|until| *until > now)
    }

    /// Machine ids are unique across apps, so look them up globally too.
    pub fn find_machine_mut(&mut self, id: &str) -> Option<(&String, &mut MachineRec)> {
        self.apps
            .iter_mut()
            .find_map(|(name, a)| a.machines.get_mut(id).map(|m| (name, m)))
    }
}

pub struct AppRec {
    pub id: String,
    pub name: String,
    pub network: Option<String>,
    pub created_at: String,
    /// GET answers 404 until then (eventual consistency after create).
    pub visible_at: Instant,
    /// Set by DELETE: the app (and its name) goes away at this instant.
    pub deleting_until: Option<Instant>,
    pub secrets: SecretStore,
    pub machines: BTreeMap<String, MachineRec>,
}

impl AppRec {
    pub fn readable(&self, now: Instant) -> bool {
        now >= self.visible_at && self.deleting_until.is_none()
    }

    pub fn live_machine_count(&self) -> usize {
        self.machines
            .values()
            .filter(|m| m.state != "destroyed")
            .count()
    }

    pub fn json(&self, org_slug: &str, org_name: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "status": if self.live_machine_count() > 0 { "deployed" } else { "pending" },
            "organization": { "name": org_name, "slug": org_slug },
            "network": self.network.clone().unwrap_or_else(|| "default".into()),
            "machine_count": self.live_machine_count(),
            "volume_count": 0,
        })
    }
}

pub struct LeaseRec {
    pub nonce: String,
    pub expires_at: i64,
    pub owner: String,
    pub description: String,
    pub version: String,
}

impl LeaseRec {
    pub fn active(&self) -> bool {
        self.expires_at > chrono::Utc::now().timestamp()
    }

    pub fn envelope(&self) -> Value {
        json!({
            "status": "success",
            "data": {
                "nonce": self.nonce,
                "expires_at": self.expires_at,
                "owner": self.owner,
                "description": self.description,
                "version": self.version,
            }
        })
    }
}

pub struct CheckRec {
    pub status: &'static str,
    pub output: String,
    pub updated_at: String,
}

pub struct MachineRec {
    pub id: String,
    pub name: String,
    pub region: String,
    /// The request omitted `region` (a caller bug on real Fly: lands "near the API endpoint").
    pub region_defaulted: bool,
    pub state: String,
    /// The config exactly as sent (echoed back on GET).
    pub config: Value,
    pub instance_id: String,
    pub private_ip: String,
    pub created_at: String,
    pub updated_at: String,
    /// For the list's consistency lag.
    pub created: Instant,
    /// Pending transitions (state, when).
    pub schedule: VecDeque<(&'static str, Instant)>,
    pub lease: Option<LeaseRec>,
    /// The secrets version the machine booted with, and those secrets.
    pub secrets_version: u64,
    pub secret_env: BTreeMap<String, String>,
    pub checks: BTreeMap<String, CheckRec>,
    pub events: Vec<Value>,
    pub process: Option<RunningProcess>,
    /// Set by the crash fault or a process exit: checks are critical until the next start.
    pub crashed: bool,
}

impl MachineRec {
    pub fn image(&self) -> &str {
        self.config["image"].as_str().unwrap_or_default()
    }

    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.config["metadata"][key].as_str()
    }

    /// Config env plus the secrets it booted with (secrets win, as on Fly).
    pub fn effective_env(&self) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = self.config["env"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        env.extend(self.secret_env.clone());
        env
    }

    pub fn event(&mut self, kind: &str, status: &str) {
        self.events.push(json!({
            "type": kind,
            "status": status,
            "source": "flyd",
            "timestamp": chrono::Utc::now().timestamp_millis(),
        }));
        self.updated_at = now_rfc3339();
    }

    pub fn json(&self) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|(name, c)| {
                json!({"name": name, "status": c.status, "output": c.output, "updated_at": c.updated_at})
            })
            .collect();
        let mut events = self.events.clone();
        events.reverse();
        json!({
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "region": self.region,
            "instance_id": self.instance_id,
            "private_ip": self.private_ip,
            "config": self.config,
            "image_ref": { "registry": "registry.fly.io", "repository": self.image(), "tag": "latest" },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "events": events,
            "checks": checks,
            "host_status": "ok",
        })
    }
}
