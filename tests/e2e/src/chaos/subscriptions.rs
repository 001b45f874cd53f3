//! Random entitlement changes written to `user_subscriptions` by the platform's own subscription write (an
//! UPDATE of a signed-up user's row, whose status the platform limits to active / past_due / cancelled), and
//! the hint the database trigger would send for each (route chosen from the entitlement before and after,
//! like `fleet.entitlement_transition`), in either payload shape Fleet accepts.

use std::time::Duration;

use fleet_store::UserId;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Never,
    Past,
    Future,
    /// A few seconds from now: entitled when written, expired later without any trigger firing.
    Soon(u64),
}

#[derive(Clone, Debug)]
pub struct Change {
    pub user: UserId,
    pub tier: &'static str,
    pub status: &'static str,
    pub expiry: Expiry,
}

fn weighted<R: Rng>(rng: &mut R, items: &[(&'static str, u32)]) -> &'static str {
    items
        .choose_weighted(rng, |(_, w)| *w)
        .expect("non-empty weights")
        .0
}

impl Change {
    /// A random change for one of `users`; weights keep roughly half the changes entitling. `soon` allows
    /// expiries that pass while the suite runs. Statuses are the platform's (`user_subscriptions_status_check`:
    /// active, cancelled, past_due); `active` carries the weight `trialing` had before the platform fixture.
    pub fn random<R: Rng>(rng: &mut R, users: &[UserId], soon: bool) -> Change {
        let user = *users.choose(rng).expect("users");
        let tier = weighted(rng, &[("free", 1), ("pro", 2), ("elite", 2)]);
        let status = weighted(rng, &[("active", 5), ("past_due", 1), ("cancelled", 1)]);
        let draw: f64 = rng.gen();
        let expiry = match draw {
            d if d < 0.5 => Expiry::Never,
            d if d < 0.75 => Expiry::Future,
            d if d < 0.9 || !soon => Expiry::Past,
            _ => Expiry::Soon(rng.gen_range(1..6)),
        };
        Change {
            user,
            tier,
            status,
            expiry,
        }
    }
}

/// What the trigger would send for one applied change, if anything.
#[derive(Clone, Debug)]
pub struct Hint {
    pub route: &'static str,
    pub body: Value,
}

/// (entitled, expires_at as text) of the user's subscription right now, by the database's own rule.
fn entitlement_now(db: &mut postgres::Client, user: UserId) -> (bool, Option<String>) {
    db.query_opt(
        "SELECT fleet.entitled(tier, status, expires_at), expires_at::text FROM user_subscriptions \
         WHERE user_id = $1::text::uuid",
        &[&user.to_string()],
    )
    .expect("read the subscription")
    .map_or((false, None), |row| (row.get(0), row.get(1)))
}

/// Writes the change with the platform's subscription write (the user must be signed up: see
/// `ChaosRig::sign_up`) and returns the hint the trigger would send.
pub fn apply(db: &mut postgres::Client, change: &Change) -> Option<Hint> {
    let (was, old_expiry) = entitlement_now(db, change.user);
    let expires_in: Option<f64> = match change.expiry {
        Expiry::Never => None,
        Expiry::Past => Some(-3600.0),
        Expiry::Future => Some(30.0 * 86_400.0),
        Expiry::Soon(secs) => Some(secs as f64),
    };
    // The expiry as the database's own clock puts it, written as the platform's write does (a literal).
    let expires_at: Option<String> = db
        .query_one(
            "SELECT (now() + make_interval(secs => $1::float8))::text",
            &[&expires_in],
        )
        .expect("compute the expiry")
        .get(0);
    crate::platform_subscription_write(
        db,
        change.user,
        change.tier,
        change.status,
        expires_at.as_deref(),
    );
    let (now, new_expiry) = entitlement_now(db, change.user);
    if was == now && !(now && old_expiry != new_expiry) {
        return None;
    }
    let user = change.user.to_string();
    Some(if now {
        Hint {
            route: "/provision",
            body: json!({"user_id": user, "tier": change.tier}),
        }
    } else {
        Hint {
            route: "/deprovision",
            body: json!({"user_id": user, "reason": "entitlement_ended"}),
        }
    })
}

/// One HTTP request to a host: a hint or a sweep.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub route: &'static str,
    pub body: Vec<u8>,
    /// X-Fleet-Signature instead of the bearer secret.
    pub signed: bool,
    /// Client-side timeout; a short one aborts the request while the host works on it.
    pub timeout: Duration,
}

impl Delivery {
    /// The hint as a trigger body or as a Supabase Database Webhook payload, bearer or signed.
    pub fn of_hint<R: Rng>(rng: &mut R, hint: &Hint, change: &Change) -> Delivery {
        let body = if rng.gen_bool(0.5) {
            hint.body.clone()
        } else {
            let record = json!({"user_id": change.user.to_string(), "tier": change.tier,
                                "status": change.status});
            json!({"type": "UPDATE", "table": "user_subscriptions", "schema": "public",
                   "record": record, "old_record": record})
        };
        // One in ten is aborted by the client long before Fleet's budget is spent.
        let timeout = if rng.gen_bool(0.1) {
            Duration::from_millis(rng.gen_range(20..400))
        } else {
            Duration::from_secs(60)
        };
        Delivery {
            route: hint.route,
            body: body.to_string().into_bytes(),
            signed: rng.gen_bool(0.5),
            timeout,
        }
    }

    pub fn sweep() -> Delivery {
        Delivery {
            route: "/health/sweep",
            body: b"{}".to_vec(),
            signed: false,
            timeout: Duration::from_secs(90),
        }
    }

    /// Sends it; `Err` when the host could not be reached or the client gave up.
    pub fn send(
        &self,
        http: &reqwest::blocking::Client,
        base: &str,
        secret: &str,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = http
            .post(format!("{base}{}", self.route))
            .timeout(self.timeout)
            .body(self.body.clone());
        request = if self.signed {
            let t = chrono::Utc::now().timestamp();
            request.header(
                fleet_http::SIGNATURE_HEADER,
                fleet_http::sign_request(secret, t, &self.body),
            )
        } else {
            request.header("authorization", format!("Bearer {}", crate::WEBHOOK_BEARER))
        };
        let response = request.send()?;
        let status = response.status().as_u16();
        let text = response.text()?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }
}
