//! The reconciler against the Fly simulator and a real database: the provision/deprovision flows, their
//! idempotency, and the seed design's bugs as regressions.

#[allow(dead_code)] // the rig also serves other suites
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use fleet_store::{AppStatus, EventType, SqlConnection};
use fleet_test_support::platform;
use fly_api::types::{CreateMachineRequest, Guest, MachineConfig};
use fly_api::AppName;
use fly_simulator::{FaultKind, FaultSettings, ScriptedFault, SimConfig};
use support::{user, Rig, IMAGE};

fn quiet_sim() -> SimConfig {
    SimConfig::default().without_rate_limits()
}

#[test]
fn fresh_provision_creates_one_app_with_one_started_machine_in_sin() {
    let mut rig = Rig::postgres(quiet_sim());
    let alice = user(1);
    rig.subscribe(alice, "pro", "active");
    let outcomes = rig.converge(alice);
    let last = outcomes.last().unwrap();
    assert_eq!(last.status.as_deref(), Some("active"), "{outcomes:#?}");
    let app = last.app_name.clone().unwrap();
    assert!(
        app.starts_with("vyx-user-") && app.len() == "vyx-user-".len() + 8,
        "{app}"
    );

    let machines = rig.live_machines(&app);
    assert_eq!(machines.len(), 1, "{machines:#?}");
    let machine = &machines[0];
    assert_eq!(machine["state"], "started");
    assert_eq!(machine["region"], "sin");
    assert_eq!(
        machine["region_defaulted"], false,
        "seed bug: region must be explicit"
    );
    assert_eq!(machine["config"]["image"], IMAGE);
    assert_eq!(machine["config"]["guest"]["cpus"], 2);
    assert_eq!(machine["config"]["guest"]["memory_mb"], 512);
    assert_eq!(machine["config"]["restart"]["policy"], "always");
    let env = &machine["effective_env"];
    assert_eq!(env["RUN_MODE"], "user_dedicated");
    assert_eq!(env["USER_ID"], alice.to_string());
    let database_url = env["DATABASE_URL"]
        .as_str()
        .expect("DATABASE_URL reaches the machine");
    assert!(
        database_url.starts_with("postgres://fleet_scr_"),
        "per-user role, not a shared key"
    );

    // The minted credential really logs in, as that user's role.
    let mut client = postgres::Client::connect(database_url, postgres::NoTls).unwrap();
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert!(who.starts_with("fleet_scr_"));

    let state = rig.store.read_user(alice, 50).unwrap();
    let row = state.app.unwrap();
    assert_eq!(row.status, AppStatus::Active);
    assert_eq!(row.machine_id.as_deref(), machine["id"].as_str());
    assert!(row.deployed_at.is_some() && row.next_attempt_at.is_none());
    let types: Vec<EventType> = state.events.iter().map(|e| e.event_type).collect();
    assert!(types.contains(&EventType::ProvisionCompleted), "{types:?}");
    assert!(types.contains(&EventType::CredentialCreated), "{types:?}");
    for event in &state.events {
        let text = format!("{:?}", event);
        assert!(
            !text.contains(
                database_url
                    .split('@')
                    .next()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
            ),
            "an event holds the minted password: {text}"
        );
    }
}

#[test]
fn repeated_passes_after_convergence_change_nothing() {
    let mut rig = Rig::sqlite(quiet_sim());
    let bob = user(2);
    rig.subscribe(bob, "elite", "trialing");
    let app = rig.converge(bob).last().unwrap().app_name.clone().unwrap();
    let events_before = rig.store.events(bob, 500).unwrap().len();
    for _ in 0..3 {
        let outcome = rig.pass(bob, "another-worker");
        assert!(
            outcome.converged && outcome.actions.is_empty(),
            "{outcome:#?}"
        );
    }
    assert_eq!(rig.live_machines(&app).len(), 1);
    assert_eq!(
        rig.store.events(bob, 500).unwrap().len(),
        events_before,
        "a steady state writes no events"
    );
}

#[test]
fn downgrade_deletes_the_app_and_revokes_the_role_and_upgrade_reuses_the_name() {
    let mut rig = Rig::postgres(quiet_sim());
    let carol = user(3);
    rig.subscribe(carol, "pro", "active");
    let app = rig
        .converge(carol)
        .last()
        .unwrap()
        .app_name
        .clone()
        .unwrap();
    let role = rig.store.app(carol).unwrap().unwrap().db_role_name.unwrap();

    rig.subscribe(carol, "free", "active");
    let outcomes = rig.converge(carol);
    assert_eq!(
        outcomes.last().unwrap().status.as_deref(),
        Some("deleted"),
        "{outcomes:#?}"
    );
    assert!(rig
        .apps()
        .iter()
        .all(|a| a["name"] != app.as_str() || a["deleting"] == true));
    let row = rig.store.app(carol).unwrap().unwrap();
    assert_eq!(
        (row.status, row.db_role_name.as_deref()),
        (AppStatus::Deleted, None)
    );
    assert_eq!(
        row.fly_app_name.as_deref(),
        Some(app.as_str()),
        "the name stays reserved"
    );
    let roles: i64 = {
        let conn = rig.store.connection();
        let rows = conn
            .query(
                "SELECT count(*)::bigint AS n FROM pg_roles WHERE rolname = $1",
                &[role.as_str().into()],
            )
            .unwrap();
        rows[0].int("n").unwrap()
    };
    assert_eq!(roles, 0, "the screener role is dropped");

    // Upgrade again right away, while Fly may still be deleting the old app.
    rig.subscribe(carol, "elite", "active");
    let outcomes = rig.converge(carol);
    let last = outcomes.last().unwrap();
    assert_eq!(
        last.app_name.as_deref(),
        Some(app.as_str()),
        "seed bug 1: reprovision reuses the name"
    );
    assert_eq!(last.status.as_deref(), Some("active"));
    assert_eq!(rig.live_machines(&app).len(), 1);
}

#[test]
fn ambiguous_failures_at_every_step_converge_without_duplicates() {
    let mut sim = quiet_sim();
    let scripted = |method: &str, path: &str, kind| ScriptedFault {
        method: method.into(),
        path_contains: path.into(),
        path_ends: true,
        kind,
        count: 1,
    };
    sim.faults = FaultSettings {
        scripted: vec![
            scripted("POST", "/apps", FaultKind::After502),
            scripted("POST", "/secrets", FaultKind::After408),
            scripted("POST", "/machines", FaultKind::After408),
        ],
        ..Default::default()
    };
    let mut rig = Rig::sqlite(sim);
    let dave = user(4);
    rig.subscribe(dave, "pro", "active");
    let app = rig.converge(dave).last().unwrap().app_name.clone().unwrap();
    assert_eq!(
        rig.live_machines(&app).len(),
        1,
        "exactly one machine after an ambiguous create"
    );
    assert_eq!(rig.apps().len(), 1, "no orphan app");
    let injected = rig
        .sim
        .sim()
        .request_log()
        .iter()
        .filter(|e| e.fault.is_some())
        .count();
    assert_eq!(injected, 3, "every scripted provision fault fired");

    rig.sim.sim().set_faults(FaultSettings {
        scripted: vec![
            ScriptedFault {
                method: "POST".into(),
                path_contains: "/stop".into(),
                path_ends: true,
                kind: FaultKind::After502,
                count: 1,
            },
            ScriptedFault {
                method: "DELETE".into(),
                path_contains: "/apps/".into(),
                path_ends: false,
                kind: FaultKind::After502,
                count: 2,
            },
        ],
        ..Default::default()
    });
    rig.subscribe(dave, "pro", "cancelled");
    let outcomes = rig.converge(dave);
    assert_eq!(
        outcomes.last().unwrap().status.as_deref(),
        Some("deleted"),
        "{outcomes:#?}"
    );
    assert!(rig.live_machines(&app).is_empty());
    let injected = rig
        .sim
        .sim()
        .request_log()
        .iter()
        .filter(|e| e.fault.is_some())
        .count();
    assert!(
        injected >= 5,
        "the stop and delete faults fired too ({injected})"
    );
}

#[test]
fn a_name_held_by_a_foreign_org_moves_to_the_next_candidate() {
    let eve = user(5);
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(eve.to_string().as_bytes()))
    };
    let mut sim = quiet_sim();
    sim.foreign_apps = vec![format!("vyx-user-{}", &hex[..8])];
    let mut rig = Rig::sqlite(sim);
    rig.subscribe(eve, "pro", "active");
    let outcomes = rig.converge(eve);
    assert_eq!(
        outcomes.last().unwrap().app_name.as_deref(),
        Some(format!("vyx-user-{}", &hex[..12]).as_str())
    );
    assert_eq!(
        rig.store.app(eve).unwrap().unwrap().status,
        AppStatus::Active
    );
}

#[test]
fn a_user_who_is_not_entitled_and_has_no_row_needs_no_fly_call() {
    let mut rig = Rig::sqlite(quiet_sim());
    let frank = user(6);
    rig.subscribe(frank, "free", "active");
    let outcome = rig.pass(frank, "w");
    assert!(outcome.converged && outcome.actions.is_empty());
    assert!(rig.sim.sim().request_log().is_empty());
    assert!(rig.store.app(frank).unwrap().is_none());
}

#[test]
fn a_fly_outage_on_app_create_counts_attempts_and_backs_off() {
    let mut sim = quiet_sim();
    sim.faults = FaultSettings {
        fail_before_rate: 1.0,
        ..Default::default()
    };
    let mut rig = Rig::sqlite(sim);
    let frank = user(9);
    rig.subscribe(frank, "pro", "active");
    for pass in 1..=2 {
        let outcome = rig.pass(frank, "outage-worker");
        assert!(!outcome.converged, "{outcome:#?}");
        let row = rig.store.app(frank).unwrap().expect("row");
        assert_eq!(row.attempts, pass, "{row:#?}");
        let message = row
            .error_message
            .expect("the failure is visible to operators");
        assert!(!message.contains("sim-token"), "{message}");
    }
    assert!(rig.apps().is_empty(), "nothing was created");
}

/// What the platform's old provisioner (its `provision-user-fly-app` edge function, before Fleet) left for a Pro
/// user: a `user_fly_apps` row it inserted itself (active, its own `vyx-user-<8 hex>` name, no machine id) and,
/// in Fly, that app with one started machine configured through plain env, its service-role key included, and
/// none of Fleet's launch metadata. Fleet's first reconcile adopts the app by name (never creates a second
/// one), replaces the legacy machine with its own (secrets, pinned image) and records it on the same row.
#[test]
fn an_app_left_by_the_platforms_old_provisioner_is_adopted_and_its_machine_replaced() {
    const LEGACY_IMAGE: &str = "registry.fly.io/vyx-app:deployment-1";
    const SERVICE_KEY: &str = "legacy-service-role-key-0123456789";
    let grace = user(7);
    let id = grace.to_string();
    // The old provisioner's own hash (not Fleet's sha256 name), so adoption must go by the row's name.
    let legacy_app = "vyx-user-5e1f0c2a";
    let fleet_candidate = {
        use sha2::Digest;
        format!(
            "vyx-user-{}",
            &hex::encode(sha2::Sha256::digest(id.as_bytes()))[..8]
        )
    };
    assert_ne!(legacy_app, fleet_candidate);

    let sim_config = quiet_sim();
    let org = sim_config.org_slug.clone();
    let mut legacy_row = String::new();
    let mut legacy_machine = String::new();
    let mut rig = Rig::postgres_with_platform_state(sim_config, |db, fly| {
        // The platform's operator configured Vault (its tier trigger reads it); the user signs up and upgrades.
        db.batch_execute(&platform::vault_secrets_sql(
            "https://ref.supabase.co",
            SERVICE_KEY,
        ))
        .unwrap();
        db.batch_execute(&platform::sign_up_sql(&id, &support::email(grace)))
            .unwrap();
        db.batch_execute(&platform::set_subscription_sql(&id, "pro", "active", None))
            .unwrap();
        assert_eq!(
            platform::http_post_calls(db, "/functions/v1/provision-user-fly-app").unwrap(),
            1,
            "the old provisioner was called"
        );
        // What provision-user-fly-app then did: its row, the app, one machine with env config, the row active.
        legacy_row = db
            .query_one(
                "INSERT INTO public.user_fly_apps (user_id, fly_app_name, fly_org_slug, status, region, \
                 docker_image, cpu_count, memory_mb, monthly_cost_estimate_usd) \
                 VALUES ($1::text::uuid, $2, $3, 'provisioning', 'sin', $4, 2, 512, 6.00) RETURNING id::text",
                &[&id, &legacy_app, &org, &LEGACY_IMAGE],
            )
            .unwrap()
            .get(0);
        db.execute(
            "INSERT INTO public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata) \
             VALUES ($1::text::uuid, $2::text::uuid, 'provision_started', 'provisioning', \
             '{\"tier\": \"pro\", \"region\": \"sin\"}')",
            &[&legacy_row, &id],
        )
        .unwrap();
        let name = AppName::parse(legacy_app).unwrap();
        futures::executor::block_on(fly.create_app(&name, None)).unwrap();
        let env = BTreeMap::from([
            ("USER_ID".to_string(), id.clone()),
            (
                "SUPABASE_URL".to_string(),
                "https://ref.supabase.co".to_string(),
            ),
            ("SUPABASE_SERVICE_KEY".to_string(), SERVICE_KEY.to_string()),
            ("RUN_MODE".to_string(), "user_dedicated".to_string()),
        ]);
        let request = CreateMachineRequest {
            region: Some("sin".into()),
            config: MachineConfig {
                image: LEGACY_IMAGE.into(),
                env,
                guest: Some(Guest::shared(2, 512)),
                ..Default::default()
            },
            ..Default::default()
        };
        // A new app is invisible for a moment (eventual consistency): retry, as the edge function's client did.
        let mut tries = 0;
        let machine = loop {
            match futures::executor::block_on(fly.create_machine(&name, &request)) {
                Ok(machine) => break machine,
                Err(e) if e.status == Some(404) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("creating the legacy machine: {e:?}"),
            }
        };
        futures::executor::block_on(fly.wait_machine(
            &name,
            &machine.id,
            "started",
            Duration::from_secs(10),
            None,
        ))
        .unwrap();
        legacy_machine = machine.id.as_str().to_string();
        db.execute(
            "UPDATE public.user_fly_apps SET status = 'active', deployed_at = now(), health_status = 'unknown' \
             WHERE id = $1::text::uuid",
            &[&legacy_row],
        )
        .unwrap();
        db.execute(
            "INSERT INTO public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata) \
             VALUES ($1::text::uuid, $2::text::uuid, 'provision_completed', 'active', \
             jsonb_build_object('machine_id', $3::text))",
            &[&legacy_row, &id, &legacy_machine],
        )
        .unwrap();
    });
    let setup_requests = rig.sim.sim().request_log();
    let after_setup = setup_requests.iter().map(|e| e.seq).max().unwrap_or(0);
    assert_eq!(
        setup_requests
            .iter()
            .filter(|e| e.method == "POST" && e.path.ends_with("/apps"))
            .count(),
        1,
        "the old provisioner created the app"
    );

    let outcomes = rig.converge(grace);
    let last = outcomes.last().unwrap();
    assert_eq!(last.status.as_deref(), Some("active"), "{outcomes:#?}");
    assert_eq!(
        last.app_name.as_deref(),
        Some(legacy_app),
        "adopted by name"
    );

    // No second app: Fleet never asked Fly to create one.
    let creates: Vec<String> = rig
        .sim
        .sim()
        .request_log()
        .into_iter()
        .filter(|e| e.seq > after_setup && e.method == "POST" && e.path.ends_with("/apps"))
        .map(|e| format!("{} {}", e.path, e.body))
        .collect();
    assert!(creates.is_empty(), "Fleet created an app: {creates:#?}");
    let apps = rig.apps();
    assert_eq!(apps.len(), 1, "{apps:#?}");
    assert_eq!(apps[0]["name"], legacy_app);
    assert!(
        apps[0]["secrets_version"].as_u64().unwrap_or(0) >= 1,
        "secrets set: {apps:#?}"
    );

    // The legacy machine is destroyed; exactly one live machine, Fleet's.
    let machines = apps[0]["machines"].as_array().cloned().unwrap_or_default();
    let legacy = machines
        .iter()
        .find(|m| m["id"] == legacy_machine.as_str())
        .expect("the legacy machine is still listed");
    assert_eq!(legacy["state"], "destroyed", "{legacy:#}");
    let live: Vec<&serde_json::Value> = machines
        .iter()
        .filter(|m| m["state"] != "destroyed" && m["state"] != "destroying")
        .collect();
    assert_eq!(live.len(), 1, "{machines:#?}");
    let fleet_machine = live[0];
    assert_ne!(fleet_machine["id"], legacy_machine.as_str());
    assert_eq!(fleet_machine["state"], "started");
    assert_eq!(fleet_machine["config"]["image"], IMAGE);
    assert!(
        fleet_machine["config"]["metadata"]["fleet_launch"].is_string(),
        "Fleet launched it: {fleet_machine:#}"
    );
    let env = &fleet_machine["effective_env"];
    assert!(
        env.get("SUPABASE_SERVICE_KEY").is_none(),
        "the service-role key survived: {env:#}"
    );
    assert!(
        !fleet_machine.to_string().contains(SERVICE_KEY),
        "the service-role key reached Fleet's machine"
    );
    assert_eq!(env["RUN_MODE"], "user_dedicated");
    assert_eq!(env["USER_ID"], id.as_str());
    assert!(
        env["DATABASE_URL"]
            .as_str()
            .is_some_and(|u| u.starts_with("postgres://fleet_scr_")),
        "the per-user credential comes from the app's secrets: {env:#}"
    );
    assert!(fleet_machine["secrets_version"].as_u64().unwrap_or(0) >= 1);

    // The platform's row, adopted in place: active with the new machine.
    let row = rig.store.app(grace).unwrap().unwrap();
    assert_eq!(row.id.as_deref(), Some(legacy_row.as_str()), "the same row");
    assert_eq!(row.status, AppStatus::Active);
    assert_eq!(row.fly_app_name.as_deref(), Some(legacy_app));
    assert_eq!(row.machine_id.as_deref(), fleet_machine["id"].as_str());
    assert!(
        row.secrets_version.is_some() && row.db_role_name.is_some(),
        "{row:#?}"
    );

    // Converged: another pass changes nothing.
    let again = rig.pass(grace, "another-worker");
    assert!(again.converged && again.actions.is_empty(), "{again:#?}");
}
