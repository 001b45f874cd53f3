//! The platform fixture (`tests/platform-fixture`): its SQL, and helpers that act the way the platform does
//! (sign-up through `auth.users`, the subscription write, Vault secrets) plus the platform's own RLS read paths
//! as named counts, so a test can show they are the same before and after Fleet's migrations.
//!
//! Every helper takes a client connected as `postgres` (what [`crate::postgres::PgCluster::fresh_database`]
//! returns) or as the superuser, and uses only what `postgres` may do on Supabase.

use postgres::Client;
use std::path::PathBuf;

/// Cluster-wide roles (run once per cluster by the superuser).
pub const ROLES_SQL: &str = include_str!("../../platform-fixture/roles.sql");
/// A Supabase project's database before any user migration (run by the superuser).
pub const SUPABASE_SQL: &str = include_str!("../../platform-fixture/supabase.sql");
/// The platform's production schema (run as `postgres` after [`SUPABASE_SQL`]).
pub const PLATFORM_SQL: &str = include_str!("../../platform-fixture/platform.sql");

/// The fixture's built-in trader of access tier `anonymous` (seeded by platform.sql, marked FIXTURE).
pub const BUILT_IN_ANONYMOUS_TRADER: &str = "00000000-0000-4000-8000-00000000b001";
/// The fixture's built-in trader of access tier `pro` (seeded by platform.sql, marked FIXTURE).
pub const BUILT_IN_PRO_TRADER: &str = "00000000-0000-4000-8000-00000000b002";

/// The directory holding roles.sql, supabase.sql, platform.sql and README.md.
pub fn fixture_dir() -> PathBuf {
    crate::workspace_root().join("tests/platform-fixture")
}

/// The single-quoted SQL literal for `value`.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The INSERT GoTrue makes when a user signs up with email and password; the platform's `on_auth_user_created`
/// trigger then creates the profile, a free active subscription and the preferences.
pub fn sign_up_sql(user_id: &str, email: &str) -> String {
    format!(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, \
         raw_app_meta_data, raw_user_meta_data, created_at, updated_at) VALUES \
         ('00000000-0000-0000-0000-000000000000', {id}, 'authenticated', 'authenticated', {email}, '', now(), \
         '{{\"provider\": \"email\", \"providers\": [\"email\"]}}', '{{}}', now(), now())",
        id = literal(user_id),
        email = literal(email),
    )
}

/// The address a test user signs up with.
pub fn test_email(user_id: &str) -> String {
    format!("{user_id}@fleet-tests.invalid")
}

/// What gives a user a subscription the platform's way, as two statements for any connection: sign the user up
/// if new (a no-op for a known user), then the platform's subscription write, which updates exactly one row.
pub fn subscribe_sql(
    user_id: &str,
    tier: &str,
    status: &str,
    expires_at: Option<&str>,
) -> [String; 2] {
    [
        format!(
            "{} ON CONFLICT (id) DO NOTHING",
            sign_up_sql(user_id, &test_email(user_id))
        ),
        set_subscription_sql(user_id, tier, status, expires_at),
    ]
}

/// Fleet's local schemas (SQLite, vanilla PostgreSQL) have no users table: the subscription row is upserted.
pub fn local_subscription_sql(user_id: &str, tier: &str, status: &str) -> String {
    format!(
        "INSERT INTO user_subscriptions (user_id, tier, status) VALUES ({user}, {tier}, {status}) \
         ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = excluded.status",
        user = literal(user_id),
        tier = literal(tier),
        status = literal(status),
    )
}

/// Gives a user a subscription through `execute` (any connection; returns rows affected): the platform's way
/// ([`subscribe_sql`]) on the fixture, the upsert on Fleet's local schemas (`local`).
pub fn subscribe_with(
    local: bool,
    user_id: &str,
    tier: &str,
    status: &str,
    mut execute: impl FnMut(&str) -> u64,
) {
    if local {
        execute(&local_subscription_sql(user_id, tier, status));
        return;
    }
    let [sign_up, write] = subscribe_sql(user_id, tier, status, None);
    execute(&sign_up);
    assert_eq!(
        execute(&write),
        1,
        "the platform's subscription write updates one row"
    );
}

/// Signs a new user up (see [`sign_up_sql`]) and returns its id.
pub fn sign_up(client: &mut Client, email: &str) -> Result<String, postgres::Error> {
    let id: String = client
        .query_one("SELECT gen_random_uuid()::text", &[])?
        .get(0);
    client.batch_execute(&sign_up_sql(&id, email))?;
    Ok(id)
}

/// The platform's subscription write (its billing path, as the service role would run it): one UPDATE of the
/// user's row. On the bare platform fixture a tier change fires the old provisioner (`on_user_tier_change`),
/// which needs the Vault secrets ([`vault_secrets_sql`]); without them pg_net refuses the NULL URL and the
/// write fails, as it would on production.
pub fn set_subscription_sql(
    user_id: &str,
    tier: &str,
    status: &str,
    expires_at: Option<&str>,
) -> String {
    let expires = expires_at.map(literal).unwrap_or_else(|| "NULL".into());
    format!(
        "UPDATE public.user_subscriptions SET tier = {tier}, status = {status}, expires_at = {expires} \
         WHERE user_id = {user}",
        tier = literal(tier),
        status = literal(status),
        user = literal(user_id),
    )
}

/// Runs [`set_subscription_sql`]; returns the number of rows updated (1 for a signed-up user).
pub fn set_subscription(
    client: &mut Client,
    user_id: &str,
    tier: &str,
    status: &str,
    expires_at: Option<&str>,
) -> Result<u64, postgres::Error> {
    client.execute(
        set_subscription_sql(user_id, tier, status, expires_at).as_str(),
        &[],
    )
}

/// Stores (or replaces) the two Vault secrets the platform's triggers read: `project_url` (e.g.
/// `https://<ref>.supabase.co`) and `service_role_key`, as the platform's operator did.
pub fn vault_secrets_sql(project_url: &str, service_role_key: &str) -> String {
    format!(
        "DELETE FROM vault.secrets WHERE name IN ('project_url', 'service_role_key'); \
         SELECT vault.create_secret({url}, 'project_url'); \
         SELECT vault.create_secret({key}, 'service_role_key');",
        url = literal(project_url),
        key = literal(service_role_key),
    )
}

/// Runs [`vault_secrets_sql`].
pub fn set_vault_secrets(
    client: &mut Client,
    project_url: &str,
    service_role_key: &str,
) -> Result<(), postgres::Error> {
    client.batch_execute(&vault_secrets_sql(project_url, service_role_key))
}

/// Statements that make the rest of the current transaction run as a Data API request would: `SET LOCAL ROLE`
/// `role` (anon or authenticated) and `request.jwt.claims` for `user_id` (none for anon), transaction-local.
pub fn as_api_request_sql(role: &str, user_id: Option<&str>) -> String {
    let claims = match user_id {
        Some(id) => format!("{{\"sub\": \"{id}\", \"role\": \"{role}\"}}"),
        None => format!("{{\"role\": \"{role}\"}}"),
    };
    format!(
        "SET LOCAL ROLE {role}; SELECT set_config('request.jwt.claims', {claims}, true);",
        role = role,
        claims = literal(&claims),
    )
}

/// How many pg_net calls are queued whose URL ends with `url_suffix` (e.g. `/functions/v1/provision-user-fly-app`).
pub fn http_post_calls(client: &mut Client, url_suffix: &str) -> Result<i64, postgres::Error> {
    let pattern = format!("%{}", url_suffix.replace('%', "\\%").replace('_', "\\_"));
    Ok(client
        .query_one(
            "SELECT count(*) FROM net.http_request_queue WHERE method = 'POST' AND url LIKE $1",
            &[&pattern],
        )?
        .get(0))
}

/// The rows [`seed_read_paths`] creates, by role in the read-path checks.
#[derive(Clone, Debug)]
pub struct ReadPathSeed {
    /// A Pro user (active) with one enabled custom trader and one signal from it.
    pub pro_user: String,
    /// A free user with one (disabled) custom trader left from an earlier plan and one signal from it.
    pub free_user: String,
    pub pro_trader: String,
    pub free_trader: String,
    pub pro_signal: String,
    pub free_signal: String,
    /// Signals of the fixture's built-ins ([`BUILT_IN_ANONYMOUS_TRADER`], [`BUILT_IN_PRO_TRADER`]).
    pub anonymous_built_in_signal: String,
    pub pro_built_in_signal: String,
}

/// Creates two users the platform's way (sign-up, then the subscription write for the Pro one), their traders
/// and signals, and a signal for each fixture built-in. The Pro upgrade goes through the platform's triggers:
/// when Vault has no `project_url` yet, this stores fixture secrets first (`http://platform.invalid`,
/// `fixture-service-role-key`) as production's operator did, and the old provisioner then queues its pg_net
/// call (unless Fleet's migrations replaced it).
pub fn seed_read_paths(client: &mut Client) -> Result<ReadPathSeed, postgres::Error> {
    let has_url: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM vault.decrypted_secrets WHERE name = 'project_url')",
            &[],
        )?
        .get(0);
    if !has_url {
        set_vault_secrets(
            client,
            "http://platform.invalid",
            "fixture-service-role-key",
        )?;
    }
    let tag = client
        .query_one("SELECT substr(md5(random()::text), 1, 10)", &[])?
        .get::<_, String>(0);
    let pro_user = sign_up(client, &format!("pro-{tag}@read-paths.invalid"))?;
    let free_user = sign_up(client, &format!("free-{tag}@read-paths.invalid"))?;
    set_subscription(client, &pro_user, "pro", "active", None)?;

    let mut trader = |owner: &str, enabled: bool| -> Result<String, postgres::Error> {
        let sql = format!(
            "INSERT INTO public.traders (name, description, enabled, filter, strategy, user_id, ownership_type, \
             access_tier, is_built_in, language) VALUES ({name}, 'read-path fixture trader', {enabled}, \
             '{{\"code\": \"return false\", \"description\": [], \"indicators\": [], \
             \"requiredTimeframes\": [\"5m\"]}}', '{{\"instructions\": \"none\"}}', {owner}, 'user', 'elite', \
             false, 'go') RETURNING id::text",
            name = literal(&format!("read-paths {tag} {owner}")),
            owner = literal(owner),
        );
        Ok(client.query_one(sql.as_str(), &[])?.get(0))
    };
    let pro_trader = trader(&pro_user, true)?;
    let free_trader = trader(&free_user, false)?;

    let mut signal = |trader: &str, user: Option<&str>| -> Result<String, postgres::Error> {
        let sql = format!(
            "INSERT INTO public.signals (trader_id, user_id, symbol, \"interval\", \"timestamp\", price_at_signal, \
             change_percent_at_signal, volume_at_signal, count, source) VALUES ({trader}, {user}, 'BTCUSDT', '5m', \
             now(), 65000.5, 0, 1234.5, 1, 'cloud') RETURNING id::text",
            trader = literal(trader),
            user = user.map(literal).unwrap_or_else(|| "NULL".into()),
        );
        Ok(client.query_one(sql.as_str(), &[])?.get(0))
    };
    let pro_signal = signal(&pro_trader, Some(&pro_user))?;
    let free_signal = signal(&free_trader, Some(&free_user))?;
    let anonymous_built_in_signal = signal(BUILT_IN_ANONYMOUS_TRADER, None)?;
    let pro_built_in_signal = signal(BUILT_IN_PRO_TRADER, None)?;
    Ok(ReadPathSeed {
        pro_user,
        free_user,
        pro_trader,
        free_trader,
        pro_signal,
        free_signal,
        anonymous_built_in_signal,
        pro_built_in_signal,
    })
}

/// The platform's own read paths, as the web app makes them through the Data API (`anon`, or `authenticated`
/// with the user's JWT claims), each in its own transaction that is rolled back. Returns named counts of the
/// seeded rows each caller sees; compare two calls (before and after Fleet's migrations) for equality.
/// [`expected_read_paths`] gives the platform's intended answers.
pub fn read_paths(
    client: &mut Client,
    seed: &ReadPathSeed,
) -> Result<Vec<(String, i64)>, postgres::Error> {
    let callers: [(&str, &str, Option<&str>); 3] = [
        ("anon", "anon", None),
        ("pro_user", "authenticated", Some(&seed.pro_user)),
        ("free_user", "authenticated", Some(&seed.free_user)),
    ];
    let mut counts = Vec::new();
    for (name, role, user) in callers {
        let me = user.unwrap_or("");
        let (mine, theirs) = if me == seed.free_user {
            (&seed.free_user, &seed.pro_user)
        } else {
            (&seed.pro_user, &seed.free_user)
        };
        let (my_trader, their_trader, my_signal, their_signal) = if me == seed.free_user {
            (
                &seed.free_trader,
                &seed.pro_trader,
                &seed.free_signal,
                &seed.pro_signal,
            )
        } else {
            (
                &seed.pro_trader,
                &seed.free_trader,
                &seed.pro_signal,
                &seed.free_signal,
            )
        };
        // For anon, "own" and "other" both name users' rows: anon must see neither.
        let checks: Vec<(&str, String)> = vec![
            ("traders.own", by_id("public.traders", my_trader)),
            ("traders.other_user", by_id("public.traders", their_trader)),
            (
                "traders.built_in_anonymous",
                by_id("public.traders", BUILT_IN_ANONYMOUS_TRADER),
            ),
            (
                "traders.built_in_pro",
                by_id("public.traders", BUILT_IN_PRO_TRADER),
            ),
            ("signals.own", by_id("public.signals", my_signal)),
            ("signals.other_user", by_id("public.signals", their_signal)),
            (
                "signals.built_in_anonymous",
                by_id("public.signals", &seed.anonymous_built_in_signal),
            ),
            (
                "signals.built_in_pro",
                by_id("public.signals", &seed.pro_built_in_signal),
            ),
            (
                "subscriptions.own",
                by_column("public.user_subscriptions", "user_id", mine),
            ),
            (
                "subscriptions.own_active_at_seeded_tier",
                format!(
                    "SELECT count(*) FROM public.user_subscriptions WHERE user_id = {} AND status = 'active' \
                     AND tier = CASE WHEN user_id = {} THEN 'pro' ELSE 'free' END",
                    literal(mine),
                    literal(&seed.pro_user)
                ),
            ),
            (
                "subscriptions.other_user",
                by_column("public.user_subscriptions", "user_id", theirs),
            ),
            ("profiles.own", by_column("public.user_profiles", "id", mine)),
            (
                "profiles.other_user",
                by_column("public.user_profiles", "id", theirs),
            ),
            (
                "preferences.own",
                by_column("public.user_preferences", "user_id", mine),
            ),
            (
                "resource_usage.own",
                by_column("public.trader_resource_usage", "user_id", mine),
            ),
        ];
        let mut tx = client.transaction()?;
        tx.batch_execute(&as_api_request_sql(role, user))?;
        for (check, sql) in checks {
            let n: i64 = tx.query_one(sql.as_str(), &[])?.get(0);
            counts.push((format!("{name}.{check}"), n));
        }
        tx.rollback()?;
    }
    Ok(counts)
}

/// What the platform means its read paths to answer for [`seed_read_paths`]'s rows (the platform's policies:
/// 004 for traders, 029 for signals, 004 for subscriptions, profiles and preferences, 021 for resource usage).
pub fn expected_read_paths() -> Vec<(String, i64)> {
    let table: [(&str, [i64; 3]); 15] = [
        // check                                   anon  pro  free
        ("traders.own", [0, 1, 1]),
        ("traders.other_user", [0, 0, 0]),
        ("traders.built_in_anonymous", [1, 1, 1]),
        ("traders.built_in_pro", [0, 1, 0]),
        ("signals.own", [0, 1, 1]),
        ("signals.other_user", [0, 0, 0]),
        ("signals.built_in_anonymous", [1, 1, 1]),
        ("signals.built_in_pro", [0, 1, 0]),
        ("subscriptions.own", [0, 1, 1]),
        ("subscriptions.own_active_at_seeded_tier", [0, 1, 1]),
        ("subscriptions.other_user", [0, 0, 0]),
        ("profiles.own", [0, 1, 1]),
        ("profiles.other_user", [0, 0, 0]),
        ("preferences.own", [0, 1, 1]),
        ("resource_usage.own", [0, 1, 1]),
    ];
    let mut expected = Vec::new();
    for (i, caller) in ["anon", "pro_user", "free_user"].iter().enumerate() {
        for (check, counts) in &table {
            expected.push((format!("{caller}.{check}"), counts[i]));
        }
    }
    expected
}

fn by_id(table: &str, id: &str) -> String {
    by_column(table, "id", id)
}

fn by_column(table: &str, column: &str, value: &str) -> String {
    format!(
        "SELECT count(*) FROM {table} WHERE {column} = {}",
        literal(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::{cluster, describe};
    use postgres::NoTls;

    const PROVISION: &str = "/functions/v1/provision-user-fly-app";
    const DEPROVISION: &str = "/functions/v1/deprovision-user-fly-app";

    fn platform_db() -> Client {
        Client::connect(&cluster().fresh_database(), NoTls)
            .expect("connect to a platform fixture database")
    }

    fn count(client: &mut Client, sql: &str) -> i64 {
        client
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
            .get(0)
    }

    #[test]
    fn template_applies_and_postgres_is_not_superuser() {
        let started = std::time::Instant::now();
        let templates = cluster().templates().clone();
        eprintln!(
            "platform fixture templates {} / {}: built in {:?} (this call waited {:?})",
            templates.supabase,
            templates.platform,
            templates.build_time,
            started.elapsed()
        );
        let copy_started = std::time::Instant::now();
        let mut db = platform_db();
        eprintln!(
            "fresh_database (copy of the platform template + connect): {:?}",
            copy_started.elapsed()
        );
        let row = db
            .query_one(
                "SELECT current_user::text, rolsuper, rolbypassrls, rolcreaterole \
                 FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "postgres");
        assert!(!row.get::<_, bool>(1), "postgres must not be a superuser");
        assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));
        for table in [
            "auth.users",
            "vault.decrypted_secrets",
            "net.http_request_queue",
            "net._http_response",
            "cron.job",
            "public.user_profiles",
            "public.user_subscriptions",
            "public.user_preferences",
            "public.notification_queue",
            "public.traders",
            "public.signals",
            "public.signal_analyses",
            "public.trader_state",
            "public.trader_resource_usage",
            "public.trader_execution_history",
            "public.user_fly_apps",
            "public.user_fly_app_events",
            "public.user_fly_apps_with_profiles",
        ] {
            let found: bool = db
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .unwrap()
                .get(0);
            assert!(found, "{table} is missing from the platform fixture");
        }
        let fk: String = db
            .query_one(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'signals_machine_id_fkey'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            fk,
            "FOREIGN KEY (fly_app_id) REFERENCES user_fly_apps(id) ON DELETE SET NULL"
        );
        // New tables are exposed to the API roles by Supabase's default privileges.
        db.batch_execute("CREATE TABLE public.probe_exposed (x int)")
            .unwrap();
        let exposed: bool = db
            .query_one(
                "SELECT has_table_privilege('anon', 'public.probe_exposed', 'SELECT')",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(exposed);
    }

    #[test]
    fn sign_up_creates_profile_free_subscription_and_preferences() {
        let mut db = platform_db();
        let user = sign_up(&mut db, "someone@example.invalid").unwrap();
        let row = db
            .query_one(
                "SELECT p.email, s.tier, s.status, s.custom_signals_count, \
                        (SELECT count(*) FROM user_preferences WHERE user_id = p.id), \
                        (SELECT max_traders FROM trader_resource_usage WHERE user_id = p.id) \
                 FROM user_profiles p JOIN user_subscriptions s ON s.user_id = p.id WHERE p.id = $1::text::uuid",
                &[&user],
            )
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "someone@example.invalid");
        assert_eq!(row.get::<_, String>(1), "free");
        assert_eq!(row.get::<_, String>(2), "active");
        assert_eq!(row.get::<_, i32>(3), 0);
        assert_eq!(row.get::<_, i64>(4), 1);
        assert_eq!(row.get::<_, i32>(5), 0);
    }

    #[test]
    fn platform_read_paths_answer_as_the_platform_intends() {
        let mut db = platform_db();
        let seed = seed_read_paths(&mut db).unwrap_or_else(|e| panic!("{}", describe(&e)));
        let first = read_paths(&mut db, &seed).unwrap_or_else(|e| panic!("{}", describe(&e)));
        assert_eq!(first, expected_read_paths());
        // Read-only: a second pass answers the same.
        assert_eq!(read_paths(&mut db, &seed).unwrap(), first);
    }

    #[test]
    fn upgrade_queues_exactly_one_old_provisioner_call_and_downgrade_one_deprovision() {
        let mut db = platform_db();
        set_vault_secrets(&mut db, "https://ref.supabase.co", "srk-test").unwrap();
        let user = sign_up(&mut db, "upgrader@example.invalid").unwrap();
        assert_eq!(http_post_calls(&mut db, PROVISION).unwrap(), 0);

        assert_eq!(
            set_subscription(&mut db, &user, "pro", "active", None).unwrap(),
            1
        );
        assert_eq!(http_post_calls(&mut db, PROVISION).unwrap(), 1);
        let row = db
            .query_one(
                "SELECT url, body::text, headers->>'Authorization' FROM net.http_request_queue ORDER BY id DESC LIMIT 1",
                &[],
            )
            .unwrap();
        assert_eq!(
            row.get::<_, String>(0),
            "https://ref.supabase.co/functions/v1/provision-user-fly-app"
        );
        let body: serde_json::Value = serde_json::from_str(row.get(1)).unwrap();
        assert_eq!(body, serde_json::json!({"user_id": user, "tier": "pro"}));
        assert_eq!(row.get::<_, String>(2), "Bearer srk-test");

        // pro -> elite and status changes: the old provisioner stays silent.
        set_subscription(&mut db, &user, "elite", "active", None).unwrap();
        set_subscription(&mut db, &user, "elite", "past_due", None).unwrap();
        assert_eq!(http_post_calls(&mut db, PROVISION).unwrap(), 1);
        assert_eq!(http_post_calls(&mut db, DEPROVISION).unwrap(), 0);

        set_subscription(&mut db, &user, "free", "active", None).unwrap();
        assert_eq!(http_post_calls(&mut db, DEPROVISION).unwrap(), 1);
        let tier: String = db
            .query_one(
                "SELECT tier FROM user_subscriptions WHERE user_id = $1::text::uuid",
                &[&user],
            )
            .unwrap()
            .get(0);
        assert_eq!(tier, "free", "the subscription writes committed");
    }

    #[test]
    fn upgrade_without_vault_secrets_fails_as_pg_net_refuses_a_null_url() {
        let mut db = platform_db();
        let user = sign_up(&mut db, "novault@example.invalid").unwrap();
        let err = set_subscription(&mut db, &user, "pro", "active", None).unwrap_err();
        let text = describe(&err);
        assert!(
            text.contains("\"url\"") && text.contains("not-null"),
            "{text}"
        );
        assert_eq!(
            count(
                &mut db,
                "SELECT count(*) FROM user_subscriptions WHERE tier = 'pro'"
            ),
            0
        );
    }

    #[test]
    fn ai_analysis_trigger_never_fails_a_signal_and_posts_for_elite_auto_analyze_traders() {
        let mut db = platform_db();
        let user = sign_up(&mut db, "elite@example.invalid").unwrap();
        let trader: String = db
            .query_one(
                "INSERT INTO traders (name, description, filter, strategy, user_id, auto_analyze_signals) \
                 VALUES ('t', 'd', '{}', '{}', $1::text::uuid, true) RETURNING id::text",
                &[&user],
            )
            .unwrap()
            .get(0);
        let insert_signal = format!(
            "INSERT INTO signals (trader_id, user_id, symbol, source) VALUES ('{trader}', '{user}', 'ETHUSDT', 'cloud')"
        );
        // Not elite in user_profiles.subscription_tier: no call; no Vault either: still no failure.
        db.batch_execute(&insert_signal).unwrap();
        db.batch_execute(&format!(
            "UPDATE user_profiles SET subscription_tier = 'ELITE' WHERE id = '{user}'"
        ))
        .unwrap();
        db.batch_execute(&insert_signal).unwrap();
        assert_eq!(
            http_post_calls(&mut db, "/functions/v1/llm-proxy").unwrap(),
            0
        );
        set_vault_secrets(&mut db, "https://ref.supabase.co", "srk").unwrap();
        db.batch_execute(&insert_signal).unwrap();
        assert_eq!(
            http_post_calls(&mut db, "/functions/v1/llm-proxy").unwrap(),
            1
        );
        assert_eq!(count(&mut db, "SELECT count(*) FROM signals"), 3);
    }

    #[test]
    fn a_role_without_user_profiles_reads_is_denied_on_traders() {
        let mut db = platform_db();
        let role = format!("probe_{}", std::process::id());
        db.batch_execute(&format!(
            "CREATE ROLE {role} NOLOGIN; GRANT {role} TO postgres; \
             GRANT SELECT ON public.traders, public.user_subscriptions TO {role};"
        ))
        .unwrap();
        let mut tx = db.transaction().unwrap();
        tx.batch_execute(&format!("SET LOCAL ROLE {role}")).unwrap();
        let err = tx.query("SELECT id FROM public.traders", &[]).unwrap_err();
        assert!(
            describe(&err).contains("permission denied for table user_profiles"),
            "{}",
            describe(&err)
        );
    }

    #[test]
    fn postgres_may_rotate_a_password_but_not_touch_the_superuser_attribute() {
        let mut db = platform_db();
        let role = format!("rotate_{}", std::process::id());
        db.batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD 'one'"))
            .unwrap();
        db.batch_execute(&format!("ALTER ROLE {role} PASSWORD 'two'"))
            .unwrap();
        let err = db
            .batch_execute(&format!("ALTER ROLE {role} NOSUPERUSER PASSWORD 'three'"))
            .unwrap_err();
        assert!(describe(&err).contains("42501"), "{}", describe(&err));
    }

    #[test]
    fn supabase_database_has_supabase_but_not_the_platform() {
        let url = cluster().fresh_supabase_database();
        let mut db = Client::connect(&url, NoTls).unwrap();
        let row = db
            .query_one(
                "SELECT to_regclass('auth.users') IS NOT NULL, to_regclass('public.traders') IS NULL, \
                        to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') IS NOT NULL, \
                        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                &[],
            )
            .unwrap();
        assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1) && row.get::<_, bool>(2));
        assert!(!row.get::<_, bool>(3));
        // The platform's schema applies on it as postgres (what a step-by-step test does).
        db.batch_execute(PLATFORM_SQL)
            .unwrap_or_else(|e| panic!("{}", describe(&e)));
    }

    #[test]
    fn vanilla_database_is_empty_and_superuser() {
        let url = cluster().fresh_vanilla_database();
        let mut db = Client::connect(&url, NoTls).unwrap();
        let row = db
            .query_one(
                "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
                        to_regnamespace('auth') IS NULL, \
                        (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')",
                &[],
            )
            .unwrap();
        assert!(row.get::<_, bool>(0));
        assert!(row.get::<_, bool>(1));
        assert_eq!(row.get::<_, i64>(2), 0);
    }
}
