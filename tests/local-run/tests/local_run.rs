//! The local run end to end: upgrade → a screener process runs for that user → its signals land in SQLite →
//! downgrade → the process is gone and the signals remain.

mod support;

use fleet_local_run::seed::user_trader_count;
use fleet_local_run::DEMO_USERS;
use serde_json::Value;
use std::time::Duration;
use support::{cmdline, environ_var, pid_alive, wait_for, Rig};

#[test]
fn upgrade_runs_a_dedicated_screener_whose_signals_outlive_the_downgrade() {
    let rig = Rig::start("e2e");
    let ben = &DEMO_USERS[1];
    let chen = &DEMO_USERS[2];

    // The seeded demo is there and nobody is entitled yet.
    assert!(rig.app_row(ben).is_none());
    assert_eq!(rig.signal_count(ben), 0);

    rig.set_tier(ben, "pro");
    let app = wait_for(
        "Ben's app is active",
        Duration::from_secs(60),
        || match rig.app_row(ben)? {
            (status, Some(app)) if status == "active" => Some(app),
            _ => None,
        },
    );

    // A real screener process runs for Ben, in dedicated mode.
    let (machine, pid) = wait_for("a screener process runs", Duration::from_secs(30), || {
        rig.machine_processes(&app).into_iter().next()
    });
    assert!(pid_alive(pid));
    assert!(
        cmdline(pid).contains("screener"),
        "pid {pid} runs {}",
        cmdline(pid)
    );
    assert_eq!(environ_var(pid, "USER_ID").as_deref(), Some(ben.id));
    assert_eq!(
        environ_var(pid, "RUN_MODE").as_deref(),
        Some("user_dedicated")
    );

    // Its /health, at the simulator's URL for the app and through the gateway, names Ben and his traders.
    let direct = rig
        .run
        .sim()
        .unwrap()
        .app_url(&app)
        .expect("the app has a started machine");
    let token = rig.run.probe_token(&app);
    assert_eq!(
        environ_var(pid, "FLEET_PROBE_TOKEN").as_deref(),
        Some(token.expose().as_str()),
        "the app's probe token is delivered as a secret"
    );
    let health = wait_for(
        "the screener reports its traders",
        Duration::from_secs(30),
        || {
            let body: Value = rig
                .http
                .get(format!("{direct}/health"))
                .bearer_auth(token.expose())
                .send()
                .ok()?
                .json()
                .ok()?;
            (body["trader_count"].as_u64()? > 0).then_some(body)
        },
    );
    assert_eq!(health["run_mode"], "user_dedicated", "{health}");
    assert_eq!(health["user_id"], ben.id, "{health}");
    assert_eq!(
        health["trader_count"],
        user_trader_count(ben) as u64,
        "{health}"
    );
    let via_gateway: Value = rig
        .http
        .get(format!("{}/health", rig.run.app_url(&app).unwrap()))
        .bearer_auth(token.expose())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(via_gateway["user_id"], ben.id);
    // Anyone else learns only that it is alive, and the app has no public address at all.
    let anonymous: Value = rig
        .http
        .get(format!("{direct}/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        anonymous.as_object().map(|o| o.len()),
        Some(1),
        "{anonymous}"
    );
    let public = rig
        .run
        .app_url(&app)
        .unwrap()
        .replace("/internal/", "/apps/");
    let refused = rig.http.get(format!("{public}/health")).send().unwrap();
    assert_eq!(refused.status().as_u16(), 404, "no public service");

    // The replay sample's RSI dip fires Ben's trader: signals land in the shared SQLite file, his only.
    let signals = wait_for(
        "a signal row for Ben's trader",
        Duration::from_secs(30),
        || {
            let n = rig.signal_count(ben);
            (n > 0).then_some(n)
        },
    );
    assert_eq!(rig.signal_count(chen), 0, "Chen has no app, so no signals");
    let (mine, others): (i64, i64) = rig
        .db()
        .query_row(
            "SELECT count(*) FILTER (WHERE user_id = ?2), count(*) FILTER (WHERE user_id IS NOT ?2) \
             FROM signals WHERE json_extract(indicator_data, '$.machine_id') = ?1",
            [machine.as_str(), ben.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(mine > 0, "Ben's signals carry his machine id");
    assert_eq!(others, 0, "Ben's screener wrote signals for someone else");

    // Downgrade: the app is torn down, the process is gone, the signals stay.
    rig.set_tier(ben, "free");
    wait_for("Ben's app is deleted", Duration::from_secs(60), || {
        (rig.app_row(ben)?.0 == "deleted").then_some(())
    });
    wait_for(
        "the screener process is gone",
        Duration::from_secs(30),
        || (!pid_alive(pid)).then_some(()),
    );
    assert!(rig.machine_processes(&app).is_empty());
    assert!(
        rig.signal_count(ben) >= signals,
        "signals were lost on downgrade"
    );

    rig.run.shutdown();
}
