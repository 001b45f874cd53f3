//! With pg_cron installed (Debian package postgresql-15-cron, preloaded), the migrations schedule the health
//! sweep, and re-scheduling is idempotent. Skipped with a message where the package is not installed.

use fleet_store::native::NativePostgres;
use fleet_store::{SqlConnection, Store};
use fleet_test_support::postgres::{PgCluster, PgOptions};

fn pg_cron_installed() -> bool {
    let libdir = std::process::Command::new("pg_config")
        .arg("--pkglibdir")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    ["/usr/lib/postgresql/15/lib", libdir.as_str()]
        .iter()
        .any(|dir| !dir.is_empty() && std::path::Path::new(dir).join("pg_cron.so").exists())
}

#[test]
fn migrations_schedule_the_health_sweep_with_pg_cron() {
    if !pg_cron_installed() {
        eprintln!("SKIPPED: pg_cron is not installed (apt-get install -y postgresql-15-cron)");
        return;
    }
    let options = PgOptions {
        settings: vec![
            ("shared_preload_libraries".into(), "pg_cron".into()),
            ("cron.database_name".into(), "postgres".into()),
        ],
    };
    let cluster = PgCluster::start_dedicated(options).expect("cluster with pg_cron starts");
    let url = cluster.admin_url(); // pg_cron lives in cron.database_name = postgres
    let mut conn = NativePostgres::connect(&url).unwrap();
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron", &[])
        .unwrap();
    let mut store = Store::new(conn);
    store.migrate().unwrap();

    let jobs = |store: &mut Store<NativePostgres>| {
        store
            .connection()
            .query("SELECT jobid, schedule, command FROM cron.job WHERE jobname = 'fleet-health-sweep'", &[])
            .unwrap()
    };
    let created = jobs(&mut store);
    assert_eq!(created.len(), 1, "the migration scheduled the sweep");
    assert_eq!(created[0].text("schedule").unwrap(), "*/5 * * * *");
    assert_eq!(
        created[0].text("command").unwrap(),
        "SELECT fleet.send_health_sweep_hint()"
    );

    // A changed schedule setting replaces the job in place; running it again changes nothing.
    let conn = store.connection();
    conn.execute(
        "INSERT INTO fleet.settings (key, value) VALUES ('health_sweep_schedule', '* * * * *')",
        &[],
    )
    .unwrap();
    for _ in 0..2 {
        conn.execute("SELECT fleet.ensure_health_sweep_schedule()", &[])
            .unwrap();
    }
    let updated = jobs(&mut store);
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0].int("jobid").unwrap(),
        created[0].int("jobid").unwrap()
    );
    assert_eq!(updated[0].text("schedule").unwrap(), "* * * * *");

    // The job's command runs cleanly without pg_net: it queues nothing and returns NULL.
    let ran = store
        .connection()
        .query("SELECT fleet.send_health_sweep_hint() AS request", &[])
        .unwrap();
    assert_eq!(ran[0].opt_int("request").unwrap(), None);
}
