//! Issue 19 item 5 through the real components: the shared (SQLite) screener database is refused against the
//! real Fly API, and the screener database's CA certificate reaches every app, so nobody lowers `sslmode`
//! to reach Supabase's pooler. (The tier-override default is in the hostile-input suite.)

mod process_rig;

use std::time::{Duration, Instant};

use fleet_store::UserId;
use process_rig::ProcessRig;

const PEM: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUe2Vl\n-----END CERTIFICATE-----";

#[test]
fn shared_sqlite_screener_database_is_refused_against_the_real_fly_api() {
    let rig = ProcessRig::start_with(&[("fly_api_origin", "https://api.machines.dev")]);
    for path in [
        "/admin/api/summary",
        "/health/apps/d4d4d4d4-d4d4-4d4d-8d4d-d4d4d4d4d4d4",
    ] {
        let (status, answer) = rig.admin("GET", path, "");
        assert_eq!(
            (status, answer["error"].as_str()),
            (500, Some("configuration")),
            "{path}: {answer}"
        );
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("database_url") && detail.contains("real Fly API"),
            "{path}: {detail}"
        );
    }
}

#[test]
fn screener_database_ca_certificate_reaches_every_app_as_database_ca_cert() {
    let rig = ProcessRig::start_with(&[
        ("allow_tier_override", "true"),
        ("screener_db_ca_cert", PEM),
    ]);
    let user = UserId::parse("e5e5e5e5-e5e5-4e5e-8e5e-e5e5e5e5e5e5").unwrap();
    rig.subscribe(user, "free", "active");
    let deadline = Instant::now() + Duration::from_secs(120);
    let machine = loop {
        let (status, answer) = rig.admin(
            "POST",
            &format!("/admin/api/users/{user}/tier"),
            r#"{"tier":"pro"}"#,
        );
        assert!(status == 200 || status == 202, "{status} {answer}");
        if let Some(machine) = rig.machines().into_iter().next() {
            break machine;
        }
        assert!(Instant::now() < deadline, "no machine: {answer}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let delivered = machine["effective_env"]["DATABASE_CA_CERT"].as_str();
    assert_eq!(delivered.map(str::trim), Some(PEM), "{machine:#}");
}
