//! Issue 19 item 5: the screener refuses a `DATABASE_URL` that could reach a remote database without TLS, and
//! accepts libpq's `verify-ca` / `verify-full` (the certificate is always verified, with `DATABASE_CA_CERT`
//! trusted besides the web roots), so nobody lowers `sslmode` to reach Supabase's pooler.

use screener::config::Config;
use std::collections::HashMap;

const PASSWORD: &str = "s3cret-pw";

fn config(url: &str, ca: Option<&str>) -> Result<Config, screener::config::ConfigError> {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("DATABASE_URL".into(), url.into());
    if let Some(ca) = ca {
        env.insert("DATABASE_CA_CERT".into(), ca.into());
    }
    Config::from_map(&env)
}

#[test]
fn remote_database_url_without_tls_is_refused_so_the_password_never_crosses_in_clear() {
    let remote = format!(
        "postgres://fleet_scr_x:{PASSWORD}@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"
    );
    for query in [
        "",
        "?sslmode=disable",
        "?sslmode=allow",
        "?sslmode=prefer",
        "?application_name=screener&sslmode=prefer",
        "?sslmode=require&sslmode=disable",
    ] {
        let e = config(&format!("{remote}{query}"), None).expect_err(query);
        let text = format!("{e} {e:?}");
        assert_eq!(e.var, "DATABASE_URL", "{query}");
        assert!(text.contains("sslmode"), "{query}: {text}");
        assert!(!text.contains(PASSWORD), "secret leaked: {text}");
        assert!(!text.contains("pooler.supabase.com"), "URL echoed: {text}");
    }
    // A loopback host name does not make a remote hostaddr local.
    let e = config(
        &format!("postgres://u:{PASSWORD}@localhost:5432/db?hostaddr=10.0.0.5&sslmode=disable"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.var, "DATABASE_URL");
}

#[test]
fn tls_modes_are_accepted_and_verify_full_is_kept_as_verified_tls() {
    let remote = "postgres://fleet_scr_x:pw@db.abcdefghijklmnop.supabase.co:5432/postgres";
    for (query, driver_query) in [
        ("?sslmode=require", "?sslmode=require"),
        ("?sslmode=verify-ca", "?sslmode=require"),
        (
            "?sslmode=verify-full&application_name=screener",
            "?application_name=screener&sslmode=require",
        ),
    ] {
        let c = config(&format!("{remote}{query}"), Some(PEM)).expect(query);
        assert_eq!(c.database_url.expose(), &format!("{remote}{driver_query}"));
        assert_eq!(
            c.database_ca_pem.as_ref().map(|p| p.expose().as_str()),
            Some(PEM.trim())
        );
    }
}

#[test]
fn loopback_and_sqlite_databases_may_skip_tls() {
    for url in [
        "postgres://u:pw@127.0.0.1:5432/db?sslmode=disable",
        "postgres://u:pw@localhost/db",
        "postgres://u:pw@[::1]:5432/db?sslmode=prefer",
        "sqlite:///tmp/screener.db",
    ] {
        let c = config(url, None).expect(url);
        assert_eq!(c.database_url.expose(), url);
    }
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
