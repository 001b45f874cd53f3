//! Issue 19 item 1: every user's app name derives from their id, so a public port would let anyone who knows
//! the id reach their screener. Machines open no public port unless an operator opts in, and the probe
//! token is per app, derived from a key that is never sent.

use std::collections::HashMap;

use fleet_reconcile::{exposure_from, probe_token, DatabaseAccess, Exposure, ReconcileConfig};
use fly_api::types::Guest;
use fly_api::{OrgSlug, Secret};

fn config(exposure: Exposure) -> ReconcileConfig {
    ReconcileConfig {
        org: OrgSlug::new("vyx"),
        image: "registry.fly.io/vyx-screener:v1".into(),
        region: "sin".into(),
        region_fallbacks: vec![],
        guest: Guest::shared(2, 512),
        database: DatabaseAccess::Shared {
            database_url: Secret::new("sqlite:///tmp/x.db".into()),
        },
        extra_secrets: Default::default(),
        max_attempts_before_error: 5,
        exposure,
    }
}

fn variables(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn machine_config_exposes_no_public_port_by_default() {
    let defaults = exposure_from(variables(&[])).unwrap();
    assert!(!defaults.public_service && defaults.probe_key.is_none());
    let request = config(defaults).machine_request("u", None, "sin", Some(1));
    let json = serde_json::to_value(&request).unwrap();
    assert!(
        json["config"]["services"]
            .as_array()
            .is_none_or(|s| s.is_empty()),
        "no public service: {}",
        json["config"]
    );
    // Fly's own check still reaches the machine on its private port.
    assert_eq!(json["config"]["checks"]["health"]["port"], 8080);
}

#[test]
fn an_operator_may_opt_in_to_public_ports() {
    let exposure = exposure_from(variables(&[("public_service", "true")])).unwrap();
    let json =
        serde_json::to_value(config(exposure).machine_request("u", None, "sin", None)).unwrap();
    let ports: Vec<u64> = json["config"]["services"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [80, 443]);
}

#[test]
fn probe_tokens_are_per_app_and_bad_settings_name_the_variable_only() {
    let key = "k".repeat(32);
    let exposure = exposure_from(variables(&[("probe_key", &key)])).unwrap();
    let a = exposure.probe_token("vyx-user-aaaaaaaa").unwrap();
    let b = exposure.probe_token("vyx-user-bbbbbbbb").unwrap();
    assert_ne!(a.expose(), b.expose(), "one app's token opens no other app");
    assert_eq!(a.expose().len(), 64);
    assert!(!a.expose().contains(&key));
    assert_eq!(
        a.expose(),
        probe_token(&Secret::new(key.clone()), "vyx-user-aaaaaaaa").expose()
    );
    let short = exposure_from(variables(&[("probe_key", "short-secret-value")])).unwrap_err();
    assert_eq!(short.0, "probe_key");
    assert!(!short.1.contains("short-secret-value"));
    let bad = exposure_from(variables(&[("public_service", "yes please")])).unwrap_err();
    assert_eq!(bad.0, "public_service");
}
