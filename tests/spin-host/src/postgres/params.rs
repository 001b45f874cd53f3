//! `parameter-value` -> tokio-postgres parameters.

use super::codecs::{Bound, PgInterval, PgRange, SqlNull, UtcTimestamp};
use crate::bindings::spin::postgres4_0_0::postgres::{ParameterValue, RangeBoundKind};
use chrono::{DateTime, NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use std::str::FromStr;
use tokio_postgres::types::ToSql;

pub type Param = Box<dyn ToSql + Sync + Send>;

/// Converts one parameter; the error names the parameter's position and what was wrong, never its value.
pub fn to_param(index: usize, value: ParameterValue) -> Result<Param, String> {
    let bad = |what: &str| format!("parameter ${}: invalid {what}", index + 1);
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(v),
        ParameterValue::Int8(v) => Box::new(v),
        ParameterValue::Int16(v) => Box::new(v),
        ParameterValue::Int32(v) => Box::new(v),
        ParameterValue::Int64(v) => Box::new(v),
        ParameterValue::Floating32(v) => Box::new(v),
        ParameterValue::Floating64(v) => Box::new(v),
        ParameterValue::Str(v) => Box::new(v),
        ParameterValue::Binary(v) => Box::new(v),
        ParameterValue::Date((y, m, d)) => {
            Box::new(NaiveDate::from_ymd_opt(y, m.into(), d.into()).ok_or_else(|| bad("date"))?)
        }
        ParameterValue::Time((h, m, s, ns)) => Box::new(
            NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns)
                .ok_or_else(|| bad("time"))?,
        ),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            let date =
                NaiveDate::from_ymd_opt(y, mo.into(), d.into()).ok_or_else(|| bad("datetime"))?;
            let time = NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns)
                .ok_or_else(|| bad("datetime"))?;
            Box::new(UtcTimestamp(date.and_time(time)))
        }
        ParameterValue::Timestamp(seconds) => {
            let instant = DateTime::from_timestamp(seconds, 0).ok_or_else(|| bad("timestamp"))?;
            Box::new(UtcTimestamp(instant.naive_utc()))
        }
        ParameterValue::Uuid(v) => Box::new(uuid::Uuid::parse_str(&v).map_err(|_| bad("uuid"))?),
        ParameterValue::Jsonb(bytes) => Box::new(
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|_| bad("jsonb (not JSON)"))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal(&v).ok_or_else(|| bad("decimal"))?),
        ParameterValue::RangeInt32((lower, upper)) => Box::new(PgRange {
            lower: bound(lower),
            upper: bound(upper),
        }),
        ParameterValue::RangeInt64((lower, upper)) => Box::new(PgRange {
            lower: bound(lower),
            upper: bound(upper),
        }),
        ParameterValue::RangeDecimal((lower, upper)) => {
            let convert = |b: Option<(String, RangeBoundKind)>| -> Result<Bound<Decimal>, String> {
                b.map(|(v, kind)| {
                    Ok((
                        decimal(&v).ok_or_else(|| bad("range-decimal bound"))?,
                        inclusive(kind),
                    ))
                })
                .transpose()
            };
            Box::new(PgRange {
                lower: convert(lower)?,
                upper: convert(upper)?,
            })
        }
        ParameterValue::ArrayInt32(v) => Box::new(v),
        ParameterValue::ArrayInt64(v) => Box::new(v),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| {
                    d.as_deref()
                        .map(|d| decimal(d).ok_or_else(|| bad("array-decimal element")))
                        .transpose()
                })
                .collect::<Result<Vec<Option<Decimal>>, _>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v),
        ParameterValue::Interval(i) => Box::new(PgInterval {
            micros: i.micros,
            days: i.days,
            months: i.months,
        }),
        ParameterValue::DbNull => Box::new(SqlNull),
    })
}

fn decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

fn inclusive(kind: RangeBoundKind) -> bool {
    matches!(kind, RangeBoundKind::Inclusive)
}

fn bound<T>(b: Option<(T, RangeBoundKind)>) -> Bound<T> {
    b.map(|(v, kind)| (v, inclusive(kind)))
}
