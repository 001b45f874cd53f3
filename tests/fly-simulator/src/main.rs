//! `fly-simulator [--config sim.json] [--port N]`: runs the simulator until Ctrl-C.
//! The config file is a JSON `SimConfig` (see README.md); the token may come from `FLY_SIM_TOKEN`.

use anyhow::Context;
use fly_simulator::{FlySim, SimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = SimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => {
                let path = args.next().context("--config needs a file")?;
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                config = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
            }
            "--port" => config.port = args.next().context("--port needs a number")?.parse()?,
            "--no-rate-limits" => config.rate_limits.enabled = false,
            "-h" | "--help" => {
                println!("usage: fly-simulator [--config sim.json] [--port N] [--no-rate-limits]");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if let Ok(token) = std::env::var("FLY_SIM_TOKEN") {
        config.token = token;
    }
    let sim = FlySim::start(config).await?;
    println!(
        "fly-simulator listening on {} (API base {})",
        sim.root_url(),
        sim.base_url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
