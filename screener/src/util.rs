//! Small shared helpers: clock, jitter and the secret wrapper.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A uniformly random number in [0, 1), good enough for jitter (std's per-instance random hash keys).
pub fn unit_random() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(now_ms() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// "Equal jitter" exponential backoff: half the capped delay fixed, half random, so pooled clients don't retry
/// in step.
pub fn jittered_backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    let half = exp / 2;
    half + half.mul_f64(unit_random())
}

/// A secret value whose Debug and Display print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(v: T) -> Self {
        Secret(v)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds() {
        for attempt in 0..20 {
            let d = jittered_backoff(attempt, Duration::from_secs(1), Duration::from_secs(60));
            let cap = Duration::from_secs(1)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(60));
            assert!(d >= cap / 2 && d <= cap, "{d:?} vs {cap:?}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?} {s}"), "*** ***");
    }
}
