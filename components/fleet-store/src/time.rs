//! Checked time arithmetic: the one way Fleet adds a `std::time::Duration` to (or subtracts it from) an
//! instant. Durations come from Fly answers (`Retry-After`), retry policies (`Duration::MAX` for "never"),
//! configuration and stored values; none of them may panic the component. Results saturate at
//! [`latest`] / [`earliest`], instants both dialects can store (four-digit years).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// 9999-12-31T23:59:59.999Z: the latest instant Fleet computes or stores.
pub fn latest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// 0001-01-01T00:00:00Z: the earliest instant Fleet computes or stores.
pub fn earliest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `at + wait`, saturating at [`latest`] (e.g. `Duration::MAX` means "never", not a panic).
pub fn after(at: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(wait)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .map_or_else(latest, |t| t.min(latest()))
}

/// `at - span`, saturating at [`earliest`].
pub fn before(at: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(span)
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
        .map_or_else(earliest, |t| t.max(earliest()))
}

/// Whether at least `span` has passed from `since` to `now` (never true for a `since` in the future).
pub fn elapsed_at_least(since: DateTime<Utc>, now: DateTime<Utc>, span: Duration) -> bool {
    after(since, span) <= now && since <= now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{format_time, parse_time};

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn adding_never_panics_and_saturates_at_a_storable_instant() {
        let now = t("2026-12-06T00:00:00.000Z");
        assert_eq!(
            after(now, Duration::from_secs(90)),
            t("2026-12-06T00:01:30.000Z")
        );
        for huge in [
            Duration::MAX,
            Duration::from_secs(u64::MAX / 2),
            Duration::from_secs(400_000 * 365 * 86_400),
        ] {
            assert_eq!(after(now, huge), latest());
            assert_eq!(after(DateTime::<Utc>::MAX_UTC, huge), latest());
            assert_eq!(before(now, huge), earliest());
            assert_eq!(before(DateTime::<Utc>::MIN_UTC, huge), earliest());
        }
        assert_eq!(after(DateTime::<Utc>::MAX_UTC, Duration::ZERO), latest());
        // Both dialects store it (four-digit year, millisecond precision).
        assert_eq!(format_time(latest()), "9999-12-31T23:59:59.999Z");
        assert_eq!(parse_time(&format_time(latest())).unwrap(), latest());
    }

    #[test]
    fn elapsed_compares_without_overflow() {
        let now = t("2026-12-06T00:00:00.000Z");
        assert!(elapsed_at_least(
            before(now, Duration::from_secs(600)),
            now,
            Duration::from_secs(600)
        ));
        assert!(!elapsed_at_least(now, now, Duration::MAX));
        assert!(!elapsed_at_least(
            DateTime::<Utc>::MIN_UTC,
            now,
            Duration::MAX
        ));
        assert!(!elapsed_at_least(
            after(now, Duration::from_secs(1)),
            now,
            Duration::ZERO
        ));
    }
}
