//! tokio-postgres rows -> `db-value`s, chosen by column type. Types the WIT cannot express come back as
//! `unsupported` (raw bytes) with data type `other(<type name>)`: never a trap.

use super::codecs::{PgInterval, PgRange, RawValue, UtcTimestamp};
use crate::bindings::spin::postgres4_0_0::postgres::{
    DbDataType, DbValue, Interval, RangeBoundKind,
};
use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

pub fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::CHAR => DbDataType::Int8,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::UUID => DbDataType::Uuid,
        Type::JSON | Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(ty.name().to_string()),
    }
}

/// Converts cell `index` of `row`; the error names the column, never the value.
pub fn db_value(row: &Row, index: usize) -> Result<DbValue, String> {
    let column = &row.columns()[index];
    let ty = column.type_();
    let fail =
        |e: tokio_postgres::Error| format!("column `{}` ({}): {e}", column.name(), ty.name());
    Ok(match data_type(ty) {
        DbDataType::Boolean => get(row, index, DbValue::Boolean).map_err(fail)?,
        DbDataType::Int8 => get(row, index, DbValue::Int8).map_err(fail)?,
        DbDataType::Int16 => get(row, index, DbValue::Int16).map_err(fail)?,
        DbDataType::Int32 => get(row, index, DbValue::Int32).map_err(fail)?,
        DbDataType::Int64 => get(row, index, DbValue::Int64).map_err(fail)?,
        DbDataType::Floating32 => get(row, index, DbValue::Floating32).map_err(fail)?,
        DbDataType::Floating64 => get(row, index, DbValue::Floating64).map_err(fail)?,
        DbDataType::Str => get(row, index, DbValue::Str).map_err(fail)?,
        DbDataType::Binary => get(row, index, DbValue::Binary).map_err(fail)?,
        DbDataType::Date => get(row, index, |d: NaiveDate| {
            DbValue::Date((d.year(), d.month() as u8, d.day() as u8))
        })
        .map_err(fail)?,
        DbDataType::Time => {
            get(row, index, |t: NaiveTime| DbValue::Time(time_parts(t))).map_err(fail)?
        }
        DbDataType::Datetime | DbDataType::Timestamp => {
            get(row, index, |UtcTimestamp(dt): UtcTimestamp| {
                let (h, mi, s, ns) = time_parts(dt.time());
                DbValue::Datetime((dt.year(), dt.month() as u8, dt.day() as u8, h, mi, s, ns))
            })
            .map_err(fail)?
        }
        DbDataType::Uuid => {
            get(row, index, |u: uuid::Uuid| DbValue::Uuid(u.to_string())).map_err(fail)?
        }
        DbDataType::Jsonb => get(row, index, |j: serde_json::Value| {
            DbValue::Jsonb(j.to_string().into_bytes())
        })
        .map_err(fail)?,
        DbDataType::Decimal => {
            get(row, index, |d: Decimal| DbValue::Decimal(d.to_string())).map_err(fail)?
        }
        DbDataType::RangeInt32 => get(row, index, |r: PgRange<i32>| {
            DbValue::RangeInt32((wit_bound(r.lower), wit_bound(r.upper)))
        })
        .map_err(fail)?,
        DbDataType::RangeInt64 => get(row, index, |r: PgRange<i64>| {
            DbValue::RangeInt64((wit_bound(r.lower), wit_bound(r.upper)))
        })
        .map_err(fail)?,
        DbDataType::RangeDecimal => get(row, index, |r: PgRange<Decimal>| {
            let text =
                |b: Option<(Decimal, bool)>| b.map(|(d, inclusive)| (d.to_string(), inclusive));
            DbValue::RangeDecimal((wit_bound(text(r.lower)), wit_bound(text(r.upper))))
        })
        .map_err(fail)?,
        DbDataType::ArrayInt32 => get(row, index, DbValue::ArrayInt32).map_err(fail)?,
        DbDataType::ArrayInt64 => get(row, index, DbValue::ArrayInt64).map_err(fail)?,
        DbDataType::ArrayDecimal => get(row, index, |a: Vec<Option<Decimal>>| {
            DbValue::ArrayDecimal(a.into_iter().map(|d| d.map(|d| d.to_string())).collect())
        })
        .map_err(fail)?,
        DbDataType::ArrayStr => get(row, index, DbValue::ArrayStr).map_err(fail)?,
        DbDataType::Interval => get(row, index, |i: PgInterval| {
            DbValue::Interval(Interval {
                micros: i.micros,
                days: i.days,
                months: i.months,
            })
        })
        .map_err(fail)?,
        DbDataType::Other(_) => get(row, index, |RawValue(bytes): RawValue| {
            DbValue::Unsupported(bytes)
        })
        .map_err(fail)?,
    })
}

/// Reads a nullable cell: NULL becomes `db-null`.
fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    index: usize,
    wrap: impl FnOnce(T) -> DbValue,
) -> Result<DbValue, tokio_postgres::Error> {
    Ok(row
        .try_get::<_, Option<T>>(index)?
        .map(wrap)
        .unwrap_or(DbValue::DbNull))
}

fn time_parts(t: NaiveTime) -> (u8, u8, u8, u32) {
    (
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
        t.nanosecond(),
    )
}

fn wit_bound<T>(b: Option<(T, bool)>) -> Option<(T, RangeBoundKind)> {
    b.map(|(v, inclusive)| {
        (
            v,
            if inclusive {
                RangeBoundKind::Inclusive
            } else {
                RangeBoundKind::Exclusive
            },
        )
    })
}
