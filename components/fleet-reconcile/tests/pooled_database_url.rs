//! Provisioning with the screener's database reached through Supabase's pooler (`screener_db_mode` session or
//! transaction): the app's `DATABASE_URL` logs in as `<role>.<project_ref>` at the pooler's host and port, with
//! the freshly minted role's password, and no event holds that password.

#[allow(dead_code)] // the rig also serves other suites
mod support;

use fleet_reconcile::{per_user_role_access, DatabaseAccess, PoolMode};
use support::{user, Rig};

const PROJECT_REF: &str = "abcdefghijklmnopqrst";

#[test]
fn transaction_mode_provisions_a_pooler_url_for_role_dot_project_ref() {
    let mut rig = Rig::postgres(fly_simulator::SimConfig::default().without_rate_limits());
    let DatabaseAccess::PerUserRole {
        host,
        port,
        database,
        ..
    } = rig.config.database.clone()
    else {
        panic!("the postgres rig mints roles");
    };
    let vars = [
        ("screener_db_mode", "transaction".to_string()),
        (
            "screener_db_pooler_host",
            "aws-0-ap-southeast-1.pooler.supabase.com".to_string(),
        ),
        ("supabase_project_ref", PROJECT_REF.to_string()),
        ("screener_db_name", database.clone()),
    ];
    let access = per_user_role_access(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    assert!(matches!(
        access,
        DatabaseAccess::Pooled {
            mode: PoolMode::Transaction,
            ..
        }
    ));
    rig.config.database = access;

    let alice = user(41);
    rig.subscribe(alice, "pro", "active");
    let outcomes = rig.converge(alice);
    let last = outcomes.last().unwrap();
    assert_eq!(last.status.as_deref(), Some("active"), "{outcomes:#?}");
    let app = last.app_name.clone().unwrap();
    let machines = rig.live_machines(&app);
    let url = machines[0]["effective_env"]["DATABASE_URL"]
        .as_str()
        .expect("DATABASE_URL reaches the machine")
        .to_string();

    let role = fleet_store::screener_role_name(alice);
    let prefix = format!("postgres://{role}.{PROJECT_REF}:");
    assert!(url.starts_with(&prefix), "{url}");
    let (password, rest) = url[prefix.len()..].split_once('@').unwrap();
    assert_eq!(
        rest,
        format!("aws-0-ap-southeast-1.pooler.supabase.com:6543/{database}?sslmode=require")
    );
    // The password is the role's: it logs in directly (the pooler would pass `<role>` on to this server).
    let direct = format!("postgres://{role}:{password}@{host}:{port}/{database}");
    let mut client = postgres::Client::connect(&direct, postgres::NoTls).unwrap();
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, role);
    for event in rig.store.read_user(alice, 50).unwrap().events {
        let text = format!("{event:?}");
        assert!(
            !text.contains(password),
            "an event holds the minted password: {text}"
        );
    }
}
