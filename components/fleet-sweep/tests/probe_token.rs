//! Issue 19 item 1: the sweep probes each screener with the app's own probe token (HMAC of `probe_key` and
//! the app name, delivered as the app secret FLEET_PROBE_TOKEN), the machine opens no public port, and a
//! refused token is a recorded reason, never a failed sweep.

mod support;

use fleet_reconcile::{probe_token, PROBE_TOKEN_SECRET};
use fleet_store::HealthStatus;
use fly_api::Secret;
use support::{quiet_sim, Rig};

const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const ROTATED: &str = "a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978879";

#[test]
fn the_sweep_probes_with_the_apps_token_and_records_a_refused_one() {
    let mut rig = Rig::sqlite(quiet_sim());
    rig.reconcile.exposure.probe_key = Some(Secret::new(KEY.to_string()));
    let user = rig.provision_users(90, 1)[0];
    let app = rig.row(user).fly_app_name.unwrap();
    let machine = rig.live_machines(&app).remove(0);
    let token = probe_token(&Secret::new(KEY.to_string()), &app);
    assert_eq!(
        machine["effective_env"][PROBE_TOKEN_SECRET],
        token.expose().as_str(),
        "the token is delivered as an app secret"
    );
    assert!(
        machine["config"]["services"]
            .as_array()
            .is_none_or(|s| s.is_empty()),
        "no public port: {}",
        machine["config"]
    );

    rig.sweep();
    let row = rig.row(user);
    assert_eq!(
        row.health_status,
        HealthStatus::Healthy,
        "{}",
        row.health_detail
    );

    // The key rotated but the app still has the old token: the screener refuses, the sweep says why.
    rig.reconcile.exposure.probe_key = Some(Secret::new(ROTATED.to_string()));
    let summary = rig.sweep();
    assert_eq!(summary.skipped_rows, 0, "{summary:#?}");
    let row = rig.row(user);
    let detail = row.health_detail.to_string();
    assert_eq!(row.health_status, HealthStatus::Unhealthy, "{detail}");
    assert!(detail.contains("refused the probe token"), "{detail}");
    assert!(!detail.contains(token.expose().as_str()) && !detail.contains(ROTATED));

    // A sweep without any key sees liveness only: healthy, with the identity not verified.
    rig.reconcile.exposure.probe_key = None;
    rig.sweep();
    let row = rig.row(user);
    let detail = row.health_detail.to_string();
    assert_eq!(row.health_status, HealthStatus::Healthy, "{detail}");
    assert!(detail.contains("identity not verified"), "{detail}");
}

#[test]
fn by_default_the_sweep_does_not_probe_and_judges_by_flys_checks() {
    let mut rig = Rig::sqlite(quiet_sim());
    let user = rig.provision_users(91, 1)[0];
    rig.config.app_url_template = fleet_sweep::SweepConfig::default().app_url_template;
    let probes = rig.screener.probes();
    let summary = rig.sweep();
    assert_eq!(
        rig.screener.probes(),
        probes,
        "no direct probe: {summary:#?}"
    );
    let row = rig.row(user);
    assert_eq!(
        row.health_status,
        HealthStatus::Healthy,
        "{}",
        row.health_detail
    );
}
