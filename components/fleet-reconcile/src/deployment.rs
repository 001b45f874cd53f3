//! Deployment checks no single variable expresses: the shared (SQLite) screener database belongs to the local
//! run and is refused against Fly's real API, and the CA certificate screeners trust for their database is
//! delivered to every app as a secret, so nobody has to lower `sslmode` to reach Supabase's pooler.

use std::collections::BTreeMap;

use fly_api::Secret;

use crate::config::DatabaseAccess;
use crate::screener_db::VariableError;

/// The app secret (environment variable) that carries the screener database's CA certificate (PEM).
pub const CA_CERT_SECRET: &str = "DATABASE_CA_CERT";

/// Whether `origin` is Fly's real Machines API: the public `api.machines.dev` (or any `*.machines.dev`, `fly.io`
/// host) or the private-network `_api.internal`.
pub fn is_real_fly_api(origin: &str) -> bool {
    let origin = origin.trim();
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_port
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    under("machines.dev") || under("fly.io") || host == "_api.internal"
}

/// Refuses shared screener access (SQLite: every screener gets one URL and one credential) when the Fly API is
/// the real one: that mode exists for the local run against the simulator only.
pub fn refuse_shared_database_on_real_fly(
    access: &DatabaseAccess,
    fly_api_origin: &str,
) -> Result<(), VariableError> {
    if matches!(access, DatabaseAccess::Shared { .. }) && is_real_fly_api(fly_api_origin) {
        return Err(VariableError {
            variable: "database_url",
            problem: "a SQLite database (shared screener database, local run only) is refused with the real \
                      Fly API (fly_api_origin): every user's screener would share one database and credential; \
                      use a Postgres database_url"
                .into(),
        });
    }
    Ok(())
}

/// The app secrets that deliver `screener_db_ca_cert` (PEM) to every screener as [`CA_CERT_SECRET`]: none when
/// it is unset; an error naming the variable (never its value) when it is not a PEM certificate.
pub fn ca_cert_secrets(
    pem: Option<&str>,
) -> Result<BTreeMap<String, Secret<String>>, VariableError> {
    let mut secrets = BTreeMap::new();
    let Some(pem) = pem.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(secrets);
    };
    let begin = pem.find("-----BEGIN CERTIFICATE-----");
    let end = pem.rfind("-----END CERTIFICATE-----");
    if !matches!((begin, end), (Some(b), Some(e)) if b < e) {
        return Err(VariableError {
            variable: "screener_db_ca_cert",
            problem: "must be one or more PEM certificates (-----BEGIN CERTIFICATE----- ...)"
                .into(),
        });
    }
    secrets.insert(CA_CERT_SECRET.to_string(), Secret::new(format!("{pem}\n")));
    Ok(secrets)
}
