//! PostgreSQL via tokio-postgres (TLS through rustls when the server offers it).
//!
//! Works through a transaction-mode pooler (Supabase's Supavisor on port 6543, PgBouncer): every statement is
//! an unnamed one, parsed, bound and executed in a single round trip with its parameter types given
//! (`query_typed` / `execute_typed`), so nothing is left on a server connection between transactions. No named
//! (server-side) prepared statement, no session `SET`. Result columns are cast to built-in types, so the driver
//! never looks a type up (that lookup would prepare a named statement).

use super::{
    millis_to_utc, DbError, Scope, SignalOrigin, TraderRow, CHANGE_PERCENT_UNKNOWN,
    NEW_SIGNAL_STATUS,
};
use crate::engine::SignalRow;
use crate::util::Secret;
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

/// Columns of the platform's `traders` the screener reads (they exist on vanilla PostgreSQL's copy too), cast
/// to built-in types.
const TRADER_COLUMNS: &str = "id::uuid AS id, user_id::uuid AS user_id, name::text AS name, \
                              filter::jsonb AS filter, language::text AS language";

pub struct PgStore {
    url: Secret<String>,
    /// The login user of `url` (not secret), named in pooler login failures, which do not name it themselves.
    login_user: String,
    tls: MakeRustlsConnect,
    client: Mutex<Option<Client>>,
}

impl PgStore {
    pub fn new(url: Secret<String>, ca_pem: Option<Secret<String>>) -> Result<PgStore, DbError> {
        let login_user = url
            .expose()
            .parse::<tokio_postgres::Config>()
            .map_err(|_| {
                DbError::Other(
                    "DATABASE_URL is not a valid PostgreSQL URL (value not shown)".into(),
                )
            })?
            .get_user()
            .unwrap_or_default()
            .to_string();
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
            login_user,
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
                .map_err(|e| self.classify(e))?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(error = ?classify(e).to_string(), "database connection ended");
                }
            });
            *guard = Some(client);
        }
        let client = guard.as_ref().expect("connected above");
        let result = f(client).await.map_err(|e| self.classify(e));
        if matches!(result, Err(DbError::Unreachable(_))) {
            *guard = None;
        }
        result
    }

    /// [`classify`], naming the login user when a pooler refuses it (its messages do not say who).
    fn classify(&self, e: tokio_postgres::Error) -> DbError {
        match classify(e) {
            DbError::Auth(text) if text.starts_with(POOLER_LOGIN_FAILED) => DbError::Auth(format!(
                "{text} (user \"{}\" of DATABASE_URL: the role was revoked, or its password changed)",
                self.login_user
            )),
            other => other,
        }
    }

    pub async fn load_traders(&self, scope: Scope) -> Result<Vec<TraderRow>, DbError> {
        let rows = self
            .with_client(async |c| match scope {
                Scope::BuiltIn => {
                    let q = format!("SELECT {TRADER_COLUMNS} FROM public.traders WHERE is_built_in AND enabled ORDER BY id");
                    c.query_typed(&q, &[]).await
                }
                Scope::User(u) => {
                    let q = format!(
                        "SELECT {TRADER_COLUMNS} FROM public.traders \
                         WHERE user_id = $1 AND enabled AND NOT is_built_in ORDER BY id"
                    );
                    c.query_typed(&q, &[(&u, Type::UUID)]).await
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
                    language: r.try_get("language").map_err(classify)?,
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
                    c.query_typed_one(&format!("{base} WHERE is_built_in AND enabled"), &[])
                        .await
                }
                Scope::User(u) => {
                    c.query_typed_one(
                        &format!("{base} WHERE user_id = $1 AND enabled AND NOT is_built_in"),
                        &[(&u, Type::UUID)],
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
        // Duplicates hit the unique index on (trader_id, symbol, interval, candle_open_time). No conflict
        // target: naming one needs SELECT on signals, which a per-user screener role lacks; no RETURNING either. The float8 arrays go into the platform's `numeric` columns
        // by INSERT's assignment cast (float8 -> numeric), and into double precision columns unchanged.
        const INSERT: &str = "INSERT INTO public.signals \
            (trader_id, user_id, symbol, interval, candle_open_time, \"timestamp\", price_at_signal, \
             change_percent_at_signal, volume_at_signal, count, status, source, fly_app_id, indicator_data) \
            SELECT r.trader_id, r.user_id, r.symbol, r.ivl, r.candle_open_time, r.signal_time, r.price, \
                   $10::float8, r.volume, 1, $11::text, $12::text, $13::uuid, r.indicator_data \
              FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], \
                          $6::timestamptz[], $7::float8[], $8::float8[], $9::jsonb[]) \
                   AS r(trader_id, user_id, symbol, ivl, candle_open_time, signal_time, price, volume, \
                        indicator_data) \
            ON CONFLICT DO NOTHING";
        let trader: Vec<Uuid> = rows.iter().map(|r| r.trader_id).collect();
        let user: Vec<Option<Uuid>> = rows.iter().map(|r| r.user_id).collect();
        let symbol: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
        let interval: Vec<&str> = rows.iter().map(|r| r.interval.name()).collect();
        let open: Vec<chrono::DateTime<chrono::Utc>> = rows
            .iter()
            .map(|r| millis_to_utc(r.candle_open_time))
            .collect();
        let at: Vec<chrono::DateTime<chrono::Utc>> = rows
            .iter()
            .map(|r| millis_to_utc(r.timestamp_ms()))
            .collect();
        let price: Vec<f64> = rows.iter().map(|r| r.price).collect();
        let volume: Vec<f64> = rows.iter().map(|r| r.volume).collect();
        let details: Vec<&serde_json::Value> = rows.iter().map(|r| &r.details).collect();
        self.with_client(async |c| {
            c.execute_typed(
                INSERT,
                &[
                    (&trader, Type::UUID_ARRAY),
                    (&user, Type::UUID_ARRAY),
                    (&symbol, Type::TEXT_ARRAY),
                    (&interval, Type::TEXT_ARRAY),
                    (&open, Type::TIMESTAMPTZ_ARRAY),
                    (&at, Type::TIMESTAMPTZ_ARRAY),
                    (&price, Type::FLOAT8_ARRAY),
                    (&volume, Type::FLOAT8_ARRAY),
                    (&details, Type::JSONB_ARRAY),
                    (&CHANGE_PERCENT_UNKNOWN, Type::FLOAT8),
                    (&NEW_SIGNAL_STATUS, Type::TEXT),
                    (&origin.source, Type::TEXT),
                    (&origin.fleet_app_id, Type::UUID),
                ],
            )
            .await
        })
        .await
    }
}

/// How a pooler's refusal to log in as the screener role starts in /health.
const POOLER_LOGIN_FAILED: &str = "the pooler cannot log in as the screener role";

/// Classifies a driver error for /health. tokio-postgres errors carry no connection string or password.
fn classify(e: tokio_postgres::Error) -> DbError {
    let text = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    // A pooler reports its own failure to log in to PostgreSQL under a generic code (PgBouncer: 08P01 "server
    // login has been failing", which hides the server's reason, or "no such user" when its auth_query finds no
    // role; Supavisor: "Tenant or user not found" for a role it cannot look up). For a per-user screener role that means the role was revoked, or its password
    // changed, since DATABASE_URL was written.
    if e.as_db_error().is_some()
        && (text.contains("server login has been failing")
            || text.contains("no such user")
            || text.contains("Tenant or user not found"))
    {
        return DbError::Auth(format!("{POOLER_LOGIN_FAILED}: {text}"));
    }
    match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                || text.contains("password authentication failed") =>
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
