//! The screener binary. Configuration comes from the environment; see README.md.

use screener::config::Config;
use tracing_subscriber::util::SubscriberInitExt;

fn main() {
    screener::logging::subscriber(std::io::stdout).init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("screener: {e}");
            std::process::exit(2);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    if let Err(e) = runtime.block_on(screener::runtime::run(config)) {
        eprintln!("screener: {e}");
        std::process::exit(1);
    }
}
