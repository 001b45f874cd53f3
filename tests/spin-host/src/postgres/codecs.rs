//! Binary codecs for the Postgres types the WIT needs but tokio-postgres does not map directly: ranges, intervals,
//! typed NULLs, timestamps with or without time zone, and raw bytes of unsupported types.

use bytes::{BufMut, BytesMut};
use chrono::NaiveDateTime;
use std::error::Error;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};

type BoxError = Box<dyn Error + Sync + Send>;

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

/// A range bound: value and whether it is inclusive. `None` = unbounded.
pub type Bound<T> = Option<(T, bool)>;

/// int4range / int8range / numrange. An empty range reads as `(0, 0)` exclusive on both sides, which is empty too.
#[derive(Debug, Clone, PartialEq)]
pub struct PgRange<T> {
    pub lower: Bound<T>,
    pub upper: Bound<T>,
}

fn range_element(ty: &Type) -> Option<&Type> {
    match ty.kind() {
        Kind::Range(inner) => Some(inner),
        _ => None,
    }
}

impl<T: ToSql> ToSql for PgRange<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let element = range_element(ty).ok_or("not a range type")?;
        let mut flags = 0;
        flags |= match &self.lower {
            None => RANGE_LB_INF,
            Some((_, true)) => RANGE_LB_INC,
            Some((_, false)) => 0,
        };
        flags |= match &self.upper {
            None => RANGE_UB_INF,
            Some((_, true)) => RANGE_UB_INC,
            Some((_, false)) => 0,
        };
        out.put_u8(flags);
        for (value, _) in [&self.lower, &self.upper].into_iter().flatten() {
            let length_at = out.len();
            out.put_i32(0);
            if let IsNull::Yes = value.to_sql(element, out)? {
                return Err("range bounds cannot be NULL".into());
            }
            let length = i32::try_from(out.len() - length_at - 4)?;
            out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        range_element(ty).is_some_and(T::accepts)
    }

    to_sql_checked!();
}

impl<'a, T: FromSql<'a> + Default> FromSql<'a> for PgRange<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let element = range_element(ty).ok_or("not a range type")?;
        let (&flags, mut rest) = raw.split_first().ok_or("empty range value")?;
        if flags & RANGE_EMPTY != 0 {
            return Ok(PgRange {
                lower: Some((T::default(), false)),
                upper: Some((T::default(), false)),
            });
        }
        let mut read_bound = |infinite: u8, inclusive: u8| -> Result<Bound<T>, BoxError> {
            if flags & infinite != 0 {
                return Ok(None);
            }
            let (length, after) = rest.split_at_checked(4).ok_or("truncated range bound")?;
            let length = usize::try_from(i32::from_be_bytes(length.try_into()?))?;
            let (value, after) = after
                .split_at_checked(length)
                .ok_or("truncated range bound")?;
            rest = after;
            Ok(Some((T::from_sql(element, value)?, flags & inclusive != 0)))
        };
        let lower = read_bound(RANGE_LB_INF, RANGE_LB_INC)?;
        let upper = read_bound(RANGE_UB_INF, RANGE_UB_INC)?;
        Ok(PgRange { lower, upper })
    }

    fn accepts(ty: &Type) -> bool {
        range_element(ty).is_some_and(T::accepts)
    }
}

/// INTERVAL: microseconds, days, months (the wire order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgInterval {
    pub micros: i64,
    pub days: i32,
    pub months: i32,
}

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_i64(self.micros);
        out.put_i32(self.days);
        out.put_i32(self.months);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let raw: [u8; 16] = raw.try_into().map_err(|_| "interval must be 16 bytes")?;
        Ok(PgInterval {
            micros: i64::from_be_bytes(raw[0..8].try_into()?),
            days: i32::from_be_bytes(raw[8..12].try_into()?),
            months: i32::from_be_bytes(raw[12..16].try_into()?),
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

/// A NULL parameter for a column of any type.
#[derive(Debug)]
pub struct SqlNull;

impl ToSql for SqlNull {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// TIMESTAMP and TIMESTAMPTZ share one wire format (microseconds since 2000-01-01 UTC); the WIT treats both as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTimestamp(pub NaiveDateTime);

impl ToSql for UtcTimestamp {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(&Type::TIMESTAMP, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for UtcTimestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(UtcTimestamp(NaiveDateTime::from_sql(
            &Type::TIMESTAMP,
            raw,
        )?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ
    }
}

/// The raw binary value of a column whose type the WIT cannot express.
#[derive(Debug)]
pub struct RawValue(pub Vec<u8>);

impl<'a> FromSql<'a> for RawValue {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(RawValue(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_round_trips_through_the_wire_format() {
        let range = PgRange {
            lower: Some((3i32, true)),
            upper: None,
        };
        let mut out = BytesMut::new();
        range.to_sql(&Type::INT4_RANGE, &mut out).unwrap();
        assert_eq!(out[0], RANGE_LB_INC | RANGE_UB_INF);
        assert_eq!(
            PgRange::<i32>::from_sql(&Type::INT4_RANGE, &out).unwrap(),
            range
        );
        assert!(<PgRange<i32> as ToSql>::accepts(&Type::INT4_RANGE));
        assert!(!<PgRange<i32> as FromSql>::accepts(&Type::INT8_RANGE));
    }

    #[test]
    fn interval_round_trips() {
        let interval = PgInterval {
            micros: -5,
            days: 3,
            months: 14,
        };
        let mut out = BytesMut::new();
        interval.to_sql(&Type::INTERVAL, &mut out).unwrap();
        assert_eq!(
            PgInterval::from_sql(&Type::INTERVAL, &out).unwrap(),
            interval
        );
    }
}
