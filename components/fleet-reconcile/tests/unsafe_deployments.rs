//! Issue 19 item 5: deployments that must be refused, and the CA certificate that lets screeners keep
//! `sslmode` at `require` or above behind Supabase's pooler.

use fleet_reconcile::deployment::is_real_fly_api;
use fleet_reconcile::{
    ca_cert_secrets, refuse_shared_database_on_real_fly, DatabaseAccess, CA_CERT_SECRET,
};
use fly_api::Secret;

fn shared() -> DatabaseAccess {
    DatabaseAccess::Shared {
        database_url: Secret::new("sqlite:///var/fleet/local.db".into()),
    }
}

#[test]
fn shared_sqlite_screener_database_is_refused_against_the_real_fly_api() {
    for origin in [
        "https://api.machines.dev",
        "https://api.machines.dev/",
        "HTTPS://API.MACHINES.DEV:443",
        "http://_api.internal:4280",
        "https://api.fly.io",
    ] {
        let err = refuse_shared_database_on_real_fly(&shared(), origin).expect_err(origin);
        assert_eq!(err.variable, "database_url");
        assert!(err.problem.contains("real Fly API"), "{}", err.problem);
        assert!(
            !err.problem.contains("sqlite:///var"),
            "the URL is never echoed"
        );
    }
    // The local run and the tests point at the simulator; Postgres access is fine anywhere.
    for origin in [
        "http://127.0.0.1:4280",
        "http://localhost:9000",
        "http://machines.dev.example",
    ] {
        assert!(
            refuse_shared_database_on_real_fly(&shared(), origin).is_ok(),
            "{origin}"
        );
    }
    let per_user = DatabaseAccess::PerUserRole {
        host: "db.example.supabase.co".into(),
        port: 5432,
        database: "postgres".into(),
        url_params: "sslmode=require".into(),
    };
    assert!(refuse_shared_database_on_real_fly(&per_user, "https://api.machines.dev").is_ok());
    assert!(is_real_fly_api("https://x.machines.dev"));
    assert!(!is_real_fly_api("https://evilmachines.dev"));
}

#[test]
fn ca_certificate_variable_is_delivered_to_apps_and_garbage_is_refused_without_echo() {
    assert!(ca_cert_secrets(None).unwrap().is_empty());
    assert!(ca_cert_secrets(Some("  ")).unwrap().is_empty());
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----";
    let secrets = ca_cert_secrets(Some(pem)).unwrap();
    assert_eq!(
        secrets.get(CA_CERT_SECRET).map(|s| s.expose().trim()),
        Some(pem)
    );
    let err = ca_cert_secrets(Some("sslmode=disable-me-please")).unwrap_err();
    assert_eq!(err.variable, "screener_db_ca_cert");
    assert!(!err.problem.contains("disable-me"));
}
