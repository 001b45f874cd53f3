//! Per-user screener roles on the platform's schema and policies: a role mapped to user A reads only A's
//! enabled custom traders (never built-ins), inserts signals only for them, touches nothing else, cannot be
//! widened by forging the JWT claims the platform's permissive policies read, loses its old password when
//! re-keyed, and cannot connect once dropped.

mod common;

use common::{ensure_user, exec, new_user, pg_store};
use fleet_store::{screener_role_name, SqlConnection};
use postgres::{Client, NoTls};

fn connect_as(url: &str, role: &str, password: &str) -> Result<Client, String> {
    let mut config: postgres::Config = url.parse().unwrap();
    config.user(role).password(password);
    config
        .connect(NoTls)
        .map_err(|e| fleet_test_support::postgres::describe(&e))
}

/// A custom trader of a signed-up user, with the columns the platform requires.
fn add_trader(
    store: &mut common::AnyStore,
    user: fleet_store::UserId,
    name: &str,
    enabled: bool,
) -> String {
    ensure_user(store, user);
    let rows = store
        .connection()
        .query(
            "INSERT INTO traders (user_id, name, description, filter, strategy, enabled, is_built_in, language) \
             VALUES ($1::text::uuid, $2, 'test trader', '{\"requiredTimeframes\": [\"5m\"]}', '{}', $3, false, 'go') \
             RETURNING id::text AS id",
            &[user.to_string().into(), name.into(), enabled.into()],
        )
        .unwrap();
    rows[0].text("id").unwrap()
}

const INSERT_SIGNAL: &str = "INSERT INTO signals (trader_id, user_id, symbol, interval, candle_open_time, price_at_signal) \
     VALUES ($1::text::uuid, $2::text::uuid, 'BTCUSDT', '5m', '2025-01-01T00:05:00Z', 1.0) ON CONFLICT DO NOTHING";

fn count(client: &mut Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", fleet_test_support::postgres::describe(&e)))
        .get(0)
}

#[test]
fn a_screener_role_sees_and_writes_only_its_users_data() {
    let (mut store, url) = pg_store();
    let (a, b) = (new_user(), new_user());
    // A is a Pro user with an app row (the signals' fly_app_id points at it).
    common::insert_subscription(&mut store, a, "pro", "active", None);
    let a_app = store.app(a).unwrap().unwrap().id.unwrap();
    let a_trader = add_trader(&mut store, a, "a-enabled", true);
    add_trader(&mut store, a, "a-disabled", false);
    let b_trader = add_trader(&mut store, b, "b-enabled", true);
    // The platform fixture also holds enabled built-in traders (one of the anonymous tier).

    let salt = [7u8; 16];
    let role = store
        .create_screener_role(a, "first-password", &salt)
        .unwrap();
    assert_eq!(role, screener_role_name(a));
    // Idempotent, and a second call rotates the password.
    store
        .create_screener_role(a, "a-password", &[9u8; 16])
        .unwrap();
    assert!(
        connect_as(&url, &role, "first-password").is_err(),
        "old password no longer works"
    );
    let mut screener = connect_as(&url, &role, "a-password").expect("screener connects");

    let names: Vec<String> = screener
        .query("SELECT name FROM traders ORDER BY name", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["a-enabled"], "only A's enabled custom traders");
    let b_visible: i64 = screener
        .query_one(
            "SELECT count(*) FROM traders WHERE user_id = $1::text::uuid",
            &[&b.to_string()],
        )
        .unwrap()
        .get(0);
    assert_eq!(b_visible, 0);
    assert_eq!(
        count(
            &mut screener,
            "SELECT count(*) FROM traders WHERE is_built_in"
        ),
        0,
        "no built-ins, although the platform's policy shows anonymous-tier ones to every role"
    );

    // Forged claims: the platform's permissive policies key on auth.uid(), which reads this setting; Fleet's
    // restrictive policies key on the login role, so nothing of B's becomes visible or writable.
    let claims = serde_json::json!({"sub": b.to_string(), "role": "authenticated"}).to_string();
    screener
        .query(
            "SELECT set_config('request.jwt.claims', $1, false)",
            &[&claims],
        )
        .unwrap();
    let b_id = b.to_string();
    for sql in [
        format!("SELECT count(*) FROM traders WHERE user_id = '{b_id}'"),
        "SELECT count(*) FROM traders WHERE is_built_in".to_string(),
        format!("SELECT count(*) FROM user_subscriptions WHERE user_id = '{b_id}'"),
        format!("SELECT count(*) FROM user_profiles WHERE id = '{b_id}'"),
    ] {
        assert_eq!(count(&mut screener, &sql), 0, "forged claims: {sql}");
    }
    assert_eq!(
        count(&mut screener, "SELECT count(*) FROM traders"),
        1,
        "still exactly A's one enabled trader"
    );

    let (a_s, b_s) = (a.to_string(), b.to_string());
    let (a_trader_id, b_trader_id) = (a_trader.clone(), b_trader.clone());
    let ok = |c: &mut Client, t: &String, u: &String| {
        c.execute(INSERT_SIGNAL, &[t, u])
            .map_err(|e| fleet_test_support::postgres::describe(&e))
    };
    assert_eq!(ok(&mut screener, &a_trader_id, &a_s), Ok(1));
    assert_eq!(
        ok(&mut screener, &a_trader_id, &a_s),
        Ok(0),
        "a duplicate is skipped, not an error"
    );
    for (trader, user) in [
        (&b_trader_id, &b_s),
        (&b_trader_id, &a_s),
        (&a_trader_id, &b_s),
    ] {
        let err = ok(&mut screener, trader, user).unwrap_err();
        assert!(err.contains("row-level security"), "{err}");
    }
    for forbidden in [
        "SELECT count(*) FROM signals",
        "SELECT count(*) FROM user_fly_apps",
        "SELECT count(*) FROM fleet.settings",
        "UPDATE traders SET enabled = false",
        "DELETE FROM signals",
    ] {
        let err = screener
            .execute(forbidden, &[])
            .map_err(|e| fleet_test_support::postgres::describe(&e))
            .unwrap_err();
        assert!(err.contains("permission denied"), "{forbidden}: {err}");
    }
    let admin = store.connection();
    let signals = admin
        .query(
            "SELECT user_id::text AS u, source, status, fly_app_id::text AS app FROM signals \
             WHERE candle_open_time IS NOT NULL",
            &[],
        )
        .unwrap();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].text("u").unwrap(), a_s);
    // What the platform reads is filled in for a screener's signal.
    assert_eq!(signals[0].text("source").unwrap(), "cloud");
    assert_eq!(signals[0].text("status").unwrap(), "new");
    assert_eq!(signals[0].opt_text("app").unwrap(), Some(a_app));

    // Dropping the role ends its session and its logins.
    assert!(store.drop_screener_role(&role).unwrap());
    assert!(!store.drop_screener_role(&role).unwrap(), "idempotent");
    // Supabase's postgres holds pg_signal_backend, so the open session is ended.
    assert!(
        screener.query("SELECT 1", &[]).is_err(),
        "the open session was ended"
    );
    let err = connect_as(&url, &role, "a-password")
        .err()
        .expect("login refused after drop");
    assert!(
        err.contains("password authentication failed") || err.contains("does not exist"),
        "{err}"
    );
    let mapped = store
        .connection()
        .query("SELECT count(*) AS n FROM fleet.screener_roles", &[])
        .unwrap();
    assert_eq!(mapped[0].int("n").unwrap(), 0);
}

#[test]
fn role_functions_refuse_foreign_roles_and_plaintext_passwords() {
    let (mut store, _) = pg_store();
    let user = new_user();
    let conn = store.connection();
    let verifier = fleet_store::scram_sha256_verifier("pw", &[1u8; 16]);
    let attempts = [
        format!("SELECT fleet.create_screener_role('postgres', '{user}', '{verifier}')"),
        format!("SELECT fleet.create_screener_role('fleet_scr_x\"; DROP ROLE postgres; --', '{user}', '{verifier}')"),
        format!("SELECT fleet.create_screener_role('fleet_scr_plain', '{user}', 'plaintext-password')"),
        "SELECT fleet.drop_screener_role('postgres')".to_string(),
        "SELECT fleet.drop_screener_role('fleet_control_plane')".to_string(),
    ];
    for sql in &attempts {
        let err = conn.execute(sql, &[]).unwrap_err();
        assert!(!err.to_string().contains("plaintext-password"), "{err}");
        assert!(
            err.to_string().contains("invalid screener role name")
                || err.to_string().contains("SCRAM-SHA-256 verifier"),
            "{sql}: {err}"
        );
    }
    // A role name mapped to one user cannot be taken over for another.
    store.create_screener_role(user, "pw", &[2u8; 16]).unwrap();
    let other = new_user();
    let err = store
        .connection()
        .execute(
            &format!(
                "SELECT fleet.create_screener_role('{}', '{other}', '{verifier}')",
                screener_role_name(user)
            ),
            &[],
        )
        .unwrap_err();
    assert!(err.to_string().contains("mapped to another user"), "{err}");
    assert!(store.drop_screener_role(&screener_role_name(user)).unwrap());
    // Only the control plane may call the functions.
    exec(&mut store, "SET ROLE authenticated", &[]);
    let err = store
        .create_screener_role(other, "pw", &[3u8; 16])
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}
