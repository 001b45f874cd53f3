//! Configuration errors name the variable and never print a secret.

use screener::config::{redact_url, Config, MarketData, RunMode, Universe};
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const DB: &str = "postgres://fleet_scr_x:s3cret-pw@db.example:5432/postgres?sslmode=require";

#[test]
fn dedicated_mode_requires_a_uuid_user_id() {
    let e = Config::from_map(&env(&[
        ("RUN_MODE", "user_dedicated"),
        ("DATABASE_URL", DB),
    ]))
    .unwrap_err();
    assert_eq!(e.var, "USER_ID");
    let e = Config::from_map(&env(&[
        ("RUN_MODE", "user_dedicated"),
        ("USER_ID", "bob"),
        ("DATABASE_URL", DB),
    ]))
    .unwrap_err();
    assert_eq!(e.var, "USER_ID");
    assert!(e.to_string().contains("uuid"));
    let ok = Config::from_map(&env(&[
        ("RUN_MODE", "user_dedicated"),
        ("USER_ID", "7d3c0a34-3f50-4c1e-9a43-1b0f0f6c2a11"),
        ("DATABASE_URL", DB),
    ]))
    .unwrap();
    assert_eq!(ok.run_mode, RunMode::UserDedicated);
    assert_eq!(ok.port, 8080);
    assert_eq!(ok.market, MarketData::Binance);
    assert_eq!(ok.universe, Universe::TopUsdt(100));
}

#[test]
fn errors_name_the_variable_and_hide_the_database_password() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("RUN_MODE", "solo"), ("DATABASE_URL", DB)], "RUN_MODE"),
        (&[], "DATABASE_URL"),
        (
            &[("DATABASE_URL", "mysql://u:s3cret-pw@h/db")],
            "DATABASE_URL",
        ),
        (&[("DATABASE_URL", DB), ("PORT", "99999")], "PORT"),
        (
            &[("DATABASE_URL", DB), ("MARKET_DATA", "kraken")],
            "MARKET_DATA",
        ),
        (
            &[("DATABASE_URL", DB), ("BINANCE_WS_URL", "http://x")],
            "BINANCE_WS_URL",
        ),
        (&[("DATABASE_URL", DB), ("SYMBOLS", "BTC-USDT")], "SYMBOLS"),
        (
            &[("DATABASE_URL", DB), ("SYMBOL_COUNT", "0")],
            "SYMBOL_COUNT",
        ),
    ];
    for (pairs, var) in cases {
        let e = Config::from_map(&env(pairs)).unwrap_err();
        assert_eq!(e.var, *var, "{e}");
        let text = format!("{e} {e:?}");
        assert!(text.contains(var), "{text}");
        assert!(!text.contains("s3cret-pw"), "secret leaked: {text}");
    }
    let c = Config::from_map(&env(&[("DATABASE_URL", DB)])).unwrap();
    assert!(!format!("{c:?}").contains("s3cret-pw"));
    assert_eq!(
        c.database_display(),
        "postgres://fleet_scr_x@db.example:5432/postgres"
    );
    assert_eq!(
        redact_url("postgres://u:p@h/db?sslmode=require&password=x"),
        "postgres://u@h/db"
    );
}

#[test]
fn replay_and_sqlite_select_local_defaults() {
    let c = Config::from_map(&env(&[
        ("DATABASE_URL", "sqlite:///tmp/x.db"),
        ("MARKET_DATA", "replay:/tmp/s.jsonl"),
    ]))
    .unwrap();
    assert_eq!(c.market, MarketData::Replay("/tmp/s.jsonl".into()));
    assert_eq!(c.signal_source, "local");
}
