//! `fleet-up`: run all of Fleet on this machine (README's first command; `tests/fleet up` builds and runs it).

use anyhow::Result;
use clap::Parser;
use fleet_local_run::{FlyTarget, LocalRun, LocalRunConfig, DEMO_USERS};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "fleet-up",
    about = "Runs Fleet locally: SQLite, the Fly simulator running real screener processes, the Spin host, \
             a sweep scheduler and a seeded demo. With FLY_API_TOKEN (+ FLY_ORG, FLY_IMAGE) it targets the \
             real Fly API instead."
)]
struct Args {
    /// Address the host listens on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Seconds between health sweeps.
    #[arg(long, default_value_t = 5)]
    sweep_every_secs: u64,
    /// Admin token for the dashboard (default: random per run).
    #[arg(long, env = "FLEET_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Webhook/sweep secret (default: random per run).
    #[arg(long, env = "FLEET_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Where the database and the served manifest live (default: <repo>/.fleet).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Keep the simulator-mode database from the previous run instead of starting fresh.
    #[arg(long)]
    keep_state: bool,
    /// Where the .wasm components are (default: <target>/wasm32-wasip2/release next to this executable).
    #[arg(long)]
    components_dir: Option<PathBuf>,
    /// The screener executable (default: the one built next to this executable).
    #[arg(long)]
    screener: Option<PathBuf>,
    /// With FLY_API_TOKEN set: start against the real Fly API without the 10-second chance to abort.
    #[arg(long)]
    yes: bool,
    /// RUST_LOG for screener processes.
    #[arg(long, default_value = "warn")]
    screener_log: String,
}

fn main() -> Result<()> {
    let started = Instant::now();
    let args = Args::parse();
    init_tracing();
    let mut config = LocalRunConfig::for_this_build()?;
    config.listen = args.listen;
    config.sweep_every = Duration::from_secs(args.sweep_every_secs.max(1));
    config.admin_token = args.admin_token;
    config.webhook_secret = args.webhook_secret;
    config.keep_state = args.keep_state;
    config.screener_log = args.screener_log;
    if let Some(dir) = args.state_dir {
        config.state_dir = dir;
    }
    if let Some(dir) = args.components_dir {
        config.components_dir = dir;
    }
    if let Some(screener) = args.screener {
        config.screener_bin = screener;
    }
    config.fly = FlyTarget::from_env(|name| std::env::var(name).ok())?;
    if let FlyTarget::Real {
        org, image, origin, ..
    } = &config.fly
    {
        warn_real_fly(org, image, origin);
        if !args.yes {
            for left in (1..=10).rev() {
                eprint!("\rstarting against the real Fly API in {left:>2} s (Ctrl-C aborts, --yes skips this) ");
                std::thread::sleep(Duration::from_secs(1));
            }
            eprintln!();
        }
    }
    let started = if config.fly.is_real() {
        Instant::now()
    } else {
        started
    };

    let run = LocalRun::start(config.clone())?;
    print_banner(&run, &config, started.elapsed());

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(stop_requested())?;
    eprintln!("\nfleet-up: stopping (host, scheduler, simulator and every screener process)...");
    run.shutdown();
    eprintln!("fleet-up: stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM (`kill`, a process manager): either stops every child cleanly.
async fn stop_requested() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

fn warn_real_fly(org: &str, image: &str, origin: &str) {
    let line = "!".repeat(78);
    eprintln!("\n{line}");
    eprintln!("!! FLY_API_TOKEN is set: this run talks to the REAL Fly Machines API at {origin}");
    eprintln!("!! It WILL CREATE REAL, BILLED APPS in org `{org}` running image `{image}`");
    eprintln!("!! for every entitled user, and delete them on downgrade.");
    eprintln!(
        "!! Screeners on Fly cannot reach this machine's SQLite file: give them a database with"
    );
    eprintln!("!! SPIN_VARIABLE_SCREENER_DATABASE_URL, or expect their /health to report failing.");
    eprintln!("!! Unset FLY_API_TOKEN to use the simulator.");
    eprintln!("{line}\n");
}

fn print_banner(run: &LocalRun, config: &LocalRunConfig, took: Duration) {
    let target = match run.sim() {
        Some(sim) => format!(
            "simulator {} (machines run the local screener on replay data; state: {}/__sim/state)",
            sim.root_url(),
            sim.root_url()
        ),
        None => "REAL Fly API (see the warning above)".to_string(),
    };
    println!();
    println!("Fleet is running (ready in {:.1} s)", took.as_secs_f64());
    println!("  dashboard    {}", run.dashboard_url());
    println!("  admin token  {}", run.admin_token().expose());
    println!("  Fly          {target}");
    println!(
        "  database     {} (SQLite; screeners share it: no per-user role locally)",
        run.database.display()
    );
    println!(
        "  sweep        POST {} every {} s",
        run.url("/health/sweep"),
        config.sweep_every.as_secs()
    );
    println!("  components   {}", run.components.join(", "));
    println!("  demo users   (all on the free tier; upgrade one from the dashboard)");
    for user in DEMO_USERS {
        let admin = if user.is_admin { "  (admin)" } else { "" };
        println!("               {}  {}{admin}", user.id, user.email);
    }
    println!("Ctrl-C stops everything.");
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
