//! Starting and stopping the whole local run.

use crate::config::{FlyTarget, LocalRunConfig, DEMO_IMAGE};
use crate::gateway::Gateway;
use crate::host::HostProcess;
use crate::manifest::PreparedManifest;
use crate::scheduler::{Scheduler, SweepLog};
use crate::tokens::{checked_or_random, given_or_random, random_token};
use anyhow::{Context, Result};
use fleet_store::native::NativeSqlite;
use fleet_store::Store;
use fly_api::Secret;
use fly_simulator::{FlySim, FlySimThread, ProcessDriverConfig, SimConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything the local run started. Dropping it (or [`LocalRun::shutdown`]) stops it all, screener
/// processes included.
pub struct LocalRun {
    // Field order is drop order: stop sweeping, then serving, then the machines.
    scheduler: Option<Scheduler>,
    host: Option<HostProcess>,
    gateway: Option<Gateway>,
    sim: Option<FlySimThread>,
    pub database: PathBuf,
    pub fly_image: String,
    pub components: Vec<String>,
    admin_token: Secret<String>,
    webhook_secret: Secret<String>,
    /// Key of the apps' probe tokens (`probe_key`; random per run).
    probe_key: Secret<String>,
}

impl LocalRun {
    pub fn start(config: LocalRunConfig) -> Result<LocalRun> {
        std::fs::create_dir_all(&config.state_dir)
            .with_context(|| format!("creating {}", config.state_dir.display()))?;
        let database = prepare_database(&config)?;
        let manifest =
            crate::manifest::prepare(&config.repo, &config.components_dir, &config.state_dir)?;
        let admin_token = checked_or_random("FLEET_ADMIN_TOKEN", config.admin_token.clone())?;
        let webhook_secret =
            checked_or_random("FLEET_WEBHOOK_SECRET", config.webhook_secret.clone())?;
        let probe_key = given_or_random(None);

        let (sim, gateway, fly) = match &config.fly {
            FlyTarget::Simulator => {
                let sim = start_simulator(&config)?;
                let gateway = Gateway::start(&sim.sim().root_url())?;
                let fly = FlyVariables {
                    token: Secret::new(sim.sim().token().to_string()),
                    origin: sim.sim().root_url(),
                    org: sim.sim().org_slug().to_string(),
                    image: DEMO_IMAGE.to_string(),
                    app_urls: Some((
                        gateway.app_url_template(),
                        format!("http://{}", gateway.addr),
                    )),
                };
                (Some(sim), Some(gateway), fly)
            }
            FlyTarget::Real {
                token,
                org,
                image,
                origin,
            } => {
                let fly = FlyVariables {
                    token: token.clone(),
                    origin: origin.clone(),
                    org: org.clone(),
                    image: image.clone(),
                    app_urls: None,
                };
                (None, None, fly)
            }
        };

        let mut variables: BTreeMap<&'static str, String> = BTreeMap::new();
        variables.insert("database_url", "sqlite://default".into());
        if !config.fly.is_real() {
            variables.insert(
                "screener_database_url",
                format!("sqlite://{}", database.display()),
            );
        }
        variables.insert("webhook_secret", webhook_secret.expose().clone());
        variables.insert("admin_token", admin_token.expose().clone());
        variables.insert("allow_tier_override", "true".into());
        variables.insert("fly_api_token", fly.token.expose().clone());
        variables.insert("fly_api_origin", fly.origin.clone());
        variables.insert("fly_org", fly.org.clone());
        variables.insert("fly_image", fly.image.clone());
        // Check every active app every few sweeps, so the dashboard's health is minutes fresher than production's.
        variables.insert("check_interval_secs", "10".into());
        variables.insert("probe_key", probe_key.expose().clone());
        // The simulator's gateway stands in for the apps' private network. Against real Fly the apps stay
        // private and the sweep judges them by Fly's checks (no direct probe: spin.toml's default).
        if let Some((template, origin)) = &fly.app_urls {
            variables.insert("app_url_template", template.clone());
            variables.insert("app_url_origin", origin.clone());
        }

        let host = start_host(&config, &manifest, &database, &variables)?;
        let paid_users = crate::seed::entitled_demo_users()
            .map(|u| (u.id.to_string(), u.tier.to_string()))
            .collect();
        let host_url = format!("http://{}", host.addr);
        let scheduler = Scheduler::start(
            host_url,
            webhook_secret.clone(),
            config.sweep_every,
            paid_users,
        )?;
        Ok(LocalRun {
            scheduler: Some(scheduler),
            host: Some(host),
            gateway,
            sim,
            database,
            fly_image: fly.image,
            components: manifest.components.into_iter().collect(),
            admin_token,
            webhook_secret,
            probe_key,
        })
    }

    /// `http://127.0.0.1:<port><path>` of the host.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host.as_ref().expect("running").addr)
    }

    /// The host process's pid.
    pub fn host_pid(&self) -> u32 {
        self.host.as_ref().expect("running").pid()
    }

    pub fn dashboard_url(&self) -> String {
        self.url("/admin")
    }

    pub fn admin_token(&self) -> &Secret<String> {
        &self.admin_token
    }

    pub fn webhook_secret(&self) -> &Secret<String> {
        &self.webhook_secret
    }

    /// The simulator (simulator mode only).
    pub fn sim(&self) -> Option<&FlySim> {
        self.sim.as_ref().map(|s| s.sim())
    }

    /// The app's probe token (what its screener's detailed `/health` and `/metrics` answer to).
    pub fn probe_token(&self, app: &str) -> Secret<String> {
        fleet_reconcile::probe_token(&self.probe_key, app)
    }

    /// The stable URL of a simulated app, through the gateway (simulator mode only).
    pub fn app_url(&self, app: &str) -> Option<String> {
        self.gateway
            .as_ref()
            .map(|g| g.app_url_template().replace("{app}", app))
    }

    pub fn sweeps(&self) -> SweepLog {
        self.scheduler
            .as_ref()
            .map(Scheduler::log)
            .unwrap_or_default()
    }

    /// Stops the scheduler, the host, the gateway and the simulator (which kills every screener process).
    pub fn shutdown(mut self) {
        if let Some(scheduler) = self.scheduler.as_mut() {
            scheduler.request_stop();
        }
        drop(self.host.take());
        drop(self.scheduler.take());
        drop(self.gateway.take());
        drop(self.sim.take());
    }
}

struct FlyVariables {
    token: Secret<String>,
    origin: String,
    org: String,
    image: String,
    /// `(app_url_template, app_url_origin)` when apps are not at `https://{app}.fly.dev`.
    app_urls: Option<(String, String)>,
}

/// Creates (or, in simulator mode, recreates) the SQLite database, migrates it and seeds the demo.
fn prepare_database(config: &LocalRunConfig) -> Result<PathBuf> {
    let name = if config.fly.is_real() {
        "fly.db"
    } else {
        "local.db"
    };
    let database = config.state_dir.join(name);
    let database = std::path::absolute(&database).unwrap_or(database);
    if !config.fly.is_real() && !config.keep_state {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = PathBuf::from(format!("{}{suffix}", database.display()));
            if file.exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing {}", file.display()))?;
            }
        }
    }
    let connection =
        NativeSqlite::open(&database).with_context(|| format!("opening {}", database.display()))?;
    Store::new(connection)
        .migrate()
        .context("migrating the SQLite store")?;
    crate::seed::seed(&database)?;
    Ok(database)
}

/// The simulator, with a process driver that runs the screener for [`DEMO_IMAGE`] in replay mode.
/// The driver starts processes with a clean environment, so `/usr/bin/env` adds the replay settings.
fn start_simulator(config: &LocalRunConfig) -> Result<FlySimThread> {
    crate::paths::require(
        &config.screener_bin,
        "the screener binary",
        "cargo build -p screener",
    )?;
    crate::paths::require(
        &config.replay_file,
        "the replay sample",
        "screener/replay/generate_sample.py",
    )?;
    let screener = absolute(&config.screener_bin);
    let replay = absolute(&config.replay_file);
    let args = vec![
        format!("MARKET_DATA=replay:{}", replay.display()),
        format!("RUST_LOG={}", config.screener_log),
        "TRADER_POLL_SECS=5".to_string(),
        screener.display().to_string(),
    ];
    let driver = ProcessDriverConfig {
        images: BTreeMap::from([(DEMO_IMAGE.to_string(), PathBuf::from("/usr/bin/env"))]),
        args: BTreeMap::from([(DEMO_IMAGE.to_string(), args)]),
    };
    let sim_config = SimConfig {
        token: random_token().expose().clone(),
        org_slug: "fleet-local".into(),
        process_driver: Some(driver),
        ..SimConfig::default()
    };
    FlySimThread::start(sim_config).context("starting the Fly simulator")
}

/// The Spin host with the variables spin.toml declares (others would only draw warnings).
fn start_host(
    config: &LocalRunConfig,
    manifest: &PreparedManifest,
    database: &Path,
    variables: &BTreeMap<&'static str, String>,
) -> Result<HostProcess> {
    let declared: BTreeMap<String, String> = variables
        .iter()
        .filter(|(name, _)| manifest.declares(name))
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    HostProcess::start(
        &config.host_bin,
        &manifest.path,
        config.listen,
        database,
        &declared,
    )
    .with_context(|| format!("starting the Spin host on {}", config.listen))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
