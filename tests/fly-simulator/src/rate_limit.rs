//! Token buckets keyed per (action, app or machine), per Fly's documented limits.

use crate::config::RateLimitConfig;
use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: HashMap<(String, String), Bucket>,
}

/// Which limit a request falls under.
struct Limit {
    action: String,
    key: String,
    per_sec: f64,
    burst: f64,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter {
            config,
            buckets: HashMap::new(),
        }
    }

    pub fn set_enabled(&mut self, enabled: bool) {
        self.config.enabled = enabled;
    }

    pub fn reset(&mut self) {
        self.buckets.clear();
    }

    /// `Err(retry_after)` when the request must be refused with 429.
    pub fn check(&mut self, method: &str, path: &str, now: Instant) -> Result<(), Duration> {
        if !self.config.enabled {
            return Ok(());
        }
        let Some(limit) = self.classify(method, path) else {
            return Ok(());
        };
        let bucket = self
            .buckets
            .entry((limit.action, limit.key))
            .or_insert(Bucket {
                tokens: limit.burst,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_sec).min(limit.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / limit.per_sec,
            ))
        }
    }

    /// Maps `/v1/apps/{app}/machines[/{id}[/{action}]]` and app deletion to a limit; everything
    /// else (app create/get/list, secrets) has no documented limit, and is limited only in strict mode
    /// (`app_actions`).
    fn classify(&self, method: &str, path: &str) -> Option<Limit> {
        let c = &self.config;
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let limit = |action: String, key: &str, per_sec, burst| {
            Some(Limit {
                action,
                key: key.to_string(),
                per_sec,
                burst,
            })
        };
        match (method, parts.as_slice()) {
            ("DELETE", ["v1", "apps", _app]) => limit(
                "delete_app".into(),
                "org",
                c.app_deletes_per_min / 60.0,
                c.app_deletes_per_min,
            ),
            (m, ["v1", "apps", app, "machines"]) => limit(
                format!("{m} machines"),
                app,
                c.action_per_sec,
                c.action_burst,
            ),
            ("GET", ["v1", "apps", _, "machines", id]) => limit(
                "get_machine".into(),
                id,
                c.get_machine_per_sec,
                c.get_machine_burst,
            ),
            (m, ["v1", "apps", _, "machines", id]) => {
                limit(format!("{m} machine"), id, c.action_per_sec, c.action_burst)
            }
            (m, ["v1", "apps", _, "machines", id, action, ..]) => limit(
                format!("{m} {action}"),
                id,
                c.action_per_sec,
                c.action_burst,
            ),
            // Strict mode only (issue 14): the documented per-action rule for the undocumented actions.
            _ if !c.app_actions => None,
            ("POST", ["v1", "apps"]) => {
                limit("create_app".into(), "org", c.action_per_sec, c.action_burst)
            }
            ("GET", ["v1", "apps"]) => {
                limit("list_apps".into(), "org", c.action_per_sec, c.action_burst)
            }
            ("GET", ["v1", "apps", app]) => limit(
                "get_app".into(),
                app,
                c.get_machine_per_sec,
                c.get_machine_burst,
            ),
            (m, ["v1", "apps", app, "secrets", ..]) => limit(
                format!("{m} secrets"),
                app,
                c.action_per_sec,
                c.action_burst,
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_one_per_second_per_machine() {
        let mut r = RateLimiter::new(RateLimitConfig::default());
        let t0 = Instant::now();
        let p = "/v1/apps/a/machines/m1/start";
        for _ in 0..3 {
            assert!(r.check("POST", p, t0).is_ok());
        }
        let wait = r.check("POST", p, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Other machine, other action: own buckets.
        assert!(r.check("POST", "/v1/apps/a/machines/m2/start", t0).is_ok());
        assert!(r.check("POST", "/v1/apps/a/machines/m1/stop", t0).is_ok());
        assert!(r.check("POST", p, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn get_machine_allows_burst_of_ten() {
        let mut r = RateLimiter::new(RateLimitConfig::default());
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(r.check("GET", "/v1/apps/a/machines/m1", t0).is_ok());
        }
        assert!(r.check("GET", "/v1/apps/a/machines/m1", t0).is_err());
        assert!(r.check("GET", "/v1/apps/a", t0).is_ok());
    }

    #[test]
    fn app_actions_are_unlimited_unless_strict() {
        let t0 = Instant::now();
        let mut lax = RateLimiter::new(RateLimitConfig::default());
        for _ in 0..20 {
            assert!(lax.check("POST", "/v1/apps", t0).is_ok());
            assert!(lax.check("GET", "/v1/apps/a", t0).is_ok());
            assert!(lax.check("POST", "/v1/apps/a/secrets", t0).is_ok());
        }
        let mut strict = RateLimiter::new(RateLimitConfig {
            app_actions: true,
            ..RateLimitConfig::default()
        });
        // App create: 1/s burst 3 per org, whatever the name.
        for name in ["a", "b", "c"] {
            assert!(strict.check("POST", "/v1/apps", t0).is_ok(), "{name}");
        }
        let wait = strict.check("POST", "/v1/apps", t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(strict
            .check("POST", "/v1/apps", t0 + Duration::from_secs(1))
            .is_ok());
        // GET app: a read, 5/s burst 10 per app; other apps have their own bucket.
        for _ in 0..10 {
            assert!(strict.check("GET", "/v1/apps/a", t0).is_ok());
        }
        assert!(strict.check("GET", "/v1/apps/a", t0).is_err());
        assert!(strict.check("GET", "/v1/apps/b", t0).is_ok());
        // Secrets writes: 1/s burst 3 per app, apart from reads.
        for _ in 0..3 {
            assert!(strict.check("POST", "/v1/apps/a/secrets", t0).is_ok());
        }
        assert!(strict.check("POST", "/v1/apps/a/secrets", t0).is_err());
        assert!(strict.check("GET", "/v1/apps/a/secrets", t0).is_ok());
        assert!(strict.check("POST", "/v1/apps/b/secrets", t0).is_ok());
    }
}
