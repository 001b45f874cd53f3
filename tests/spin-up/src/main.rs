//! `fleet-spin-up`: what `spin up` does for a local spin.toml, on Spin's own runtime crates.
//!
//! `spin up` loads the manifest into a locked app (spin-loader), writes it to a working directory and runs
//! `spin trigger http` with `SPIN_LOCKED_URL`, `SPIN_WORKING_DIR` and `SPIN_LOCAL_APP_DIR` set. This binary does
//! the same in one process: the trigger part is Spin's own `FactorsTriggerCommand<HttpTrigger, _>`. The factors
//! are the subset of Spin's `TriggerFactors` (crates/runtime-factors) that Fleet's components import — WASI,
//! variables, outbound networking/HTTP/PostgreSQL and SQLite — wired with what Spin's runtime config gives them
//! when there is no runtime-config file: `SPIN_VARIABLE_*` (and `.env`) through Spin's env provider, and the
//! `default` SQLite database in a file (`--sqlite-db`, else `<state dir>/sqlite_db.db` as Spin does).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use spin_factor_outbound_http::OutboundHttpFactor;
use spin_factor_outbound_networking::OutboundNetworkingFactor;
use spin_factor_outbound_pg::OutboundPgFactor;
use spin_factor_sqlite::SqliteFactor;
use spin_factor_variables::VariablesFactor;
use spin_factor_wasi::{spin::SpinFilesMounter, WasiFactor};
use spin_factors::RuntimeFactors;
use spin_factors_executor::FactorsExecutor;
use spin_sqlite_inproc::{InProcConnection, InProcDatabaseLocation};
use spin_trigger::cli::{
    FactorsConfig, FactorsTriggerCommand, RuntimeFactorsBuilder, SqlStatementExecutorHook,
    SqliteDefaultStoreSummaryHook, StdioLoggingExecutorHooks, UserProvidedPath,
    VariablesValidatorHook, SPIN_LOCAL_APP_DIR, SPIN_LOCKED_URL, SPIN_WORKING_DIR,
};
use spin_trigger_http::HttpTrigger;
use spin_variables_env::EnvVariablesProvider;

/// The factors of Spin's `TriggerFactors` that Fleet uses (no key-value, Redis, MQTT, MySQL, LLM or OTel).
#[derive(RuntimeFactors)]
pub struct FleetFactors {
    pub wasi: WasiFactor,
    pub variables: VariablesFactor,
    pub outbound_networking: OutboundNetworkingFactor,
    pub outbound_http: OutboundHttpFactor,
    pub sqlite: SqliteFactor,
    pub pg: OutboundPgFactor,
}

/// Options beyond Spin's own trigger options.
#[derive(clap::Args)]
pub struct FleetArgs {
    /// The file holding the `default` SQLite database (created if missing). Without it, Spin's default:
    /// `<state dir>/sqlite_db.db` (`--state-dir`, else `.spin/` next to the manifest).
    #[clap(long = "sqlite-db")]
    pub sqlite_db: Option<PathBuf>,

    /// Run a SQLite statement (or `@file`) against the default database before serving, as `spin up --sqlite`.
    #[clap(long = "sqlite")]
    pub sqlite_statements: Vec<String>,
}

pub struct FleetFactorsBuilder;

impl RuntimeFactorsBuilder for FleetFactorsBuilder {
    type CliArgs = FleetArgs;
    type Factors = FleetFactors;
    type RuntimeConfig = FleetFactorsRuntimeConfig;

    fn build(
        config: &FactorsConfig,
        args: &FleetArgs,
    ) -> anyhow::Result<(FleetFactors, FleetFactorsRuntimeConfig)> {
        let factors = FleetFactors {
            wasi: WasiFactor::new(SpinFilesMounter::new(&config.working_dir, false)),
            variables: VariablesFactor::default(),
            outbound_networking: OutboundNetworkingFactor::new(),
            outbound_http: OutboundHttpFactor::default(),
            sqlite: SqliteFactor::new(),
            pg: OutboundPgFactor::new(),
        };

        // Spin's runtime config without a file: the env provider (prefix SPIN_VARIABLE, dotenv `.env`).
        let variables = spin_factor_variables::runtime_config::RuntimeConfig {
            providers: vec![Box::<EnvVariablesProvider>::default()],
        };

        // The `default` database, as spin-sqlite's RuntimeConfigResolver::default() makes it.
        let path = match &args.sqlite_db {
            Some(path) => Some(path.clone()),
            None => state_dir(config).map(|dir| dir.join("sqlite_db.db")),
        };
        let location = InProcDatabaseLocation::from_path(path)?;
        let default_db = move || -> anyhow::Result<Arc<dyn spin_factor_sqlite::Connection>> {
            Ok(Arc::new(InProcConnection::new(location.clone(), false)?))
        };
        let mut sqlite = spin_factor_sqlite::RuntimeConfig::default();
        sqlite
            .connection_creators
            .insert("default".into(), Arc::new(default_db));

        let runtime_config = FleetFactorsRuntimeConfig {
            variables: Some(variables),
            sqlite: Some(sqlite),
            ..Default::default()
        };
        Ok((factors, runtime_config))
    }

    fn configure_app<U: Send + 'static>(
        executor: &mut FactorsExecutor<FleetFactors, U>,
        _runtime_config: &FleetFactorsRuntimeConfig,
        config: &FactorsConfig,
        args: &FleetArgs,
    ) -> anyhow::Result<()> {
        // The hooks Spin's FactorsBuilder adds, minus key-value and the instance memory limit.
        let log_dir = match &config.log_dir {
            UserProvidedPath::Provided(dir) => Some(dir.clone()),
            UserProvidedPath::Default => state_dir(config).map(|dir| dir.join("logs")),
            UserProvidedPath::Unset => None,
        };
        executor.add_hooks(StdioLoggingExecutorHooks::new(
            config.follow_components.clone(),
            log_dir,
            config.truncate_logs,
        ));
        executor.add_hooks(SqlStatementExecutorHook::new(args.sqlite_statements.clone()));
        executor.add_hooks(SqliteDefaultStoreSummaryHook);
        executor.add_hooks(VariablesValidatorHook);
        Ok(())
    }
}

/// Spin's state directory: `--state-dir`, else `.spin` in the local app directory; `--state-dir ""` unsets it.
fn state_dir(config: &FactorsConfig) -> Option<PathBuf> {
    match &config.state_dir {
        UserProvidedPath::Provided(dir) => Some(dir.clone()),
        UserProvidedPath::Default => config
            .local_app_dir
            .as_ref()
            .map(|dir| Path::new(dir).join(".spin")),
        UserProvidedPath::Unset => None,
    }
}

#[derive(Parser)]
#[clap(
    name = "fleet-spin-up",
    about = "Runs a Spin app as `spin up` does, on Spin's own runtime crates (HTTP trigger only)",
    override_usage = "fleet-spin-up [--from spin.toml] [--sqlite-db FILE] [--listen ADDR] [OPTIONS]"
)]
struct Cli {
    /// The application manifest.
    #[clap(long = "from", short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,

    #[clap(flatten)]
    trigger: FactorsTriggerCommand<HttpTrigger, FleetFactorsBuilder>,
}

fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("Error: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let manifest = cli
        .manifest
        .canonicalize()
        .with_context(|| format!("no manifest at {}", cli.manifest.display()))?;
    let app_dir = manifest
        .parent()
        .context("manifest has no directory")?
        .to_owned();
    // `spin up` runs each app from a fresh temporary working directory holding spin.lock and copied assets.
    let working_dir = tempfile::Builder::new().prefix("spinup-").tempdir()?;

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let _ = spin_telemetry::init(env!("CARGO_PKG_VERSION").to_owned(), Vec::new());
        let locked = spin_loader::from_file(
            &manifest,
            spin_loader::FilesMountStrategy::Copy(working_dir.path().join("assets")),
            None,
            None,
        )
        .await
        .with_context(|| format!("failed to load manifest from {}", manifest.display()))?;
        let locked_path = working_dir.path().join("spin.lock");
        std::fs::write(&locked_path, serde_json::to_vec_pretty(&locked)?)?;

        // What `spin up` hands the trigger process (src/commands/up.rs: start_trigger).
        std::env::set_var(SPIN_LOCKED_URL, format!("file://{}", locked_path.display()));
        std::env::set_var(SPIN_WORKING_DIR, working_dir.path());
        std::env::set_var(SPIN_LOCAL_APP_DIR, &app_dir);

        cli.trigger.run().await
    })
}
