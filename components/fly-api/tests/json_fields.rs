//! Every request (and the main response) type round-trips through JSON, and every field name it
//! writes exists in the 2024 Swagger spec or, for newer fields, in the reference notes.

use fly_api::types::*;
use fly_api::{MachineId, Secret};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::fmt::Debug;
use std::path::PathBuf;

struct Reference {
    swagger: Value,
    notes: String,
}

fn reference() -> Option<Reference> {
    let dir = std::env::var_os("FLY_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
        });
    let swagger = std::fs::read_to_string(dir.join("fly-machines-swagger-2024.json")).ok()?;
    let notes = std::fs::read_to_string(dir.join("fly-machines-api.md")).ok()?;
    Some(Reference {
        swagger: serde_json::from_str(&swagger).expect("swagger parses"),
        notes,
    })
}

impl Reference {
    /// Checks `value`'s keys against a swagger definition, allowing `newer` keys that the notes cite.
    fn check(&self, what: &str, value: &Value, definition: &str, newer: &[&str]) {
        let props = self.swagger["definitions"][definition]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("swagger has no definition {definition}"));
        for key in value.as_object().expect("an object").keys() {
            if props.contains_key(key) {
                continue;
            }
            assert!(
                newer.contains(&key.as_str()),
                "{what}: field {key:?} is not in swagger {definition}"
            );
            assert!(
                self.notes.contains(&format!("`{key}"))
                    || self.notes.contains(&format!("\"{key}\"")),
                "{what}: field {key:?} is not in fly-machines-api.md either"
            );
        }
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) -> Value {
    let json = serde_json::to_value(v).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&back, v);
    json
}

fn full_config() -> MachineConfig {
    let mut c = MachineConfig {
        image: "registry.fly.io/screener@sha256:abc".into(),
        guest: Some(Guest::shared(1, 512)),
        restart: Some(Restart {
            policy: "on-failure".into(),
            max_retries: Some(3),
        }),
        services: vec![Service {
            protocol: "tcp".into(),
            internal_port: 8080,
            ports: vec![Port {
                port: 443,
                handlers: vec!["tls".into(), "http".into()],
                force_https: Some(true),
            }],
            autostart: Some(true),
            autostop: Some(Value::String("off".into())),
            min_machines_running: Some(1),
            concurrency: Some(Concurrency {
                kind: "requests".into(),
                soft_limit: Some(20),
                hard_limit: Some(25),
            }),
        }],
        auto_destroy: true,
        stop_config: Some(StopConfig {
            signal: Some("SIGTERM".into()),
            timeout: Some("10s".into()),
        }),
        ..Default::default()
    };
    c.env.insert("RUN_MODE".into(), "user_dedicated".into());
    c.metadata.insert("fleet_launch".into(), "l-1".into());
    c.checks.insert(
        "health".into(),
        Check {
            kind: "http".into(),
            port: Some(8080),
            interval: Some("15s".into()),
            timeout: Some("2s".into()),
            grace_period: Some("5s".into()),
            method: Some("GET".into()),
            path: Some("/health".into()),
        },
    );
    c
}

#[test]
fn request_types_use_fly_field_names() {
    let Some(r) = reference() else {
        eprintln!("!!!!! SKIPPED: ../shared/reference (fly-machines-swagger-2024.json) not found; set FLY_REFERENCE_DIR !!!!!");
        return;
    };
    let app = CreateAppRequest {
        name: "vyx-user-1".into(),
        app_name: "vyx-user-1".into(),
        org_slug: "fleet".into(),
        network: Some("vyx-user-1".into()),
    };
    r.check(
        "CreateAppRequest",
        &round_trip(&app),
        "CreateAppRequest",
        &["name"],
    );

    let config = full_config();
    let cj = round_trip(&config);
    r.check("MachineConfig", &cj, "fly.MachineConfig", &[]);
    r.check("Guest", &cj["guest"], "fly.MachineGuest", &[]);
    r.check("Restart", &cj["restart"], "fly.MachineRestart", &[]);
    r.check("Service", &cj["services"][0], "fly.MachineService", &[]);
    r.check(
        "Port",
        &cj["services"][0]["ports"][0],
        "fly.MachinePort",
        &[],
    );
    r.check(
        "Concurrency",
        &cj["services"][0]["concurrency"],
        "fly.MachineServiceConcurrency",
        &[],
    );
    r.check("Check", &cj["checks"]["health"], "fly.MachineCheck", &[]);
    r.check("StopConfig", &cj["stop_config"], "fly.StopConfig", &[]);

    let create = CreateMachineRequest {
        name: Some("m".into()),
        region: Some("fra".into()),
        config: config.clone(),
        min_secrets_version: Some(3),
        skip_launch: true,
        lease_ttl: Some(30),
    };
    r.check(
        "CreateMachineRequest",
        &round_trip(&create),
        "CreateMachineRequest",
        &["min_secrets_version"],
    );

    let update = UpdateMachineRequest {
        config,
        min_secrets_version: Some(3),
        current_version: Some("01HQ".into()),
        skip_launch: true,
    };
    r.check(
        "UpdateMachineRequest",
        &round_trip(&update),
        "UpdateMachineRequest",
        &["min_secrets_version"],
    );

    let stop = StopRequest {
        signal: Some("SIGTERM".into()),
        timeout: Some("10s".into()),
    };
    r.check("StopRequest", &round_trip(&stop), "StopRequest", &[]);

    let lease = CreateLeaseRequest {
        ttl: 60,
        description: Some("reconcile".into()),
    };
    r.check(
        "CreateLeaseRequest",
        &round_trip(&lease),
        "CreateLeaseRequest",
        &[],
    );

    // Secrets are absent from the 2024 spec; the notes give `{"values": {"K": "v", "GONE": null}}`.
    let secrets = SetSecretsRequest::new()
        .set("K", Secret::from("v"))
        .unset("GONE");
    let sj = serde_json::to_value(&secrets).unwrap();
    assert_eq!(sj, serde_json::json!({"values": {"K": "v", "GONE": null}}));
    assert!(r.notes.contains(r#"{"values": {"K":"v", "GONE": null}}"#));
    assert!(
        !format!("{secrets:?}").contains("\"v\""),
        "Debug must not show values"
    );
}

#[test]
fn response_types_use_fly_field_names() {
    let Some(r) = reference() else {
        eprintln!("!!!!! SKIPPED: ../shared/reference not found; set FLY_REFERENCE_DIR !!!!!");
        return;
    };
    let machine = Machine {
        id: MachineId::parse("e784079b449483").unwrap(),
        name: "m".into(),
        state: "started".into(),
        region: "fra".into(),
        instance_id: "01HQ".into(),
        private_ip: Some("fdaa::2".into()),
        config: Some(full_config()),
        created_at: Some("2024-01-01T00:00:00Z".into()),
        updated_at: Some("2024-01-01T00:00:00Z".into()),
        checks: vec![CheckStatus {
            name: "health".into(),
            status: "passing".into(),
            output: Some("ok".into()),
            updated_at: Some("2024-01-01T00:00:00Z".into()),
        }],
        nonce: Some("n".into()),
    };
    let mj = round_trip(&machine);
    r.check("Machine", &mj, "Machine", &[]);
    r.check("CheckStatus", &mj["checks"][0], "CheckStatus", &[]);

    let app = App {
        id: "a".into(),
        name: "vyx-user-1".into(),
        status: Some("deployed".into()),
        organization: Some(Organization {
            name: "Fleet".into(),
            slug: "fleet".into(),
        }),
        network: Some("default".into()),
        machine_count: Some(1),
    };
    let aj = round_trip(&app);
    r.check("App", &aj, "App", &["network", "machine_count"]);
    r.check("Organization", &aj["organization"], "Organization", &[]);

    let list = ListAppsResponse {
        total_apps: 1,
        apps: vec![ListApp {
            id: "a".into(),
            name: "n".into(),
            machine_count: Some(0),
            network: None,
        }],
    };
    let lj = round_trip(&list);
    r.check("ListAppsResponse", &lj, "ListAppsResponse", &[]);
    r.check("ListApp", &lj["apps"][0], "ListApp", &[]);

    let lease = Lease {
        nonce: "n".into(),
        expires_at: 1,
        owner: "o".into(),
        description: "d".into(),
        version: "v".into(),
    };
    r.check("Lease", &round_trip(&lease), "Lease", &[]);

    let err = ErrorResponse {
        error: "e".into(),
        status: Some("name_taken".into()),
        message: Some("m".into()),
    };
    r.check(
        "ErrorResponse",
        &round_trip(&err),
        "ErrorResponse",
        &["message"],
    );

    let wait: WaitResponse =
        serde_json::from_str(r#"{"ok":true,"state":"started","version":"x"}"#).unwrap();
    assert_eq!(
        wait,
        WaitResponse {
            ok: true,
            state: Some("started".into())
        }
    );
}
