//! `spin-test-host serve`: run a Spin app (spin.toml) on wasmtime with Spin's semantics.

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use spin_test_host::{HostConfig, HttpTimeouts, Limits};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "spin-test-host",
    version,
    about = "Runs a Spin app on wasmtime with Spin's semantics"
)]
struct Cli {
    /// Log format for the host's own logs (RUST_LOG sets the filter; default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP triggers of a spin.toml until Ctrl-C.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    manifest: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Set an application variable (repeatable); beats SPIN_VARIABLE_<NAME>.
    #[arg(long = "variable", value_name = "KEY=VALUE")]
    variables: Vec<String>,
    /// File for the "default" SQLite database (default: <app dir>/.spin/sqlite_db.db).
    #[arg(long, value_name = "PATH")]
    sqlite_default: Option<PathBuf>,
    /// Another SQLite database (repeatable).
    #[arg(long = "sqlite-database", value_name = "LABEL=PATH")]
    sqlite_databases: Vec<String>,
    /// Opt-in wall-clock budget per request, in milliseconds: past it the request gets a 500 (empty body). Off by
    /// default, like `spin up`, where a request that never finishes hangs.
    #[arg(long, env = "SPIN_TEST_HOST_REQUEST_TIMEOUT_MS", value_name = "MS")]
    request_timeout_ms: Option<u64>,
    /// Opt-in cap on each linear memory of an instance, in bytes (Spin's own flag and variable). Off by default,
    /// like `spin up`.
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY", value_name = "BYTES")]
    max_instance_memory: Option<usize>,
    /// Outbound HTTP connect timeout, in milliseconds (unless the component sets its own; Spin's default).
    #[arg(long, default_value_t = 600_000)]
    outbound_connect_timeout_ms: u64,
    /// Outbound HTTP first-byte and between-bytes timeout, in milliseconds (unless the component sets its own;
    /// Spin's default).
    #[arg(long, default_value_t = 600_000)]
    outbound_read_timeout_ms: u64,
    /// Extra CA certificate (PEM) trusted for Postgres TLS (repeatable).
    #[arg(long = "postgres-ca", value_name = "PEM")]
    postgres_ca_files: Vec<PathBuf>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let mut config = HostConfig::new(&args.manifest)
        .listen(args.listen)
        .limits(Limits {
            memory_bytes: args.max_instance_memory,
            request_timeout: args.request_timeout_ms.map(Duration::from_millis),
            ..Limits::default()
        })
        .outbound_http_timeouts(HttpTimeouts {
            connect: Duration::from_millis(args.outbound_connect_timeout_ms),
            first_byte: Duration::from_millis(args.outbound_read_timeout_ms),
            between_bytes: Duration::from_millis(args.outbound_read_timeout_ms),
        });
    for variable in &args.variables {
        let (key, value) = spin_test_host::variables::VariableSources::parse_flag(variable)?;
        config = config.variable(key, value.expose().clone());
    }
    if let Some(path) = args.sqlite_default {
        config = config.sqlite_default(path);
    }
    for database in &args.sqlite_databases {
        let (label, path) = database
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--sqlite-database expects LABEL=PATH"))?;
        config = config.sqlite_database(label, path);
    }
    for ca in args.postgres_ca_files {
        config = config.postgres_ca_file(ca);
    }
    let host = config.start()?;
    println!("Serving {}", host.url("/"));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())?;
    tracing::info!("shutting down");
    host.shutdown();
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
