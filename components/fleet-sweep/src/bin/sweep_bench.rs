//! Sweep benchmark: N active apps (default 1,000) behind the Fly simulator with simulated latency
//! (default 50 ms per API call), a real PostgreSQL, and a fake screener `/health`. Measures the bounded-
//! concurrency sweep against a sequential one-app-at-a-time sweep over the same simulator, in one run.
//!
//!   cargo run --release -p fleet-sweep --features bench --bin sweep-bench -- [--apps 1000] [--latency-ms 50]
//!       [--concurrency 16] [--runs 5] [--sequential-budget-s 0]
//!
//! `--sequential-budget-s S` bounds the sequential baseline to S seconds (a budgeted sweep, as production
//! runs it): it checks a sample of the apps and the full sequential time is extrapolated from its rate (said so
//! in the output). 0 (the default) runs it over every app. Figures are also recorded for the proof report
//! (`FLEET_PROOF_FIGURES`, see `fleet_test_support::figures`).

use std::time::{Duration, Instant};

use fleet_reconcile::{CountingTransport, DatabaseAccess, ReconcileConfig, SystemClock};
use fleet_store::native::NativePostgres;
use fleet_store::{AppRow, AppStatus, SqlConnection, Store, UserId};
use fleet_sweep::fake_screener::FakeScreener;
use fleet_sweep::{PriceTable, SweepConfig, SweepSummary, Sweeper};
use fleet_test_support::platform;
use fly_api::transport_native::NativeTransport;
use fly_api::types::Guest;
use fly_api::{AppName, FlyClient, OrgSlug, Secret};
use fly_simulator::{FaultSettings, FlySimThread, SimConfig};
use futures::StreamExt;

const IMAGE: &str = "registry.fly.io/vyx-screener:bench";

struct Args {
    apps: u32,
    latency_ms: u64,
    concurrency: usize,
    runs: usize,
    sequential_budget_s: u64,
}

fn args() -> Args {
    let mut args = Args {
        apps: 1000,
        latency_ms: 50,
        concurrency: 16,
        runs: 5,
        sequential_budget_s: 0,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        let usage = "usage: sweep-bench [--apps N] [--latency-ms MS] [--concurrency N] [--runs N] \
                     [--sequential-budget-s S]";
        let number = || value.parse::<u64>().expect(usage);
        match pair[0].as_str() {
            "--apps" => args.apps = number() as u32,
            "--latency-ms" => args.latency_ms = number(),
            "--concurrency" => args.concurrency = number().max(1) as usize,
            "--runs" => args.runs = number().max(1) as usize,
            "--sequential-budget-s" => args.sequential_budget_s = number(),
            _ => panic!("{usage}"),
        }
    }
    args
}

fn user(n: u32) -> UserId {
    UserId::parse(&format!("bbbbbbbb-0000-4000-8000-{n:012}")).unwrap()
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut sim_config = SimConfig::default();
    sim_config.timings.app_visibility_delay = Duration::ZERO;
    sim_config.timings.start_delay = Duration::from_millis(10);
    let sim = FlySimThread::start(sim_config).expect("simulator");
    let cluster = fleet_test_support::postgres::cluster();
    let url = cluster.fresh_database();
    let mut store = Store::new(NativePostgres::connect(&url).unwrap());
    store.migrate().unwrap();
    let screener = FakeScreener::start(&runtime, sim.sim().root_url());
    let counter = CountingTransport::new(NativeTransport::new());
    let fly = FlyClient::new(
        &counter,
        sim.sim().base_url(),
        Secret::new(sim.sim().token().to_string()),
        OrgSlug::new(sim.sim().org_slug()),
    );

    let setup = Instant::now();
    let users: Vec<UserId> = (1..=args.apps).map(user).collect();
    let created: Vec<Launched> = futures::executor::block_on(
        futures::stream::iter(users.iter().map(|u| create_app(&fly, *u)))
            .buffer_unordered(32)
            .collect(),
    );
    for launched in &created {
        seed_row(&mut store, launched);
        screener.know(&launched.app, &launched.user.to_string());
    }
    eprintln!(
        "setup: {} apps with a started machine in {:.1}s",
        created.len(),
        setup.elapsed().as_secs_f64()
    );

    let probe_user = created[0].user;
    let store_started = Instant::now();
    for _ in 0..200 {
        store.entitlement(probe_user).unwrap();
    }
    let store_round_trip = store_started.elapsed() / 200;
    // The simulator's own cost per call at this fleet size, before any latency is added.
    let first_app = AppName::parse(created[0].app.clone()).unwrap();
    let sim_started = Instant::now();
    for _ in 0..20 {
        let _ = futures::executor::block_on(fly.get_app(&first_app));
    }
    let sim_round_trip = sim_started.elapsed() / 20;
    sim.sim().set_faults(FaultSettings {
        latency_ms: args.latency_ms,
        ..Default::default()
    });
    let reconcile = ReconcileConfig {
        org: OrgSlug::new(sim.sim().org_slug()),
        image: IMAGE.into(),
        region: "sin".into(),
        region_fallbacks: vec![],
        guest: Guest::shared(2, 512),
        database: DatabaseAccess::Shared {
            database_url: Secret::new(String::new()),
        },
        extra_secrets: Default::default(),
        max_attempts_before_error: 5,
        exposure: Default::default(),
    };
    let base = SweepConfig {
        check_interval: Duration::ZERO,
        budget: Duration::from_secs(600),
        app_url_template: screener.url_template(),
        ..SweepConfig::default()
    };
    let prices = PriceTable::embedded();
    let probe = NativeTransport::with_timeout(Duration::from_secs(5));
    let mut sweep = |concurrency: usize, budget: Option<Duration>| -> SweepSummary {
        let config = SweepConfig {
            concurrency,
            budget: budget.unwrap_or(base.budget),
            ..base.clone()
        };
        let calls = || counter.calls();
        let owner = format!("bench:{}", uuid::Uuid::new_v4());
        let mut sweeper = Sweeper {
            store: &mut store,
            fly: &fly,
            probe: &probe,
            reconcile: &reconcile,
            config: &config,
            prices: &prices,
            clock: &SystemClock,
            owner: &owner,
            fly_calls: &calls,
        };
        futures::executor::block_on(sweeper.run()).expect("sweep")
    };

    let warm = sweep(args.concurrency, None);
    assert_eq!(
        warm.healthy, args.apps,
        "every app healthy before measuring: {warm:?}"
    );
    let mut walls = Vec::new();
    let mut last = warm;
    for _ in 0..args.runs {
        last = sweep(args.concurrency, None);
        assert_eq!(last.checked, args.apps, "{last:?}");
        walls.push(last.duration_ms);
    }
    let sequential_budget =
        (args.sequential_budget_s > 0).then(|| Duration::from_secs(args.sequential_budget_s));
    let sequential = sweep(1, sequential_budget);
    let sampled = sequential.checked < args.apps;
    assert!(
        sequential.checked > 0 && (!sampled || sequential_budget.is_some()),
        "{sequential:?}"
    );
    // Per-app rate of the sequential loop, scaled to the whole fleet when it only ran on a sample.
    let sequential_ms =
        sequential.duration_ms as f64 * f64::from(args.apps) / f64::from(sequential.checked);
    walls.sort_unstable();
    let p50 = walls[walls.len() / 2];
    let p99 = walls[((walls.len() as f64 * 0.99).ceil() as usize)
        .saturating_sub(1)
        .min(walls.len() - 1)];
    println!(
        "sweep-bench: {} active apps, {} ms simulated Fly latency, concurrency {}, {} runs",
        args.apps, args.latency_ms, args.concurrency, args.runs
    );
    println!(
        "  concurrent sweep wall time: p50 {} ms, p99 {} ms (min {} ms)",
        p50, p99, walls[0]
    );
    println!(
        "  Fly calls per app: {:.2} ({} calls, {} apps, {} healthy)",
        f64::from(last.fly_calls) / f64::from(last.checked),
        last.fly_calls,
        last.checked,
        last.healthy
    );
    println!(
        "  sequential one-app-at-a-time sweep: {} ms for {} apps, {:.2} Fly calls per app{}",
        sequential.duration_ms,
        sequential.checked,
        f64::from(sequential.fly_calls) / f64::from(sequential.checked),
        if sampled {
            format!(
                " (a sample; EXTRAPOLATED to {} apps: {sequential_ms:.0} ms)",
                args.apps
            )
        } else {
            String::new()
        }
    );
    println!(
        "  speed-up (sequential / concurrent p50): {:.1}x",
        sequential_ms / p50 as f64
    );
    println!("  screener /health probes served: {}", screener.probes());
    println!(
        "  store round trip (one entitlement query): {:.2} ms",
        store_round_trip.as_secs_f64() * 1000.0
    );
    println!(
        "  simulator round trip with {} apps, no added latency: {:.2} ms",
        args.apps,
        sim_round_trip.as_secs_f64() * 1000.0
    );
    Figures {
        args: &args,
        p50,
        calls_per_app: f64::from(last.fly_calls) / f64::from(last.checked),
        sequential_ms,
        sequential: &sequential,
        sampled,
    }
    .record();
    fleet_test_support::figures::record(
        &format!("bench: sweep of {} apps", args.apps),
        "simulator round trip ms (no added latency)",
        format!("{:.2}", sim_round_trip.as_secs_f64() * 1000.0),
        "the simulator's own cost per call at this fleet size",
    );
}

/// The figures of one run, for the proof report's benchmark table.
struct Figures<'a> {
    args: &'a Args,
    p50: u64,
    calls_per_app: f64,
    sequential_ms: f64,
    sequential: &'a SweepSummary,
    sampled: bool,
}

impl Figures<'_> {
    fn record(&self) {
        let Figures { args, p50, .. } = *self;
        let suite = format!("bench: sweep of {} apps", args.apps);
        let record = |name: &str, value: String, note: &str| {
            fleet_test_support::figures::record(&suite, name, value, note)
        };
        let setting = format!(
            "{} ms simulated Fly latency, concurrency {}, real PostgreSQL, fake screener /health",
            args.latency_ms, args.concurrency
        );
        record("wall time p50 ms", p50.to_string(), &setting);
        record(
            "Fly calls per app",
            format!("{:.2}", self.calls_per_app),
            "list machines (state, checks, image) per app",
        );
        record(
            "per app ms",
            format!("{:.1}", p50 as f64 / f64::from(args.apps)),
            "",
        );
        let sequential_note = if self.sampled {
            format!(
                "EXTRAPOLATED from a {} s budgeted sequential sweep that checked {} apps in {} ms",
                args.sequential_budget_s, self.sequential.checked, self.sequential.duration_ms
            )
        } else {
            "measured over every app in the same run".to_string()
        };
        record(
            "baseline: sequential one-app-at-a-time ms",
            format!("{:.0}", self.sequential_ms),
            &sequential_note,
        );
        record(
            "ratio sequential / concurrent",
            format!("{:.1}x", self.sequential_ms / p50 as f64),
            "speed-up on the same simulator",
        );
        // Fly's documented limits are per action and per app or machine (1 req/s, burst 3; get machine
        // 5 req/s, burst 10) with no org-wide limit, so one list call per app never waits on them: the
        // whole fleet could be observed in one round trip. What binds is our own bound on calls in flight.
        let concurrency_bound = f64::from(args.apps) * self.calls_per_app * args.latency_ms as f64
            / args.concurrency as f64;
        record(
            "bound: Fly's documented rate limits ms",
            format!(
                "{:.0}",
                (self.calls_per_app.ceil() - 3.0).max(0.0) * 1000.0 + args.latency_ms as f64
            ),
            "limits are per app/machine (1 req/s, burst 3), none org-wide: every app can be observed at once",
        );
        record(
            "bound: calls x latency / concurrency ms",
            format!("{concurrency_bound:.0}"),
            "the floor at this concurrency, ignoring the database and the probe",
        );
        record(
            "ratio wall / concurrency bound",
            format!("{:.1}x", p50 as f64 / concurrency_bound),
            "",
        );
    }
}

async fn create_app(fly: &FlyClient<&CountingTransport<NativeTransport>>, u: UserId) -> Launched {
    let name = fly_api::NameCandidates::for_user(&fly_api::UserId::new(u.to_string()))
        .first()
        .clone();
    fly.create_app(&name, Some(name.as_str()))
        .await
        .expect("create app");
    let config = ReconcileConfig {
        org: fly.org().clone(),
        image: IMAGE.into(),
        region: "sin".into(),
        region_fallbacks: vec![],
        guest: Guest::shared(2, 512),
        database: DatabaseAccess::Shared {
            database_url: Secret::new(String::new()),
        },
        extra_secrets: Default::default(),
        max_attempts_before_error: 5,
        exposure: Default::default(),
    };
    // Tagged with a launch id as Fleet's own launches are: a machine without one is the platform's old
    // provisioner's, which reconcile replaces.
    let launch_id = uuid::Uuid::new_v4().to_string();
    let mut request = config.machine_request(&u.to_string(), None, "sin", None);
    request
        .config
        .metadata
        .insert(fly_api::LAUNCH_ID_KEY.to_string(), launch_id.clone());
    let machine = fly
        .create_machine(&name, &request)
        .await
        .expect("create machine");
    wait_started(fly, &name, &machine.id).await;
    Launched {
        user: u,
        app: name.to_string(),
        machine: machine.id.as_str().to_string(),
        launch_id,
    }
}

async fn wait_started(
    fly: &FlyClient<&CountingTransport<NativeTransport>>,
    app: &AppName,
    id: &fly_api::MachineId,
) {
    for _ in 0..20 {
        if fly
            .wait_machine(app, id, "started", Duration::from_secs(5), None)
            .await
            .is_ok()
        {
            return;
        }
    }
    panic!("machine {id:?} did not start");
}

/// One app with a started machine, made as Fleet would have made it.
struct Launched {
    user: UserId,
    app: String,
    machine: String,
    launch_id: String,
}

fn seed_row(store: &mut Store<NativePostgres>, launched: &Launched) {
    let (u, app, machine) = (launched.user, &launched.app, &launched.machine);
    // The platform's way to a Pro user: sign-up (the platform's trigger creates the profile and a free
    // subscription), then its subscription write, which Fleet's trigger turns into a due row.
    let id = u.to_string();
    let conn = store.connection();
    conn.execute(
        &platform::sign_up_sql(&id, &format!("{id}@sweep-bench.invalid")),
        &[],
    )
    .unwrap();
    conn.execute(
        &platform::set_subscription_sql(&id, "pro", "active", None),
        &[],
    )
    .unwrap();
    let mut row = store.app(u).unwrap().unwrap_or_else(|| AppRow::new(u));
    row.fly_app_name = Some(app.clone());
    row.fly_org_slug = Some("fleet".into());
    row.region = Some("sin".into());
    row.docker_image = Some(IMAGE.into());
    row.cpu_kind = Some("shared".into());
    row.cpus = Some(2);
    row.memory_mb = Some(512);
    row.machine_id = Some(machine.clone());
    row.launch_id = Some(launched.launch_id.clone());
    row.status = AppStatus::Active;
    row.secrets_version = Some(1);
    row.next_attempt_at = None;
    row.deployed_at = Some(chrono::Utc::now());
    store.upsert_app(&row, None, chrono::Utc::now()).unwrap();
}
