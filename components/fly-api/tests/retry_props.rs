//! Property tests for the pure retry policy.

use fly_api::{next_retry, Decision, ErrorClass, RetryPolicy};
use proptest::prelude::*;
use std::time::Duration;

fn policy() -> impl Strategy<Value = RetryPolicy> {
    (1u64..2_000, 1u64..60_000, 1u32..12, 0u64..120_000).prop_map(
        |(base, cap, attempts, max_ra)| RetryPolicy {
            base: Duration::from_millis(base),
            cap: Duration::from_millis(cap),
            max_attempts: attempts,
            max_retry_after: Duration::from_millis(max_ra),
        },
    )
}

fn class() -> impl Strategy<Value = ErrorClass> {
    prop_oneof![
        Just(ErrorClass::NameTaken),
        Just(ErrorClass::NotFound),
        Just(ErrorClass::Forbidden),
        Just(ErrorClass::Unauthorized),
        proptest::option::of(0u64..200_000).prop_map(|ms| ErrorClass::RateLimited {
            retry_after: ms.map(Duration::from_millis)
        }),
        Just(ErrorClass::Transient),
        Just(ErrorClass::Ambiguous),
        Just(ErrorClass::InsufficientCapacity),
        Just(ErrorClass::Invalid),
    ]
}

proptest! {
    #[test]
    fn delays_are_bounded(p in policy(), attempt in 1u32..100, c in class(), unit in 0.0f64..1.0) {
        match next_retry(&p, attempt, &c, unit) {
            Decision::Retry(d) | Decision::CheckThenRetry(d) => prop_assert!(d <= p.max_delay()),
            Decision::GiveUp => {}
        }
    }

    #[test]
    fn backoff_without_retry_after_stays_under_cap(p in policy(), attempt in 1u32..100, unit in 0.0f64..1.0) {
        if let Decision::Retry(d) = next_retry(&p, attempt, &ErrorClass::Transient, unit) {
            prop_assert!(d <= p.cap);
            prop_assert!(d <= p.base.saturating_mul(1 << (attempt - 1).min(31)));
        }
    }

    #[test]
    fn retry_after_is_respected(p in policy(), attempt in 1u32..100, ra in 0u64..200_000, unit in 0.0f64..1.0) {
        let wait = Duration::from_millis(ra);
        let c = ErrorClass::RateLimited { retry_after: Some(wait) };
        match next_retry(&p, attempt, &c, unit) {
            Decision::Retry(d) => prop_assert!(d >= wait),
            Decision::GiveUp => prop_assert!(attempt >= p.max_attempts || wait > p.max_retry_after),
            Decision::CheckThenRetry(_) => prop_assert!(false, "429 is never ambiguous"),
        }
    }

    #[test]
    fn no_retry_on_non_retryable(p in policy(), attempt in 1u32..100, unit in 0.0f64..1.0, pick in 0usize..6) {
        let c = [ErrorClass::NameTaken, ErrorClass::NotFound, ErrorClass::Forbidden,
                 ErrorClass::Unauthorized, ErrorClass::InsufficientCapacity, ErrorClass::Invalid][pick].clone();
        prop_assert_eq!(next_retry(&p, attempt, &c, unit), Decision::GiveUp);
    }

    #[test]
    fn ambiguous_is_never_blindly_retried(p in policy(), attempt in 1u32..100, unit in 0.0f64..1.0) {
        prop_assert!(!matches!(next_retry(&p, attempt, &ErrorClass::Ambiguous, unit), Decision::Retry(_)));
    }

    #[test]
    fn attempt_limit_holds(p in policy(), extra in 0u32..50, c in class(), unit in 0.0f64..1.0) {
        prop_assert_eq!(next_retry(&p, p.max_attempts + extra, &c, unit), Decision::GiveUp);
    }
}
