//! JSON <-> `spin:postgres/postgres@4.0.0` values, so tests can round-trip every type through the real host.
//! A value is `{"type": "<wit case>", "value": ...}`: tuples are arrays (date `[y,m,d]`, time `[h,m,s,ns]`,
//! datetime `[y,m,d,h,m,s,ns]`), binary is a byte array, jsonb any JSON, ranges `{"lower": [v, "inclusive"] | null,
//! "upper": ...}`, interval `{"micros", "days", "months"}`, db-null has no value.

use serde::de::DeserializeOwned;
use serde_json::{json, Value as Json};
use spin_sdk::pg4::{Connection, DbDataType, DbValue, Interval, ParameterValue, RangeBoundKind};
use spin_sdk::variables;

type Bound<T> = Option<(T, RangeBoundKind)>;

pub fn run(body: &Json, execute: bool) -> Result<Json, String> {
    let address = match body["address"].as_str() {
        Some(address) => address.to_string(),
        None => variables::get("pg_url").map_err(|e| format!("pg_url variable: {e:?}"))?,
    };
    let statement = body["statement"].as_str().ok_or("missing statement")?;
    let params = body["params"]
        .as_array()
        .map(|params| params.iter().map(to_param).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    let connection = Connection::open(&address).map_err(|e| format!("open: {e:?}"))?;
    if execute {
        let affected = connection
            .execute(statement, &params)
            .map_err(|e| format!("execute: {e:?}"))?;
        return Ok(json!({ "affected": affected }));
    }
    let rows = connection
        .query(statement, &params)
        .map_err(|e| format!("query: {e:?}"))?;
    let columns: Vec<Json> = rows
        .columns
        .iter()
        .map(|c| json!({ "name": c.name, "type": data_type(&c.data_type) }))
        .collect();
    let rows: Vec<Json> = rows
        .rows
        .iter()
        .map(|row| Json::Array(row.iter().map(from_db_value).collect()))
        .collect();
    Ok(json!({ "columns": columns, "rows": rows }))
}

fn to_param(param: &Json) -> Result<ParameterValue, String> {
    let kind = param["type"]
        .as_str()
        .ok_or_else(|| format!("parameter without type: {param}"))?;
    let v = &param["value"];
    Ok(match kind {
        "boolean" => ParameterValue::Boolean(parse(v)?),
        "int8" => ParameterValue::Int8(parse(v)?),
        "int16" => ParameterValue::Int16(parse(v)?),
        "int32" => ParameterValue::Int32(parse(v)?),
        "int64" => ParameterValue::Int64(parse(v)?),
        "floating32" => ParameterValue::Floating32(parse(v)?),
        "floating64" => ParameterValue::Floating64(parse(v)?),
        "str" => ParameterValue::Str(parse(v)?),
        "binary" => ParameterValue::Binary(parse(v)?),
        "date" => ParameterValue::Date(parse(v)?),
        "time" => ParameterValue::Time(parse(v)?),
        "datetime" => ParameterValue::Datetime(parse(v)?),
        "timestamp" => ParameterValue::Timestamp(parse(v)?),
        "uuid" => ParameterValue::Uuid(parse(v)?),
        "jsonb" => ParameterValue::Jsonb(v.to_string().into_bytes()),
        "decimal" => ParameterValue::Decimal(parse(v)?),
        "range-int32" => ParameterValue::RangeInt32((bound(&v["lower"])?, bound(&v["upper"])?)),
        "range-int64" => ParameterValue::RangeInt64((bound(&v["lower"])?, bound(&v["upper"])?)),
        "range-decimal" => ParameterValue::RangeDecimal((bound(&v["lower"])?, bound(&v["upper"])?)),
        "array-int32" => ParameterValue::ArrayInt32(parse(v)?),
        "array-int64" => ParameterValue::ArrayInt64(parse(v)?),
        "array-decimal" => ParameterValue::ArrayDecimal(parse(v)?),
        "array-str" => ParameterValue::ArrayStr(parse(v)?),
        "interval" => ParameterValue::Interval(Interval {
            micros: parse(&v["micros"])?,
            days: parse(&v["days"])?,
            months: parse(&v["months"])?,
        }),
        "db-null" => ParameterValue::DbNull,
        other => return Err(format!("unknown parameter type {other}")),
    })
}

fn from_db_value(value: &DbValue) -> Json {
    let (kind, v) = match value {
        DbValue::Boolean(b) => ("boolean", json!(b)),
        DbValue::Int8(i) => ("int8", json!(i)),
        DbValue::Int16(i) => ("int16", json!(i)),
        DbValue::Int32(i) => ("int32", json!(i)),
        DbValue::Int64(i) => ("int64", json!(i)),
        DbValue::Floating32(f) => ("floating32", json!(f)),
        DbValue::Floating64(f) => ("floating64", json!(f)),
        DbValue::Str(s) => ("str", json!(s)),
        DbValue::Binary(b) => ("binary", json!(b)),
        DbValue::Date(d) => ("date", json!(d)),
        DbValue::Time(t) => ("time", json!(t)),
        DbValue::Datetime(d) => ("datetime", json!(d)),
        DbValue::Timestamp(t) => ("timestamp", json!(t)),
        DbValue::Uuid(u) => ("uuid", json!(u)),
        DbValue::Jsonb(bytes) => ("jsonb", serde_json::from_slice(bytes).unwrap_or(Json::Null)),
        DbValue::Decimal(d) => ("decimal", json!(d)),
        DbValue::RangeInt32((lo, hi)) => ("range-int32", range_json(lo, hi)),
        DbValue::RangeInt64((lo, hi)) => ("range-int64", range_json(lo, hi)),
        DbValue::RangeDecimal((lo, hi)) => ("range-decimal", range_json(lo, hi)),
        DbValue::ArrayInt32(a) => ("array-int32", json!(a)),
        DbValue::ArrayInt64(a) => ("array-int64", json!(a)),
        DbValue::ArrayDecimal(a) => ("array-decimal", json!(a)),
        DbValue::ArrayStr(a) => ("array-str", json!(a)),
        DbValue::Interval(i) => (
            "interval",
            json!({ "micros": i.micros, "days": i.days, "months": i.months }),
        ),
        DbValue::DbNull => ("db-null", Json::Null),
        DbValue::Unsupported(bytes) => ("unsupported", json!(bytes)),
    };
    json!({ "type": kind, "value": v })
}

fn data_type(data_type: &DbDataType) -> String {
    let name = match data_type {
        DbDataType::Boolean => "boolean",
        DbDataType::Int8 => "int8",
        DbDataType::Int16 => "int16",
        DbDataType::Int32 => "int32",
        DbDataType::Int64 => "int64",
        DbDataType::Floating32 => "floating32",
        DbDataType::Floating64 => "floating64",
        DbDataType::Str => "str",
        DbDataType::Binary => "binary",
        DbDataType::Date => "date",
        DbDataType::Time => "time",
        DbDataType::Datetime => "datetime",
        DbDataType::Timestamp => "timestamp",
        DbDataType::Uuid => "uuid",
        DbDataType::Jsonb => "jsonb",
        DbDataType::Decimal => "decimal",
        DbDataType::RangeInt32 => "range-int32",
        DbDataType::RangeInt64 => "range-int64",
        DbDataType::RangeDecimal => "range-decimal",
        DbDataType::ArrayInt32 => "array-int32",
        DbDataType::ArrayInt64 => "array-int64",
        DbDataType::ArrayDecimal => "array-decimal",
        DbDataType::ArrayStr => "array-str",
        DbDataType::Interval => "interval",
        DbDataType::Other(other) => return format!("other:{other}"),
    };
    name.to_string()
}

fn parse<T: DeserializeOwned>(value: &Json) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("bad value {value}: {e}"))
}

fn bound<T: DeserializeOwned>(value: &Json) -> Result<Bound<T>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let kind = match value[1].as_str() {
        Some("inclusive") => RangeBoundKind::Inclusive,
        Some("exclusive") => RangeBoundKind::Exclusive,
        _ => return Err(format!("bad range bound {value}")),
    };
    Ok(Some((parse(&value[0])?, kind)))
}

fn range_json<T: serde::Serialize>(lower: &Bound<T>, upper: &Bound<T>) -> Json {
    let side = |b: &Bound<T>| match b {
        None => Json::Null,
        Some((v, RangeBoundKind::Inclusive)) => json!([v, "inclusive"]),
        Some((v, RangeBoundKind::Exclusive)) => json!([v, "exclusive"]),
    };
    json!({ "lower": side(lower), "upper": side(upper) })
}
