//! Which alerts fire, re-notify or resolve, given what holds now and each condition's stored state. Pure.
//!
//! * A condition that holds and is not firing (no state, or resolved) fires.
//! * A firing condition that still holds is notified again once `renotify_after` has passed since the last
//!   notification (never when it is zero).
//! * A firing condition that no longer holds resolves, once. Kinds the sweep could not evaluate this time
//!   (e.g. the org's apps could not be listed) neither fire nor resolve.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::AlertRecord;

use crate::alerts::rules::{AlertKind, Evaluated};

/// One notification to record: the condition's new state and the version it was decided on.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub record: AlertRecord,
    pub previous_version: Option<i64>,
    /// `firing` (first or again) or `resolved`.
    pub state: &'static str,
}

pub fn decide(
    previous: &[AlertRecord],
    evaluated: &Evaluated,
    now: DateTime<Utc>,
    renotify_after: Duration,
) -> Vec<Transition> {
    let by_key: BTreeMap<&str, &AlertRecord> =
        previous.iter().map(|r| (r.key.as_str(), r)).collect();
    let mut out = Vec::new();
    let mut holding = HashSet::new();
    for c in &evaluated.holding {
        if !holding.insert(c.key.as_str()) {
            continue;
        }
        let before = by_key.get(c.key.as_str()).copied();
        let first_fired_at = match before {
            Some(b) if b.firing => {
                let due = !renotify_after.is_zero()
                    && fleet_store::time::after(b.last_notified_at, renotify_after) <= now;
                if !due {
                    continue;
                }
                b.first_fired_at
            }
            _ => now,
        };
        out.push(Transition {
            record: AlertRecord {
                key: c.key.clone(),
                kind: c.kind.as_str().to_string(),
                severity: c.severity.as_str().to_string(),
                firing: true,
                summary: c.summary.clone(),
                first_fired_at,
                last_notified_at: now,
                resolved_at: None,
                version: before.map_or(1, |b| b.version.saturating_add(1)),
            },
            previous_version: before.map(|b| b.version),
            state: "firing",
        });
    }
    for b in previous {
        let unknown =
            AlertKind::parse(&b.kind).is_some_and(|k| evaluated.not_evaluated.contains(&k));
        if !b.firing || unknown || holding.contains(b.key.as_str()) {
            continue;
        }
        out.push(Transition {
            record: AlertRecord {
                firing: false,
                last_notified_at: now,
                resolved_at: Some(now),
                version: b.version.saturating_add(1),
                ..b.clone()
            },
            previous_version: Some(b.version),
            state: "resolved",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::{Condition, Severity};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::minutes(minutes)
    }

    fn holding(keys: &[&str]) -> Evaluated {
        Evaluated {
            holding: keys
                .iter()
                .map(|k| Condition {
                    kind: AlertKind::AppUnhealthy,
                    key: k.to_string(),
                    severity: Severity::Warning,
                    summary: format!("{k} is unhealthy"),
                })
                .collect(),
            not_evaluated: Vec::new(),
        }
    }

    /// Applies transitions like the store does.
    fn apply(state: &mut Vec<AlertRecord>, transitions: &[Transition]) {
        for t in transitions {
            state.retain(|r| r.key != t.record.key);
            state.push(t.record.clone());
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn fires_once_then_stays_quiet_until_it_clears_then_resolves_once() {
        let mut state = Vec::new();
        let t = decide(&state, &holding(&["app_unhealthy:a"]), at(0), HOUR);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].state, t[0].previous_version), ("firing", None));
        apply(&mut state, &t);
        for minute in 1..59 {
            assert!(decide(&state, &holding(&["app_unhealthy:a"]), at(minute), HOUR).is_empty());
        }
        let r = decide(&state, &holding(&[]), at(59), HOUR);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].state, r[0].previous_version), ("resolved", Some(1)));
        assert_eq!(r[0].record.resolved_at, Some(at(59)));
        apply(&mut state, &r);
        assert!(decide(&state, &holding(&[]), at(60), HOUR).is_empty());
        // It comes back: a new alert over the resolved row's version.
        let again = decide(&state, &holding(&["app_unhealthy:a"]), at(61), HOUR);
        assert_eq!(
            (again[0].state, again[0].previous_version),
            ("firing", Some(2))
        );
        assert_eq!(again[0].record.first_fired_at, at(61));
    }

    #[test]
    fn renotifies_after_the_interval_and_never_when_it_is_zero() {
        let mut state = Vec::new();
        let first = decide(&state, &holding(&["k"]), at(0), HOUR);
        apply(&mut state, &first);
        assert!(decide(&state, &holding(&["k"]), at(59), HOUR).is_empty());
        let t = decide(&state, &holding(&["k"]), at(60), HOUR);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].state, "firing");
        assert_eq!(t[0].record.first_fired_at, at(0));
        assert_eq!(t[0].record.last_notified_at, at(60));
        assert!(decide(&state, &holding(&["k"]), at(10_000), Duration::ZERO).is_empty());
    }

    #[test]
    fn kinds_not_evaluated_neither_fire_nor_resolve() {
        let mut state = Vec::new();
        let first = decide(&state, &holding(&["k"]), at(0), HOUR);
        apply(&mut state, &first);
        let blind = Evaluated {
            holding: Vec::new(),
            not_evaluated: vec![AlertKind::AppUnhealthy],
        };
        assert!(decide(&state, &blind, at(5), HOUR).is_empty());
    }

    #[test]
    fn a_key_listed_twice_is_one_alert() {
        let t = decide(&[], &holding(&["k", "k"]), at(0), HOUR);
        assert_eq!(t.len(), 1);
    }
}
