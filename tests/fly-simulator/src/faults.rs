//! Fault injection: seeded random failures, scripted one-off failures, latency, unhealthy apps,
//! images that fail to boot and regions without capacity.

use crate::rng::SimRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// When a failure strikes relative to the request's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 503 before the effect (nothing changed).
    Before503,
    /// 429 `rate limit exceeded` with `Retry-After: 1` before the effect (nothing changed), whatever the
    /// buckets say: a scripted throttle on one exact call (Fly answers 429 per action — reference §3).
    Before429,
    /// The effect happens, then the reply is 408.
    After408,
    /// The effect happens, then the reply is 502.
    After502,
    /// The effect happens, then the connection is dropped without any answer (no status line): the
    /// caller cannot tell whether anything changed. flyctl calls a failed non-idempotent call like
    /// create-machine "ambiguous — the upstream side-effect may or may not have happened" and counts
    /// connection resets and EOF as transient (reference §3, flyctl `internal/flapsutil/retry.go`).
    AfterDrop,
}

/// A deterministic fault for the next `count` requests matching `method` and a path containing
/// `path_contains` (path as sent, e.g. `/v1/apps/x/machines`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptedFault {
    pub method: String,
    pub path_contains: String,
    /// When true, the path must end with `path_contains` (to tell `/machines` from `/machines/{id}`).
    #[serde(default)]
    pub path_ends: bool,
    pub kind: FaultKind,
    pub count: u32,
}

/// Runtime-adjustable fault settings (`PUT /__sim/faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultSettings {
    pub seed: u64,
    /// Probability that a mutating request fails with 503 before its effect.
    pub fail_before_rate: f64,
    /// Probability that a mutating request takes effect and then answers 408 or 502.
    pub ambiguous_after_rate: f64,
    /// Probability that a mutating request takes effect and then its connection drops with no answer
    /// ([`FaultKind::AfterDrop`]). Drawn after the two rates above, so adding it keeps their seeds' plans.
    pub drop_after_rate: f64,
    /// Added latency per API request, plus a uniform jitter in `[0, latency_jitter_ms]`.
    pub latency_ms: u64,
    pub latency_jitter_ms: u64,
    pub scripted: Vec<ScriptedFault>,
    /// Apps whose machines' checks are all critical.
    pub unhealthy_apps: BTreeSet<String>,
    /// Images whose machines go to `failed` instead of `started`.
    pub failing_images: BTreeSet<String>,
    /// Regions that answer `insufficient_capacity` on machine create.
    pub full_regions: BTreeSet<String>,
}

/// The fault settings plus the generator seeded from them.
#[derive(Debug)]
pub struct FaultState {
    pub settings: FaultSettings,
    rng: SimRng,
}

impl FaultState {
    pub fn new(settings: FaultSettings) -> Self {
        let rng = SimRng::seeded(settings.seed);
        FaultState { settings, rng }
    }

    /// The latency to add to this request.
    pub fn latency(&mut self) -> Duration {
        let s = &self.settings;
        if s.latency_ms == 0 && s.latency_jitter_ms == 0 {
            return Duration::ZERO;
        }
        let jitter = (self.rng.unit() * (s.latency_jitter_ms as f64 + 1.0)) as u64;
        Duration::from_millis(s.latency_ms + jitter.min(s.latency_jitter_ms))
    }

    /// Whether (and how) this request fails. Only mutating requests fail at random; scripted faults
    /// match any method.
    pub fn decide(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        if let Some(f) = self.settings.scripted.iter_mut().find(|f| {
            f.count > 0
                && f.method.eq_ignore_ascii_case(method)
                && if f.path_ends {
                    path.ends_with(&f.path_contains)
                } else {
                    path.contains(&f.path_contains)
                }
        }) {
            f.count -= 1;
            return Some(f.kind);
        }
        if method == "GET" {
            return None;
        }
        let (before, after, drop) = (
            self.settings.fail_before_rate,
            self.settings.ambiguous_after_rate,
            self.settings.drop_after_rate,
        );
        if before <= 0.0 && after <= 0.0 && drop <= 0.0 {
            return None;
        }
        let draw = self.rng.unit();
        if draw < before {
            Some(FaultKind::Before503)
        } else if draw < before + after {
            Some(if self.rng.unit() < 0.5 {
                FaultKind::After408
            } else {
                FaultKind::After502
            })
        } else if draw < before + after + drop {
            Some(FaultKind::AfterDrop)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let settings = FaultSettings {
            seed: 42,
            fail_before_rate: 0.2,
            ambiguous_after_rate: 0.2,
            ..Default::default()
        };
        let run = || {
            let mut f = FaultState::new(settings.clone());
            (0..200)
                .map(|_| f.decide("POST", "/v1/apps/a/machines"))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.contains(&Some(FaultKind::Before503)));
        assert!(a
            .iter()
            .any(|x| matches!(x, Some(FaultKind::After408 | FaultKind::After502))));
        assert!(a.iter().any(|x| x.is_none()));
    }

    #[test]
    fn dropped_answers_come_from_their_own_rate_and_keep_old_plans() {
        let base = FaultSettings {
            seed: 7,
            fail_before_rate: 0.1,
            ambiguous_after_rate: 0.1,
            ..Default::default()
        };
        let plan = |settings: &FaultSettings| {
            let mut f = FaultState::new(settings.clone());
            (0..400)
                .map(|_| f.decide("POST", "/v1/apps/a/machines"))
                .collect::<Vec<_>>()
        };
        let old = plan(&base);
        assert!(!old.contains(&Some(FaultKind::AfterDrop)));
        let new = plan(&FaultSettings {
            drop_after_rate: 0.1,
            ..base.clone()
        });
        let drops = new
            .iter()
            .filter(|f| **f == Some(FaultKind::AfterDrop))
            .count();
        assert!((20..=60).contains(&drops), "{drops} drops in 400");
        // Every request the old plan failed fails the same way; drops only replace successes.
        for (o, n) in old.iter().zip(&new) {
            match o {
                Some(kind) => assert_eq!(n, &Some(*kind)),
                None => assert!(matches!(n, None | Some(FaultKind::AfterDrop))),
            }
        }
        // Reads never fail at random.
        let mut f = FaultState::new(FaultSettings {
            drop_after_rate: 1.0,
            ..Default::default()
        });
        assert_eq!(f.decide("GET", "/v1/apps/a"), None);
        assert_eq!(f.decide("DELETE", "/v1/apps/a"), Some(FaultKind::AfterDrop));
    }

    #[test]
    fn scripted_faults_are_consumed() {
        let mut f = FaultState::new(FaultSettings {
            scripted: vec![ScriptedFault {
                method: "POST".into(),
                path_contains: "/machines".into(),
                path_ends: true,
                kind: FaultKind::After408,
                count: 1,
            }],
            ..Default::default()
        });
        assert_eq!(f.decide("POST", "/v1/apps/a/machines/x/stop"), None);
        assert_eq!(
            f.decide("POST", "/v1/apps/a/machines"),
            Some(FaultKind::After408)
        );
        assert_eq!(f.decide("POST", "/v1/apps/a/machines"), None);
    }
}
