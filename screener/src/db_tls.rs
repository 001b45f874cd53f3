//! The TLS floor of the screener's database connection. A `DATABASE_URL` that names a server off this machine
//! must ask for TLS (`sslmode=require`, `verify-ca` or `verify-full`): below that (`disable`, `allow`,
//! `prefer`, or no `sslmode`, which means `prefer`) the role's password and every trader's filter could cross
//! the network in clear or reach an impostor. With TLS the server's certificate chain and host name are always
//! verified (rustls, against the public web roots plus `DATABASE_CA_CERT`), so `require` here is libpq's
//! `verify-full`; a private CA (Supabase's pooler) goes in `DATABASE_CA_CERT`, never a lower `sslmode`.

use std::net::IpAddr;

/// libpq's `sslmode` values below `require`.
const BELOW_REQUIRE: [&str; 3] = ["disable", "allow", "prefer"];

/// Checks a `postgres://` URL against the floor and answers the URL the driver accepts: `verify-ca` and
/// `verify-full` become `require` (tokio-postgres knows only `disable`, `prefer` and `require`; verification
/// is always on). The error never repeats the URL.
pub fn enforce(url: &str) -> Result<String, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut sslmode = None;
    let mut params: Vec<String> = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        match param.split_once('=') {
            Some(("sslmode", value)) => sslmode = Some(value.to_ascii_lowercase()),
            _ => params.push(param.to_string()),
        }
    }
    if !loopback_only(base, &params) {
        match sslmode.as_deref() {
            None => {
                return Err(
                    "no sslmode for a server off this machine (the default, prefer, may connect without \
                     TLS): add sslmode=require (the certificate is verified; trust a private CA with \
                     DATABASE_CA_CERT)"
                        .into(),
                )
            }
            Some(mode) if BELOW_REQUIRE.contains(&mode) => {
                return Err(format!(
                    "sslmode={mode} is below require for a server off this machine: use sslmode=require (the \
                     certificate is verified; trust a private CA with DATABASE_CA_CERT instead of lowering \
                     sslmode)"
                ))
            }
            _ => {}
        }
    }
    if let Some(mode) = sslmode {
        let mode = match mode.as_str() {
            "verify-ca" | "verify-full" => "require".to_string(),
            _ => mode,
        };
        params.push(format!("sslmode={mode}"));
    }
    Ok(if params.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", params.join("&"))
    })
}

/// Whether every server the URL may connect to (`host`s and `hostaddr`s; none means the local socket) is on
/// this machine. An unparsable URL counts as remote.
fn loopback_only(base: &str, params: &[String]) -> bool {
    let without_sslmode = if params.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", params.join("&"))
    };
    let Ok(config) = without_sslmode.parse::<tokio_postgres::Config>() else {
        return false;
    };
    let hosts_local = config.get_hosts().iter().all(|host| match host {
        tokio_postgres::config::Host::Tcp(name) => is_loopback_name(name),
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => true,
    });
    hosts_local && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
