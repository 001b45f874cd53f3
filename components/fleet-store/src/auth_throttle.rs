//! Failed password attempts, counted per fixed window per source and globally in the database, so every
//! instance of Fleet refuses the same guesser. A source or the whole service over its limit is refused (even
//! with the right password) until the window ends.

use crate::error::StoreError;
use crate::sql::SqlConnection;
use crate::store::Store;

/// The scope that counts every source's failures.
pub const GLOBAL_SCOPE: &str = "global";

/// How many failures a window allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleLimits {
    pub per_source: i64,
    pub global: i64,
    pub window_secs: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_source: 10,
            global: 100,
            window_secs: 300,
        }
    }
}

impl ThrottleLimits {
    fn window_start(&self, now: i64) -> i64 {
        let window = self.window_secs.max(1);
        now.div_euclid(window) * window
    }

    /// Seconds from `now` to the end of its window (at least 1).
    pub fn retry_after(&self, now: i64) -> i64 {
        (self.window_start(now) + self.window_secs.max(1) - now).max(1)
    }
}

fn source_scope(source: &str) -> String {
    format!("source:{source}")
}

impl<C: SqlConnection> Store<C> {
    /// `Some(seconds to wait)` when `source` or the service as a whole has used up this window's failures.
    pub fn auth_throttled(
        &mut self,
        source: &str,
        now: i64,
        limits: ThrottleLimits,
    ) -> Result<Option<i64>, StoreError> {
        let rows = self.query(
            "SELECT scope, failures FROM fleet_auth_failures \
             WHERE window_start = {int:1} AND scope IN ({text:2}, {text:3})",
            &[
                limits.window_start(now).into(),
                source_scope(source).into(),
                GLOBAL_SCOPE.into(),
            ],
        )?;
        for row in rows {
            let limit = if row.text("scope")? == GLOBAL_SCOPE {
                limits.global
            } else {
                limits.per_source
            };
            if row.int("failures")? >= limit {
                return Ok(Some(limits.retry_after(now)));
            }
        }
        Ok(None)
    }

    /// Counts one failed attempt from `source` (and globally), and forgets past windows.
    pub fn record_auth_failure(
        &mut self,
        source: &str,
        now: i64,
        limits: ThrottleLimits,
    ) -> Result<(), StoreError> {
        let window = limits.window_start(now);
        self.execute(
            "DELETE FROM fleet_auth_failures WHERE window_start < {int:1}",
            &[window.into()],
        )?;
        for scope in [source_scope(source), GLOBAL_SCOPE.to_string()] {
            self.execute(
                "INSERT INTO fleet_auth_failures (scope, window_start, failures) VALUES ({text:1}, {int:2}, 1) \
                 ON CONFLICT (scope, window_start) DO UPDATE \
                 SET failures = fleet_auth_failures.failures + 1",
                &[scope.into(), window.into()],
            )?;
        }
        Ok(())
    }
}
