//! The seeded demo: a few users (one of them an admin), a built-in trader and user traders whose filters fire
//! on the replay sample (RSI(14) dips below 30 and recovers on 1m candles). Dara starts on Pro, so the
//! dashboard has an app from the first second; everyone else starts free and is upgraded from the dashboard.
//!
//! Seeding is idempotent: fixed ids, `ON CONFLICT DO NOTHING`, so a kept database is never duplicated or reset.

use anyhow::{Context, Result};
use rusqlite::params;
use std::path::Path;

#[derive(Clone, Copy, Debug)]
pub struct DemoUser {
    pub id: &'static str,
    pub email: &'static str,
    pub is_admin: bool,
    /// The tier seeded for a new database.
    pub tier: &'static str,
}

pub const DEMO_USERS: [DemoUser; 4] = [
    DemoUser {
        id: "de300000-0000-4000-8000-000000000001",
        email: "ada@demo.fleet.local",
        is_admin: true,
        tier: "free",
    },
    DemoUser {
        id: "de300000-0000-4000-8000-000000000002",
        email: "ben@demo.fleet.local",
        is_admin: false,
        tier: "free",
    },
    DemoUser {
        id: "de300000-0000-4000-8000-000000000003",
        email: "chen@demo.fleet.local",
        is_admin: false,
        tier: "free",
    },
    DemoUser {
        id: "de300000-0000-4000-8000-000000000004",
        email: "dara@demo.fleet.local",
        is_admin: false,
        tier: "pro",
    },
];

// Filters are stored the platform's way: the timeframes a trader needs in `requiredTimeframes` (its first entry
// is the trigger timeframe) and Fleet's `symbols` (empty: the whole universe) inside `filter`.

/// RSI(14) crossing back above 30 on 1m candles: fires on the replay sample.
pub const RSI_BOUNCE: &str = r#"{"version": 1, "requiredTimeframes": ["1m"], "symbols": [],
 "when": {"left": {"ind": "rsi", "period": 14}, "op": "crosses_above", "right": {"const": 30}},
 "trigger": {"mode": "once_per_bar"}}"#;

/// EMA 9/21 cross with a volume confirmation.
pub const EMA_CROSS: &str = r#"{"version": 1, "requiredTimeframes": ["1m"], "symbols": [],
 "when": {"all": [
   {"left": {"ind": "ema", "period": 9}, "op": "crosses_above", "right": {"ind": "ema", "period": 21}},
   {"left": {"ind": "volume"}, "op": "gt", "right": {"ind": "volume_sma", "period": 20}}
 ]},
 "trigger": {"mode": "on_change"}}"#;

/// MACD histogram turning positive, at most once every 5 bars (the shared backend's built-in trader).
pub const MACD_TURN: &str = r#"{"version": 1, "requiredTimeframes": ["1m"], "symbols": [],
 "when": {"left": {"ind": "macd", "output": "hist"}, "op": "crosses_above", "right": {"const": 0}},
 "trigger": {"mode": "cooldown", "cooldown_bars": 5}}"#;

/// Go code as the platform's filter generator writes it: RSI(14) under 35 on a volume above its average.
/// Fires during the replay sample's sell-off.
pub const GO_RSI_VOLUME: &str = r#"{"requiredTimeframes": ["1m"], "refreshInterval": "1m",
 "description": ["RSI(14) on 1m below 35", "Volume above its 20-candle average"],
 "code": "klines := data.Klines[\"1m\"]\nif len(klines) < 20 {\n    return false\n}\n\nrsi := indicators.GetLatestRSI(klines, 14)\navgVol := indicators.CalculateAvgVolume(klines, 20)\nif rsi == nil || avgVol == nil {\n    return false\n}\n\ncurrentVol := klines[len(klines)-1].Volume\nreturn *rsi < 35.0 && currentVol > *avgVol"}"#;

/// Legacy JavaScript code in the style of the platform's seeded built-ins: RSI below 40 and turning up.
pub const JS_RSI_TURN: &str = r#"{"requiredTimeframes": ["1m"], "refreshInterval": "1m",
 "description": ["RSI(14) < 40", "RSI is increasing"],
 "code": "const rsi = await indicators.rsi(klines, 14);\nreturn rsi.value < 40 && rsi.increasing;"}"#;

/// A trader row to seed: `(id, owner, name, filter, language)`; no owner means built-in. The platform's
/// column only knows `go` and `javascript`; a declarative filter is recognised by its shape.
type TraderSeed = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
);

const TRADERS: [TraderSeed; 9] = [
    (
        "de3000aa-0000-4000-8000-000000000000",
        None,
        "MACD turns positive (built-in)",
        MACD_TURN,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000001",
        Some(DEMO_USERS[0].id),
        "RSI oversold bounce",
        RSI_BOUNCE,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000002",
        Some(DEMO_USERS[1].id),
        "RSI oversold bounce",
        RSI_BOUNCE,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000012",
        Some(DEMO_USERS[1].id),
        "EMA 9/21 cross on volume",
        EMA_CROSS,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000022",
        Some(DEMO_USERS[1].id),
        "RSI under 35 on volume (Go code)",
        GO_RSI_VOLUME,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000003",
        Some(DEMO_USERS[2].id),
        "RSI oversold bounce",
        RSI_BOUNCE,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000004",
        Some(DEMO_USERS[3].id),
        "EMA 9/21 cross on volume",
        EMA_CROSS,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000014",
        Some(DEMO_USERS[3].id),
        "RSI under 35 on volume (Go code)",
        GO_RSI_VOLUME,
        "go",
    ),
    (
        "de3000aa-0000-4000-8000-000000000024",
        Some(DEMO_USERS[3].id),
        "RSI turning up (JavaScript code)",
        JS_RSI_TURN,
        "javascript",
    ),
];

/// Inserts the demo users and traders that are not there yet.
pub fn seed(database: &Path) -> Result<()> {
    let mut conn = rusqlite::Connection::open(database)
        .with_context(|| format!("opening {}", database.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    for user in DEMO_USERS {
        tx.execute(
            "INSERT INTO user_profiles (id, email, is_admin) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
            params![user.id, user.email, user.is_admin as i64],
        )?;
        tx.execute(
            "INSERT INTO user_subscriptions (user_id, tier, status) VALUES (?1, ?2, 'active') \
             ON CONFLICT (user_id) DO NOTHING",
            params![user.id, user.tier],
        )?;
    }
    for (id, owner, name, filter, language) in TRADERS {
        tx.execute(
            "INSERT INTO traders (id, user_id, is_built_in, enabled, name, description, filter, language) \
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            params![
                id,
                owner,
                owner.is_none() as i64,
                name,
                format!("Demo trader: {name}"),
                filter,
                language
            ],
        )?;
    }
    tx.commit().context("seeding the demo")?;
    Ok(())
}

/// Users whose seeded tier entitles them to an app.
pub fn entitled_demo_users() -> impl Iterator<Item = &'static DemoUser> {
    DEMO_USERS.iter().filter(|u| u.tier != "free")
}

/// How many enabled, non-built-in traders `user` has (what its screener's `/health` should report).
pub fn user_trader_count(user: &DemoUser) -> usize {
    TRADERS
        .iter()
        .filter(|(_, owner, ..)| *owner == Some(user.id))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_store::native::NativeSqlite;
    use fleet_store::Store;

    #[test]
    fn the_seed_fits_the_schema_and_runs_twice_without_duplicates() {
        let dir = std::env::temp_dir().join(format!("fleet-seed-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("seed.db");
        Store::new(NativeSqlite::open(&db).unwrap())
            .migrate()
            .unwrap();
        seed(&db).unwrap();
        seed(&db).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT count(*) FROM user_profiles"), 4);
        assert_eq!(
            count("SELECT count(*) FROM user_profiles WHERE is_admin = 1"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM user_subscriptions WHERE tier = 'free'"),
            3
        );
        // The entitlement triggers queue Dara's app for the first sweep.
        assert_eq!(
            count("SELECT count(*) FROM user_fly_apps WHERE next_attempt_at IS NOT NULL"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM traders WHERE is_built_in = 1 AND user_id IS NULL"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM traders WHERE is_built_in = 0"),
            8
        );
        assert_eq!(user_trader_count(&DEMO_USERS[1]), 3);
        // The platform's shape: timeframes in filter.requiredTimeframes, language set.
        assert_eq!(
            count(
                "SELECT count(*) FROM traders WHERE json_extract(filter, '$.requiredTimeframes[0]') = '1m' \
                 AND json_type(filter, '$.symbols') = 'array' AND language = 'go' AND description IS NOT NULL"
            ),
            6
        );
        // Code traders in both of the platform's languages.
        assert_eq!(
            count(
                "SELECT count(DISTINCT language) FROM traders WHERE json_type(filter, '$.code') = 'text'"
            ),
            2
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
