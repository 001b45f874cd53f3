//! PostgreSQL via tokio-postgres (TLS through rustls when the server offers it).

use super::{millis_to_utc, DbError, Scope, SignalOrigin, TraderRow};
use crate::engine::SignalRow;
use crate::util::Secret;
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

const TRADER_COLUMNS: &str = "id, user_id, name, filter, timeframes, symbols";

pub struct PgStore {
    url: Secret<String>,
    tls: MakeRustlsConnect,
    client: Mutex<Option<Client>>,
}

impl PgStore {
    pub fn new(url: Secret<String>, ca_pem: Option<Secret<String>>) -> Result<PgStore, DbError> {
        url.expose()
            .parse::<tokio_postgres::Config>()
            .map_err(|_| {
                DbError::Other(
                    "DATABASE_URL is not a valid PostgreSQL URL (value not shown)".into(),
                )
            })?;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = ca_pem {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            for cert in CertificateDer::pem_slice_iter(pem.expose().as_bytes()) {
                let cert = cert.map_err(|e| DbError::Other(format!("DATABASE_CA_CERT: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| DbError::Other(format!("DATABASE_CA_CERT: {e}")))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Other(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(PgStore {
            url,
            tls: MakeRustlsConnect::new(tls),
            client: Mutex::new(None),
        })
    }

    /// Runs `f` with a connected client, connecting first when needed; a broken connection is dropped so the
    /// next call reconnects.
    async fn with_client<T>(
        &self,
        f: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, conn) = tokio_postgres::connect(self.url.expose(), self.tls.clone())
                .await
                .map_err(classify)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(error = %classify(e), "database connection ended");
                }
            });
            *guard = Some(client);
        }
        let client = guard.as_ref().expect("connected above");
        let result = f(client).await.map_err(classify);
        if matches!(result, Err(DbError::Unreachable(_))) {
            *guard = None;
        }
        result
    }

    pub async fn load_traders(&self, scope: Scope) -> Result<Vec<TraderRow>, DbError> {
        let rows = self
            .with_client(async |c| match scope {
                Scope::BuiltIn => {
                    let q = format!("SELECT {TRADER_COLUMNS} FROM public.traders WHERE is_built_in AND enabled ORDER BY id");
                    c.query(&q, &[]).await
                }
                Scope::User(u) => {
                    let q = format!(
                        "SELECT {TRADER_COLUMNS} FROM public.traders \
                         WHERE user_id = $1 AND enabled AND NOT is_built_in ORDER BY id"
                    );
                    c.query(&q, &[&u]).await
                }
            })
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TraderRow {
                    id: r.try_get("id").map_err(classify)?,
                    user_id: r.try_get("user_id").map_err(classify)?,
                    name: r.try_get("name").map_err(classify)?,
                    filter: r.try_get("filter").map_err(classify)?,
                    timeframes: r.try_get("timeframes").map_err(classify)?,
                    symbols: r.try_get("symbols").map_err(classify)?,
                })
            })
            .collect()
    }

    pub async fn traders_fingerprint(&self, scope: Scope) -> Result<String, DbError> {
        let base = "SELECT count(*)::text || ':' || coalesce(md5(string_agg(id::text || '@' || updated_at::text, ',' ORDER BY id)), '') \
                    FROM public.traders";
        let row = self
            .with_client(async |c| match scope {
                Scope::BuiltIn => {
                    c.query_one(&format!("{base} WHERE is_built_in AND enabled"), &[])
                        .await
                }
                Scope::User(u) => {
                    c.query_one(
                        &format!("{base} WHERE user_id = $1 AND enabled AND NOT is_built_in"),
                        &[&u],
                    )
                    .await
                }
            })
            .await?;
        row.try_get(0).map_err(classify)
    }

    pub async fn insert_signals(
        &self,
        rows: &[SignalRow],
        origin: &SignalOrigin,
    ) -> Result<u64, DbError> {
        // No conflict target: naming one needs SELECT on signals, which a per-user screener role lacks.
        const INSERT: &str = "INSERT INTO public.signals \
            (trader_id, user_id, symbol, interval, candle_open_time, price, volume, details, source, fly_app_id, machine_id) \
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], \
                                 $7::float8[], $8::jsonb[], $9::text[], $10::uuid[], $11::text[]) \
            ON CONFLICT DO NOTHING";
        let trader: Vec<Uuid> = rows.iter().map(|r| r.trader_id).collect();
        let user: Vec<Option<Uuid>> = rows.iter().map(|r| r.user_id).collect();
        let symbol: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
        let interval: Vec<&str> = rows.iter().map(|r| r.interval.name()).collect();
        let open: Vec<chrono::DateTime<chrono::Utc>> = rows
            .iter()
            .map(|r| millis_to_utc(r.candle_open_time))
            .collect();
        let price: Vec<f64> = rows.iter().map(|r| r.price).collect();
        let volume: Vec<f64> = rows.iter().map(|r| r.volume).collect();
        let details: Vec<&serde_json::Value> = rows.iter().map(|r| &r.details).collect();
        let source: Vec<&str> = rows.iter().map(|_| origin.source.as_str()).collect();
        let app: Vec<Option<Uuid>> = rows.iter().map(|_| origin.fleet_app_id).collect();
        let machine: Vec<Option<&str>> =
            rows.iter().map(|_| origin.machine_id.as_deref()).collect();
        self.with_client(async |c| {
            c.execute(
                INSERT,
                &[
                    &trader, &user, &symbol, &interval, &open, &price, &volume, &details, &source,
                    &app, &machine,
                ],
            )
            .await
        })
        .await
    }
}

/// Classifies a driver error for /health. tokio-postgres errors carry no connection string or password.
fn classify(e: tokio_postgres::Error) -> DbError {
    let text = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            DbError::Auth(format!(
                "{text} (check the screener role's password in DATABASE_URL)"
            ))
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => DbError::Forbidden(text),
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
            DbError::Unreachable(text)
        }
        Some(_) => DbError::Other(text),
        None if e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) =>
        {
            DbError::Unreachable(text)
        }
        None => DbError::Other(text),
    }
}
