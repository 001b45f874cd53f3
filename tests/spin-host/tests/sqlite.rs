//! SQLite through spin:sqlite/sqlite@3.0.0, backed by a real file.

mod common;

use common::{post_json, TestApp};
use serde_json::json;

#[test]
fn every_value_kind_round_trips_and_lands_in_the_configured_file() {
    let app = TestApp::new();
    let (host, client) = app.start();
    let sql = |statement: &str, params: serde_json::Value| {
        post_json(
            &client,
            &host.url("/api/sqlite"),
            &json!({ "statement": statement, "params": params }),
        )
    };
    let (status, body) = sql(
        "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)",
        json!([]),
    );
    assert_eq!(status, 200, "{body}");
    let params = json!([
        { "integer": -9007199254740993i64 }, { "real": 2.5 }, { "text": "héllo" }, { "blob": [0, 1, 255] }, { "null": null }
    ]);
    let (status, body) = sql("INSERT INTO t VALUES (?, ?, ?, ?, ?)", params.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changes"], 1);
    assert_eq!(body["last_insert_rowid"], 1);

    let (status, body) = sql(
        "SELECT i, r, s, b, n FROM t WHERE s = ?",
        json!([{ "text": "héllo" }]),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["columns"], json!(["i", "r", "s", "b", "n"]));
    assert_eq!(body["rows"], json!([params]));

    // The row is really in the configured file.
    let file = rusqlite::Connection::open(app.sqlite_path()).unwrap();
    let text: String = file
        .query_row("SELECT s FROM t", [], |row| row.get(0))
        .unwrap();
    assert_eq!(text, "héllo");

    // SQL errors come back as errors, not traps.
    let (status, body) = sql("SELECT * FROM missing_table", json!([]));
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no such table"),
        "{body}"
    );
}

#[test]
fn components_that_do_not_list_the_database_are_denied() {
    let app = TestApp::new();
    let (host, client) = app.start();
    let (status, body) = post_json(
        &client,
        &host.url("/sqlite"),
        &json!({ "statement": "SELECT 1" }),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("AccessDenied"),
        "{body}"
    );
    // The api component lists only "default".
    let (status, body) = post_json(
        &client,
        &host.url("/api/sqlite"),
        &json!({ "database": "other", "statement": "SELECT 1" }),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("AccessDenied"),
        "{body}"
    );
}
