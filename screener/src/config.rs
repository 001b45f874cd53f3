//! Configuration from the environment. Errors name the variable and never echo a secret.

use crate::util::Secret;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    SharedBackend,
    UserDedicated,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::SharedBackend => "shared_backend",
            RunMode::UserDedicated => "user_dedicated",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum MarketData {
    Binance,
    Replay(PathBuf),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Universe {
    /// The top N USDT pairs by 24h quote volume.
    TopUsdt(usize),
    Fixed(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub run_mode: RunMode,
    pub user_id: Option<Uuid>,
    pub database_url: Secret<String>,
    pub database_ca_pem: Option<Secret<String>>,
    pub app_name: Option<String>,
    /// `user_fly_apps.id` of this app, written to `signals.fly_app_id` when the provisioner sets it.
    pub fleet_app_id: Option<Uuid>,
    pub machine_id: Option<String>,
    pub region: Option<String>,
    pub port: u16,
    pub market: MarketData,
    pub ws_base: String,
    pub rest_base: String,
    pub universe: Universe,
    pub trader_poll: Duration,
    pub startup_jitter: Duration,
    pub rest_spacing: Duration,
    pub streams_per_conn: usize,
    pub ws_idle_timeout: Duration,
    pub ws_renew_after: Duration,
    pub signal_source: String,
    pub stale_after: Option<Duration>,
    /// `FLEET_PROBE_TOKEN`: the detailed `/health` and `/metrics` answer only to `Authorization: Bearer` with
    /// it; without it they show liveness only.
    pub probe_token: Option<Secret<String>>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let run_mode = match get("RUN_MODE").unwrap_or("shared_backend") {
            "shared_backend" => RunMode::SharedBackend,
            "user_dedicated" => RunMode::UserDedicated,
            other => {
                return Err(err(
                    "RUN_MODE",
                    format!("{other:?} is not shared_backend or user_dedicated"),
                ))
            }
        };
        let user_id = match (run_mode, get("USER_ID")) {
            (_, Some(v)) => Some(Uuid::parse_str(v).map_err(|_| err("USER_ID", "must be a uuid"))?),
            (RunMode::UserDedicated, None) => {
                return Err(err("USER_ID", "required when RUN_MODE=user_dedicated"))
            }
            (RunMode::SharedBackend, None) => None,
        };
        let database_url = get("DATABASE_URL").ok_or_else(|| err("DATABASE_URL", "required"))?;
        // Never echo the value: it carries the password.
        if !(database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
            || database_url.starts_with("sqlite://"))
        {
            return Err(err(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:// (value not shown)",
            ));
        }
        let database_url = if database_url.starts_with("sqlite://") {
            database_url.to_string()
        } else {
            crate::db_tls::enforce(database_url).map_err(|m| err("DATABASE_URL", m))?
        };
        let market = match get("MARKET_DATA").unwrap_or("binance") {
            "binance" => MarketData::Binance,
            v if v.starts_with("replay:") && v.len() > "replay:".len() => {
                MarketData::Replay(PathBuf::from(&v[7..]))
            }
            other => {
                return Err(err(
                    "MARKET_DATA",
                    format!("{other:?} is not binance or replay:<file>"),
                ))
            }
        };
        let universe = match get("SYMBOLS") {
            Some(list) => {
                let symbols: Vec<String> = list
                    .split(',')
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect();
                if symbols
                    .iter()
                    .any(|s| !s.chars().all(|c| c.is_ascii_alphanumeric()))
                {
                    return Err(err(
                        "SYMBOLS",
                        "symbols are comma-separated letters and digits, e.g. BTCUSDT,ETHUSDT",
                    ));
                }
                Universe::Fixed(symbols)
            }
            None => Universe::TopUsdt(
                number(get("SYMBOL_COUNT"), "SYMBOL_COUNT", 100, 1, 1000)? as usize
            ),
        };
        let secs = |var: &'static str, default: u64, min: u64, max: u64| {
            number(get(var), var, default, min, max).map(Duration::from_secs)
        };
        let millis = |var: &'static str, default: u64, min: u64, max: u64| {
            number(get(var), var, default, min, max).map(Duration::from_millis)
        };
        let signal_source = get("SIGNAL_SOURCE")
            .unwrap_or(if database_url.starts_with("sqlite://") {
                "local"
            } else {
                "cloud"
            })
            .to_string();
        if !["local", "cloud"].contains(&signal_source.as_str()) {
            return Err(err("SIGNAL_SOURCE", "must be local or cloud"));
        }
        Ok(Config {
            run_mode,
            user_id,
            database_url: Secret::new(database_url.clone()),
            database_ca_pem: get("DATABASE_CA_CERT").map(|v| Secret::new(v.to_string())),
            app_name: get("FLY_APP_NAME").map(String::from),
            fleet_app_id: get("FLEET_APP_ID")
                .map(|v| Uuid::parse_str(v).map_err(|_| err("FLEET_APP_ID", "must be a uuid")))
                .transpose()?,
            machine_id: get("FLY_MACHINE_ID").map(String::from),
            region: get("FLY_REGION").map(String::from),
            port: number(get("PORT"), "PORT", 8080, 1, 65535)? as u16,
            market,
            ws_base: url(
                get("BINANCE_WS_URL"),
                "BINANCE_WS_URL",
                "wss://data-stream.binance.vision",
                &["ws://", "wss://"],
            )?,
            rest_base: url(
                get("BINANCE_REST_URL"),
                "BINANCE_REST_URL",
                "https://data-api.binance.vision",
                &["http://", "https://"],
            )?,
            universe,
            trader_poll: secs("TRADER_POLL_SECS", 30, 1, 3600)?,
            startup_jitter: millis("STARTUP_JITTER_MS", 10_000, 0, 600_000)?,
            rest_spacing: millis("REST_SPACING_MS", 100, 0, 10_000)?,
            streams_per_conn: number(
                get("WS_STREAMS_PER_CONN"),
                "WS_STREAMS_PER_CONN",
                1024,
                1,
                1024,
            )? as usize,
            ws_idle_timeout: secs("WS_IDLE_TIMEOUT_SECS", 60, 1, 3600)?,
            ws_renew_after: secs("WS_RENEW_SECS", 23 * 3600, 10, 23 * 3600)?,
            signal_source,
            stale_after: get("STALE_AFTER_SECS")
                .map(|v| {
                    number(Some(v), "STALE_AFTER_SECS", 0, 1, 86_400 * 7).map(Duration::from_secs)
                })
                .transpose()?,
            probe_token: get("FLEET_PROBE_TOKEN")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Secret::new(t.to_string())),
        })
    }

    /// The database location without credentials, for logs: `postgres://user@host:port/db`.
    pub fn database_display(&self) -> String {
        redact_url(self.database_url.expose())
    }
}

fn number(
    v: Option<&str>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let n = match v {
        None => default,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| err(var, format!("{s:?} is not a whole number")))?,
    };
    if !(min..=max).contains(&n) {
        return Err(err(var, format!("{n} out of range {min}..={max}")));
    }
    Ok(n)
}

fn url(
    v: Option<&str>,
    var: &'static str,
    default: &str,
    schemes: &[&str],
) -> Result<String, ConfigError> {
    let v = v.unwrap_or(default);
    if !schemes.iter().any(|s| v.starts_with(s)) {
        return Err(err(var, format!("must start with one of {schemes:?}")));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// Drops the password (and query string) from a database URL.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let rest = rest.split('?').next().unwrap_or("");
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => format!("{scheme}://{rest}"),
    }
}
