//! The retry policy: a pure function of (attempt, error class, random draw). Callers sleep.

use crate::error::{ErrorClass, FlyError};
use std::future::Future;
use std::time::Duration;

/// Exponential backoff with full jitter, a cap, an attempt limit, and a ceiling on how long a
/// `Retry-After` may ask us to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    /// Total attempts including the first.
    pub max_attempts: u32,
    /// A `Retry-After` longer than this gives up instead of blocking.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            max_attempts: 5,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The largest delay [`next_retry`] can return.
    pub fn max_delay(&self) -> Duration {
        self.cap.max(self.max_retry_after)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sleep this long, then repeat the call.
    Retry(Duration),
    /// The call may have taken effect: sleep, check (e.g. look the machine up by launch id), and only
    /// repeat the call if the check finds nothing.
    CheckThenRetry(Duration),
    /// Do not retry.
    GiveUp,
}

/// Decides the next step after attempt number `attempt` (1 = the first call) failed with `class`.
/// `unit` is a uniform random draw in `[0, 1)` (see [`Jitter`]).
pub fn next_retry(policy: &RetryPolicy, attempt: u32, class: &ErrorClass, unit: f64) -> Decision {
    if attempt >= policy.max_attempts {
        return Decision::GiveUp;
    }
    let jittered = full_jitter(policy, attempt, unit);
    match class {
        ErrorClass::Transient => Decision::Retry(jittered),
        ErrorClass::RateLimited {
            retry_after: Some(wait),
        } if *wait > policy.max_retry_after => Decision::GiveUp,
        ErrorClass::RateLimited { retry_after } => {
            Decision::Retry(jittered.max(retry_after.unwrap_or_default()))
        }
        ErrorClass::Ambiguous => Decision::CheckThenRetry(jittered),
        ErrorClass::NameTaken
        | ErrorClass::NotFound
        | ErrorClass::Forbidden
        | ErrorClass::Unauthorized
        | ErrorClass::InsufficientCapacity
        | ErrorClass::Invalid => Decision::GiveUp,
    }
}

/// Uniform in `[0, min(cap, base * 2^(attempt-1))]`.
fn full_jitter(policy: &RetryPolicy, attempt: u32, unit: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    let ceiling = policy
        .base
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(policy.cap)
        .min(policy.cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// A tiny seeded generator (SplitMix64) for jitter draws; no `rand` needed in wasm.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Self {
        Jitter(seed)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `call` until it succeeds or the policy says stop, sleeping with `sleep` between attempts.
/// Only `Decision::Retry` repeats the call: an `Ambiguous` failure is returned to the caller, who must
/// check whether it took effect (see [`crate::launch::create_machine_idempotent`]).
pub async fn with_retries<T, Call, CallFut, Sleep, SleepFut>(
    policy: &RetryPolicy,
    jitter: &mut Jitter,
    sleep: Sleep,
    mut call: Call,
) -> Result<T, FlyError>
where
    Call: FnMut() -> CallFut,
    CallFut: Future<Output = Result<T, FlyError>>,
    Sleep: Fn(Duration) -> SleepFut,
    SleepFut: Future<Output = ()>,
{
    let mut attempt = 1;
    loop {
        let err = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match next_retry(policy, attempt, &err.class, jitter.next_unit()) {
            Decision::Retry(d) => sleep(d).await,
            Decision::CheckThenRetry(_) | Decision::GiveUp => return Err(err),
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        let p = RetryPolicy::default();
        assert_eq!(
            next_retry(&p, 1, &ErrorClass::Transient, 0.999_999),
            Decision::Retry(Duration::from_millis(200).mul_f64(0.999_999))
        );
        let Decision::Retry(d) = next_retry(&p, 4, &ErrorClass::Transient, 0.999_999) else {
            panic!()
        };
        assert!(d > Duration::from_millis(1500) && d <= Duration::from_millis(1600));
        let big = RetryPolicy {
            max_attempts: 100,
            ..p
        };
        let Decision::Retry(d) = next_retry(&big, 60, &ErrorClass::Transient, 0.999_999) else {
            panic!()
        };
        assert!(d <= big.cap);
    }

    #[test]
    fn jitter_is_reproducible_and_in_range() {
        let mut a = Jitter::seeded(7);
        let mut b = Jitter::seeded(7);
        for _ in 0..1000 {
            let x = a.next_unit();
            assert_eq!(x, b.next_unit());
            assert!((0.0..1.0).contains(&x));
        }
    }
}
