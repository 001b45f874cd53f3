//! What the tool prints: the progress line (bar, counts, ETA) and the final summary, from the API's
//! migration progress. Pure, so it is tested without a server.

use std::time::Duration;

use serde_json::Value;

const BAR_WIDTH: usize = 30;

/// Counts read from the API's `migration` object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub total: u64,
    pub released: u64,
    pub done: u64,
    pub failed: u64,
    pub remaining: u64,
    pub status: String,
    pub release_eta: Duration,
}

impl Counts {
    pub fn from_json(m: &Value) -> Counts {
        let n = |k: &str| m[k].as_u64().unwrap_or(0);
        Counts {
            total: n("total"),
            released: n("released"),
            done: n("done"),
            failed: n("failed"),
            remaining: n("remaining"),
            status: m["status"].as_str().unwrap_or("unknown").to_string(),
            release_eta: Duration::from_secs(n("release_eta_seconds")),
        }
    }

    pub fn settled(&self) -> u64 {
        self.done.saturating_add(self.failed)
    }
}

/// Time left: at least the pacing's release ETA; from the observed rate of settled users (done or failed)
/// when there is one. `None` while nothing has settled yet and the release ETA says nothing.
pub fn eta(now: &Counts, settled_since_first: u64, watched: Duration) -> Option<Duration> {
    if now.remaining == 0 {
        return Some(Duration::ZERO);
    }
    let by_rate = (settled_since_first > 0 && !watched.is_zero()).then(|| {
        let per_user = watched.as_secs_f64() / settled_since_first as f64;
        Duration::try_from_secs_f64(per_user * now.remaining as f64).unwrap_or(Duration::MAX)
    });
    match by_rate {
        Some(rate) => Some(rate.max(now.release_eta)),
        None if !now.release_eta.is_zero() => Some(now.release_eta),
        None => None,
    }
}

pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// `[#####+++.........]  12/40 done · 1 failed · 27 remaining · released 15 · ETA 00:28`
pub fn progress_line(c: &Counts, eta: Option<Duration>) -> String {
    let total = c.total.max(1);
    let cells = |n: u64| (n.min(total) as usize * BAR_WIDTH) / total as usize;
    let done = cells(c.done);
    let failed = cells(c.settled()).saturating_sub(done);
    let released = cells(c.released).saturating_sub(done + failed);
    let rest = BAR_WIDTH.saturating_sub(done + failed + released);
    let eta = match (c.status.as_str(), eta) {
        ("complete", _) => "complete".to_string(),
        ("cancelled", _) => "cancelled".to_string(),
        (_, Some(d)) => format!("ETA {}", clock(d)),
        (_, None) => "ETA --:--".to_string(),
    };
    format!(
        "[{}{}{}{}] {:>width$}/{} done · {} failed · {} remaining · released {} · {eta}",
        "#".repeat(done),
        "x".repeat(failed),
        "+".repeat(released),
        ".".repeat(rest),
        c.done,
        c.total,
        c.failed,
        c.remaining,
        c.released,
        width = c.total.to_string().len(),
    )
}

/// The closing report, as the platform's migration script printed it: successes, failures, who failed.
pub fn summary(m: &Value) -> String {
    let c = Counts::from_json(m);
    let mut out = format!(
        "===========================================\nMigration {}\n===========================================\n\
         Success: {}\nFailed: {}\nNot released: {}\n",
        match c.status.as_str() {
            "complete" => "Complete",
            "cancelled" => "Cancelled",
            _ => "Running",
        },
        c.done,
        c.failed,
        c.total.saturating_sub(c.released),
    );
    if let Some(failed) = m["failed_users"].as_array().filter(|f| !f.is_empty()) {
        out.push_str("\n--- Failed Migrations (the sweep keeps retrying them) ---\n");
        for user in failed {
            out.push_str(&format!("  x {}\n", user.as_str().unwrap_or("?")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counts(done: u64, failed: u64, released: u64, total: u64) -> Counts {
        Counts {
            total,
            released,
            done,
            failed,
            remaining: total - done - failed,
            status: "running".into(),
            release_eta: Duration::ZERO,
        }
    }

    #[test]
    fn the_bar_shows_done_failed_and_released() {
        let line = progress_line(&counts(15, 3, 21, 30), Some(Duration::from_secs(75)));
        assert!(
            line.starts_with(&format!(
                "[{}{}{}{}]",
                "#".repeat(15),
                "x".repeat(3),
                "+".repeat(3),
                ".".repeat(9)
            )),
            "{line}"
        );
        assert!(
            line.contains("15/30 done · 3 failed · 12 remaining · released 21 · ETA 01:15"),
            "{line}"
        );
        let empty = progress_line(&counts(0, 0, 0, 0), None);
        assert!(empty.contains("ETA --:--"), "{empty}");
    }

    #[test]
    fn eta_follows_the_observed_rate_but_never_beats_the_pacing() {
        let mut c = counts(10, 0, 12, 40);
        // 10 settled in 20 s: 2 s per user, 30 left: 60 s.
        assert_eq!(
            eta(&c, 10, Duration::from_secs(20)),
            Some(Duration::from_secs(60))
        );
        c.release_eta = Duration::from_secs(90);
        assert_eq!(
            eta(&c, 10, Duration::from_secs(20)),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            eta(&c, 0, Duration::from_secs(20)),
            Some(Duration::from_secs(90))
        );
        c.release_eta = Duration::ZERO;
        assert_eq!(eta(&c, 0, Duration::ZERO), None);
        assert_eq!(
            eta(&counts(40, 0, 40, 40), 0, Duration::ZERO),
            Some(Duration::ZERO)
        );
        assert_eq!(clock(Duration::from_secs(3 * 3600 + 120)), "3h02m");
    }

    #[test]
    fn the_summary_lists_failed_users() {
        let m = json!({"status": "complete", "total": 3, "released": 3, "done": 2, "failed": 1,
            "remaining": 0, "failed_users": ["aaaaaaaa-0000-4000-8000-000000000001"]});
        let s = summary(&m);
        assert!(
            s.contains("Migration Complete") && s.contains("Success: 2") && s.contains("Failed: 1"),
            "{s}"
        );
        assert!(s.contains("x aaaaaaaa-0000-4000-8000-000000000001"), "{s}");
    }
}
