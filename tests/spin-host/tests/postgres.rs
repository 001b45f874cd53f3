//! Postgres through spin:postgres/postgres@4.0.0 against a real PostgreSQL server: every WIT type round-trips,
//! permissions are enforced, and failures are errors rather than traps.

mod common;

use common::{post_json, TestApp};
use serde_json::{json, Value};
use spin_test_host::RunningHost;

struct PgHost {
    host: RunningHost,
    url: String,
    client: reqwest::blocking::Client,
    _app: TestApp,
}

impl PgHost {
    fn start() -> Self {
        let cluster = fleet_test_support::postgres::cluster();
        let url = cluster.fresh_database();
        let app = TestApp::new();
        let host = app
            .config()
            .variable("pg_url", &url)
            .variable("pg_port", cluster.port().to_string())
            .start()
            .unwrap();
        PgHost {
            host,
            url,
            client: common::client(),
            _app: app,
        }
    }

    fn call(&self, path: &str, body: Value) -> (u16, Value) {
        post_json(&self.client, &self.host.url(path), &body)
    }

    fn execute(&self, statement: &str, params: Value) -> Value {
        let (status, body) = self.call(
            "/api/pg/execute",
            json!({ "statement": statement, "params": params }),
        );
        assert_eq!(status, 200, "{statement}: {body}");
        body
    }

    fn query(&self, statement: &str, params: Value) -> Value {
        let (status, body) = self.call(
            "/api/pg/query",
            json!({ "statement": statement, "params": params }),
        );
        assert_eq!(status, 200, "{statement}: {body}");
        body
    }
}

/// (column, SQL type, parameter sent, value expected back)
fn every_type() -> Vec<(&'static str, &'static str, Value, Value)> {
    let same = |v: Value| (v.clone(), v);
    let cases = vec![
        (
            "c_bool",
            "bool",
            same(json!({ "type": "boolean", "value": true })),
        ),
        (
            "c_char",
            "\"char\"",
            same(json!({ "type": "int8", "value": 65 })),
        ),
        (
            "c_int2",
            "int2",
            same(json!({ "type": "int16", "value": -32768 })),
        ),
        (
            "c_int4",
            "int4",
            same(json!({ "type": "int32", "value": 2147483647 })),
        ),
        (
            "c_int8",
            "int8",
            same(json!({ "type": "int64", "value": -9007199254740993i64 })),
        ),
        (
            "c_float4",
            "float4",
            same(json!({ "type": "floating32", "value": 1.5 })),
        ),
        (
            "c_float8",
            "float8",
            same(json!({ "type": "floating64", "value": -0.125 })),
        ),
        (
            "c_text",
            "text",
            same(json!({ "type": "str", "value": "héllo 'quoted'" })),
        ),
        (
            "c_varchar",
            "varchar(20)",
            same(json!({ "type": "str", "value": "short" })),
        ),
        (
            "c_bytea",
            "bytea",
            same(json!({ "type": "binary", "value": [0, 1, 2, 255] })),
        ),
        (
            "c_date",
            "date",
            same(json!({ "type": "date", "value": [2024, 2, 29] })),
        ),
        (
            "c_time",
            "time",
            same(json!({ "type": "time", "value": [13, 14, 15, 123456000] })),
        ),
        (
            "c_timestamp",
            "timestamp",
            same(json!({ "type": "datetime", "value": [2024, 2, 29, 13, 14, 15, 123456000] })),
        ),
        (
            "c_timestamptz",
            "timestamptz",
            (
                json!({ "type": "timestamp", "value": 1700000000 }),
                json!({ "type": "datetime", "value": [2023, 11, 14, 22, 13, 20, 0] }),
            ),
        ),
        (
            "c_uuid",
            "uuid",
            same(json!({ "type": "uuid", "value": "67e55044-10b1-426f-9247-bb680e5fe0c8" })),
        ),
        (
            "c_jsonb",
            "jsonb",
            same(json!({ "type": "jsonb", "value": { "a": [1, true, null], "b": "x" } })),
        ),
        (
            "c_numeric",
            "numeric",
            same(json!({ "type": "decimal", "value": "12345.6789" })),
        ),
        (
            "c_int4range",
            "int4range",
            same(
                json!({ "type": "range-int32", "value": { "lower": [1, "inclusive"], "upper": [11, "exclusive"] } }),
            ),
        ),
        (
            "c_int8range",
            "int8range",
            same(
                json!({ "type": "range-int64", "value": { "lower": null, "upper": [5000000000i64, "exclusive"] } }),
            ),
        ),
        (
            "c_numrange",
            "numrange",
            same(
                json!({ "type": "range-decimal", "value": { "lower": ["1.5", "inclusive"], "upper": ["2.25", "exclusive"] } }),
            ),
        ),
        (
            "c_int4_array",
            "int4[]",
            same(json!({ "type": "array-int32", "value": [1, null, -3] })),
        ),
        (
            "c_int8_array",
            "int8[]",
            same(json!({ "type": "array-int64", "value": [5000000000i64, null] })),
        ),
        (
            "c_numeric_array",
            "numeric[]",
            same(json!({ "type": "array-decimal", "value": ["1.5", null, "-2"] })),
        ),
        (
            "c_text_array",
            "text[]",
            same(json!({ "type": "array-str", "value": ["a", null, "c"] })),
        ),
        (
            "c_interval",
            "interval",
            same(
                json!({ "type": "interval", "value": { "micros": 3600000001i64, "days": 2, "months": 14 } }),
            ),
        ),
        (
            "c_null",
            "int4",
            same(json!({ "type": "db-null", "value": null })),
        ),
    ];
    cases
        .into_iter()
        .map(|(column, ty, (sent, expected))| (column, ty, sent, expected))
        .collect()
}

#[test]
fn every_wit_type_round_trips_through_a_real_server() {
    let pg = PgHost::start();
    let cases = every_type();
    let columns: Vec<String> = cases
        .iter()
        .map(|(c, ty, _, _)| format!("{c} {ty}"))
        .collect();
    pg.execute(
        &format!("CREATE TABLE every_type ({})", columns.join(", ")),
        json!([]),
    );
    let names: Vec<&str> = cases.iter().map(|(c, _, _, _)| *c).collect();
    let placeholders: Vec<String> = (1..=cases.len()).map(|i| format!("${i}")).collect();
    let params: Vec<Value> = cases.iter().map(|(_, _, sent, _)| sent.clone()).collect();
    let inserted = pg.execute(
        &format!(
            "INSERT INTO every_type ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ),
        Value::Array(params),
    );
    assert_eq!(inserted["affected"], 1);

    let result = pg.query(
        &format!("SELECT {} FROM every_type", names.join(", ")),
        json!([]),
    );
    let row = &result["rows"][0];
    for (index, (column, ty, _, expected)) in cases.iter().enumerate() {
        assert_eq!(&row[index], expected, "column {column} ({ty})");
        assert_eq!(result["columns"][index]["name"], *column);
    }
    let types: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "boolean",
            "int8",
            "int16",
            "int32",
            "int64",
            "floating32",
            "floating64",
            "str",
            "str",
            "binary",
            "date",
            "time",
            "datetime",
            "datetime",
            "uuid",
            "jsonb",
            "decimal",
            "range-int32",
            "range-int64",
            "range-decimal",
            "array-int32",
            "array-int64",
            "array-decimal",
            "array-str",
            "interval",
            "int32"
        ]
    );

    // Parameters work in WHERE clauses too, and NULL cells read back as db-null.
    let filtered = pg.query(
        "SELECT c_text, c_null FROM every_type WHERE c_uuid = $1 AND c_int4 = $2",
        json!([
            { "type": "uuid", "value": "67e55044-10b1-426f-9247-bb680e5fe0c8" },
            { "type": "int32", "value": 2147483647 }
        ]),
    );
    assert_eq!(
        filtered["rows"],
        json!([[{ "type": "str", "value": "héllo 'quoted'" }, { "type": "db-null", "value": null }]])
    );
}

#[test]
fn unsupported_types_and_bad_input_are_errors_not_traps() {
    let pg = PgHost::start();
    let result = pg.query("SELECT '(1,2)'::point AS p, 7::int4 AS n", json!([]));
    assert_eq!(result["columns"][0]["type"], "other:point");
    assert_eq!(result["rows"][0][0]["type"], "unsupported");
    assert_eq!(result["rows"][0][1], json!({ "type": "int32", "value": 7 }));

    let (status, body) = pg.call(
        "/api/pg/query",
        json!({ "statement": "SELECT * FROM no_such_table" }),
    );
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("QueryFailed") && error.contains("42P01"),
        "{error}"
    );

    let (status, body) = pg.call(
        "/api/pg/query",
        json!({ "statement": "SELECT $1::uuid", "params": [{ "type": "uuid", "value": "not-a-uuid" }] }),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("BadParameter"),
        "{body}"
    );

    // A parameter of the wrong type for the column is refused by the driver, not a trap.
    let (status, body) = pg.call(
        "/api/pg/query",
        json!({ "statement": "SELECT $1::int4", "params": [{ "type": "str", "value": "x" }] }),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("QueryFailed"),
        "{body}"
    );

    // The host still serves this component afterwards.
    assert_eq!(
        pg.query("SELECT 1::int4 AS one", json!([]))["rows"],
        json!([[{ "type": "int32", "value": 1 }]])
    );
}

#[test]
fn connections_outside_allowed_outbound_hosts_are_refused_without_leaking_credentials() {
    let pg = PgHost::start();
    let password = pg
        .url
        .split(':')
        .nth(2)
        .and_then(|s| s.split('@').next())
        .unwrap()
        .to_string();
    // The fallback component has no postgres:// entry at all.
    let (status, body) = pg.call(
        "/pg/query",
        json!({ "address": pg.url, "statement": "SELECT 1" }),
    );
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap();
    let port = fleet_test_support::postgres::cluster().port();
    assert!(
        error.contains(&format!(
            "address postgres://127.0.0.1:{port} is not permitted"
        )),
        "{error}"
    );
    assert!(!error.contains(&password), "{error}");
    // The api component may reach 127.0.0.1 on the cluster's port only.
    let elsewhere = pg.url.replace(&format!(":{port}/"), ":1/");
    let (status, body) = pg.call(
        "/api/pg/query",
        json!({ "address": elsewhere, "statement": "SELECT 1" }),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("postgres://127.0.0.1:1 is not permitted"),
        "{body}"
    );
}
