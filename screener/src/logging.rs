//! How the screener logs: one line per event, human-readable, filtered by `RUST_LOG` (default `info`).
//!
//! Text a user controls (filter and code errors, which echo filter content, and database refusals) is logged
//! with Debug formatting (`?reason`): quoted, with newlines and every control character escaped, so a filter
//! cannot forge log lines (issue 19).

use tracing_subscriber::fmt::MakeWriter;

/// The screener's subscriber, writing to `writer` (stdout in the binary).
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_writer(writer)
        .finish()
}
