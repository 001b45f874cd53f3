//! Every Fly call of a run. The simulator keeps only its last 10,000 requests, so a collector merges them
//! by sequence number while the run goes on. From the whole log: call and 429 counts, and the
//! double-provision invariants (never two live apps for a user, never two live machines in an app).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use fly_simulator::request_log::LogEntry;
use fly_simulator::FlySim;

#[derive(Default)]
pub struct FlyLog {
    entries: Mutex<BTreeMap<u64, LogEntry>>,
    /// Set when entries rotated out of the simulator before they were collected.
    gap: AtomicBool,
    /// The most live machines one app had in any sampled simulator state, and where it was more than one.
    most_machines_sampled: AtomicUsize,
    crowded: Mutex<Vec<String>>,
}

impl FlyLog {
    /// Merges what the simulator holds now.
    pub fn collect(&self, sim: &FlySim) {
        let fresh = sim.request_log();
        let mut entries = self.entries.lock().unwrap();
        let newest = entries.keys().next_back().copied().unwrap_or(0);
        if fresh.first().is_some_and(|e| e.seq > newest + 1) && fresh.len() >= 10_000 {
            self.gap.store(true, Ordering::Relaxed);
        }
        for e in fresh.into_iter().filter(|e| e.seq > newest) {
            entries.insert(e.seq, e);
        }
    }

    /// Counts the live machines of every live app in the simulator's state now.
    pub fn sample(&self, sim: &FlySim) {
        let state = sim.state_dump();
        for app in state["apps"].as_array().into_iter().flatten() {
            if app["deleting"] == true {
                continue;
            }
            let live = app["machines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| !matches!(m["state"].as_str(), Some("destroyed" | "destroying")))
                .count();
            self.most_machines_sampled
                .fetch_max(live, Ordering::Relaxed);
            if live > 1 {
                let mut crowded = self.crowded.lock().unwrap();
                crowded.push(format!("app {} had {live} live machines", app["name"]));
            }
        }
    }

    /// (most live machines seen in one app, descriptions of every sample with more than one).
    pub fn sampled(&self) -> (usize, Vec<String>) {
        (
            self.most_machines_sampled.load(Ordering::Relaxed),
            self.crowded.lock().unwrap().clone(),
        )
    }

    /// Collects (and samples the state) every 250 ms until `done`; run it on a thread beside the suite.
    pub fn collect_until(&self, sim: &FlySim, done: &AtomicBool) {
        while !done.load(Ordering::Relaxed) {
            self.collect(sim);
            self.sample(sim);
            std::thread::sleep(Duration::from_millis(250));
        }
        self.collect(sim);
    }

    pub fn complete(&self) -> bool {
        !self.gap.load(Ordering::Relaxed)
    }

    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.lock().unwrap().values().cloned().collect()
    }

    pub fn calls(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    pub fn count(&self, keep: impl Fn(&LogEntry) -> bool) -> usize {
        self.entries
            .lock()
            .unwrap()
            .values()
            .filter(|e| keep(e))
            .count()
    }
}

/// Whether the request surely changed the simulator (a 2xx).
pub fn surely_took_effect(e: &LogEntry) -> bool {
    (200..300).contains(&e.status)
}

/// Whether it may have: also an injected failure after the handler ran (which may itself have refused).
pub fn may_have_taken_effect(e: &LogEntry) -> bool {
    surely_took_effect(e) || matches!(e.fault.as_deref(), Some("After408" | "After502"))
}

/// The app a Fleet request addresses, and what it did: `("create_app" | "delete_app" | "create_machine" |
/// "delete_machine", app)`.
fn operation(e: &LogEntry) -> Option<(&'static str, String)> {
    let path = e.path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (e.method.as_str(), parts.as_slice()) {
        ("POST", ["apps"]) => {
            let name = e.body["app_name"].as_str().or(e.body["name"].as_str())?;
            Some(("create_app", name.to_string()))
        }
        ("DELETE", ["apps", app]) => Some(("delete_app", app.to_string())),
        ("POST", ["apps", app, "machines"]) => Some(("create_machine", app.to_string())),
        ("DELETE", ["apps", app, "machines", _]) => Some(("delete_machine", app.to_string())),
        _ => None,
    }
}

/// Counts of what the log shows Fleet did.
#[derive(Debug, Default)]
pub struct Provisions {
    pub apps_created: usize,
    pub machines_created: usize,
    /// The most machines one app had at once, and the most apps one user had at once.
    pub max_machines_per_app: usize,
    pub max_apps_per_user: usize,
    pub violations: Vec<String>,
}

/// Replays the log in order. `owner` maps an app name to its user (Fleet's name candidates). Creates count
/// when they surely took effect, deletes when they may have, so an ambiguous answer never makes a false
/// alarm; lingering duplicates after an ambiguous create show up in the sampled state and the final audit.
pub fn provisions(entries: &[LogEntry], owner: &HashMap<String, String>) -> Provisions {
    let mut out = Provisions::default();
    let mut machines: HashMap<String, usize> = HashMap::new();
    let mut apps_of: HashMap<String, Vec<String>> = HashMap::new();
    for e in entries.iter().filter(|e| may_have_taken_effect(e)) {
        let Some((op, app)) = operation(e) else {
            continue;
        };
        if op.starts_with("create") && !surely_took_effect(e) {
            continue;
        }
        let user = owner.get(&app).cloned().unwrap_or_else(|| app.clone());
        match op {
            "create_app" => {
                out.apps_created += 1;
                machines.insert(app.clone(), 0);
                let live = apps_of.entry(user.clone()).or_default();
                live.push(app.clone());
                out.max_apps_per_user = out.max_apps_per_user.max(live.len());
                if live.len() > 1 {
                    out.violations.push(format!(
                        "request {}: user {user} has two live apps {live:?}",
                        e.seq
                    ));
                }
            }
            "delete_app" => {
                machines.insert(app.clone(), 0);
                apps_of.entry(user).or_default().retain(|a| *a != app);
            }
            "create_machine" => {
                out.machines_created += 1;
                let n = machines.entry(app.clone()).or_default();
                *n += 1;
                out.max_machines_per_app = out.max_machines_per_app.max(*n);
                if *n > 1 {
                    out.violations.push(format!(
                        "request {}: app {app} has {n} machines at once",
                        e.seq
                    ));
                }
            }
            _ => {
                let n = machines.entry(app).or_default();
                *n = n.saturating_sub(1);
            }
        }
    }
    out
}

/// App name → user id for every name Fleet may pick for these users.
pub fn owners(users: &[fleet_store::UserId]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for user in users {
        let id = user.to_string();
        let candidates = fly_api::NameCandidates::for_user(&fly_api::UserId::new(id.clone()));
        let mut name = candidates.first().clone();
        loop {
            map.insert(name.as_str().to_string(), id.clone());
            match candidates.after(&name) {
                Some(next) => name = next.clone(),
                None => break,
            }
        }
    }
    map
}
