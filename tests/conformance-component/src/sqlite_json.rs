//! JSON <-> `spin:sqlite/sqlite@3.0.0` values. Parameters are `{"integer": 1}`, `{"real": 1.5}`, `{"text": "x"}`,
//! `{"blob": [1, 2]}` or `{"null": null}`; result cells use the same shape.

use serde_json::{json, Value as Json};
use spin_sdk::sqlite3::{Connection, Value};

pub fn run(body: &Json) -> Result<Json, String> {
    let database = body["database"].as_str().unwrap_or("default");
    let statement = body["statement"].as_str().ok_or("missing statement")?;
    let params = body["params"]
        .as_array()
        .map(|params| params.iter().map(to_value).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    let connection = Connection::open(database).map_err(|e| format!("open: {e:?}"))?;
    let result = connection
        .execute(statement, &params)
        .map_err(|e| format!("execute: {e:?}"))?;
    let rows: Vec<Json> = result
        .rows
        .iter()
        .map(|row| Json::Array(row.values.iter().map(from_value).collect()))
        .collect();
    Ok(json!({
        "columns": result.columns,
        "rows": rows,
        "last_insert_rowid": connection.last_insert_rowid(),
        "changes": connection.changes(),
    }))
}

fn to_value(param: &Json) -> Result<Value, String> {
    let (kind, value) = param
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("bad parameter {param}"))?;
    let bad = || format!("bad {kind} parameter {value}");
    Ok(match kind.as_str() {
        "integer" => Value::Integer(value.as_i64().ok_or_else(bad)?),
        "real" => Value::Real(value.as_f64().ok_or_else(bad)?),
        "text" => Value::Text(value.as_str().ok_or_else(bad)?.to_string()),
        "blob" => Value::Blob(serde_json::from_value(value.clone()).map_err(|_| bad())?),
        "null" => Value::Null,
        _ => return Err(format!("unknown sqlite value kind {kind}")),
    })
}

fn from_value(value: &Value) -> Json {
    match value {
        Value::Integer(i) => json!({ "integer": i }),
        Value::Real(r) => json!({ "real": r }),
        Value::Text(t) => json!({ "text": t }),
        Value::Blob(b) => json!({ "blob": b }),
        Value::Null => json!({ "null": null }),
    }
}
