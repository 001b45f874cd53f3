//! Seeded random mutations of request bodies and paths (truncation, byte flips, inserted injections, deleted
//! and repeated spans, swapped values). Each base is chosen so that no mutation can turn it into a request
//! the route should accept: the users it names are refused whatever the body says (409/404), and sweep
//! bodies are strict prefixes of a JSON object, never valid JSON.

use serde_json::json;

use crate::hostile::{encode_path, Subjects, INJECTIONS};
use crate::raw_http::RawRequest;

use fly_simulator::rng::SimRng;

/// One to three random edits of `base`.
pub fn mutate(rng: &mut SimRng, base: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 => out.truncate(at),
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            2 => {
                let inj = rng.pick(INJECTIONS).as_bytes();
                out.splice(at..at, inj.iter().copied());
            }
            3 => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(32)).min(out.len());
                let span = out[at..end].to_vec();
                out.splice(at..at, span);
            }
            _ => {
                let byte = *rng.pick(b"{}[]\":,\\0-9e.tfn \x00\xff");
                out.insert(at.min(out.len()), byte);
            }
        }
    }
    out
}

/// Whether a mutated tier body is still a valid tier change (the local schema has no auth.users, so the
/// admin may legitimately set a tier for any uuid): such a body is not hostile and is not sent.
fn sets_a_tier(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(body) else {
        return false;
    };
    let tier_ok = o
        .get("tier")
        .and_then(|t| t.as_str())
        .is_some_and(|t| ["free", "pro", "elite"].contains(&t));
    let status_ok = o.get("status").is_none_or(|s| {
        s.as_str()
            .is_some_and(|s| ["active", "trialing", "past_due", "cancelled"].contains(&s))
    });
    tier_ok && status_ok && o.keys().all(|k| k == "tier" || k == "status")
}

fn post(label: String, target: &str, auth: Option<&str>, body: Vec<u8>) -> RawRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(auth) = auth {
        headers.push(("authorization".into(), auth.into()));
    }
    RawRequest {
        label,
        method: "POST".into(),
        target: target.into(),
        headers,
        body,
    }
}

/// `count` random hostile requests, reproducible from `seed`.
pub fn random_cases(s: &Subjects, seed: u64, count: usize) -> Vec<RawRequest> {
    let mut rng = SimRng::seeded(seed);
    let webhook = format!("Bearer {}", s.webhook_bearer);
    let admin = format!("Bearer {}", s.admin_token);
    let refused = s.unentitled.to_string();
    let nobody = s.unknown.to_string();
    let hint = json!({"type": "INSERT", "table": "user_subscriptions", "schema": "public",
                      "record": {"user_id": refused, "tier": "elite", "status": "active"}, "old_record": null})
    .to_string();
    let seed_body = json!({"user_id": refused, "tier": "pro"}).to_string();
    let sweep_base = br#"{"since":[1,2,{"b":"c"}],"dry":true}"#;
    (0..count)
        .map(|i| match rng.below(6) {
            0 | 1 => {
                let base = if rng.below(2) == 0 { &hint } else { &seed_body };
                let body = mutate(&mut rng, base.as_bytes());
                post(
                    format!("fuzz {i} /provision"),
                    "/provision",
                    Some(&webhook),
                    body,
                )
            }
            2 => {
                let cut = 1 + rng.below(sweep_base.len() - 1);
                post(
                    format!("fuzz {i} sweep prefix {cut}"),
                    "/health/sweep",
                    Some(&webhook),
                    sweep_base[..cut].to_vec(),
                )
            }
            3 => {
                let tier = br#"{"tier":"elite","status":"active"}"#;
                let target = format!("/admin/api/users/{nobody}/tier");
                let body = (0..20)
                    .map(|_| mutate(&mut rng, tier))
                    .find(|b| !sets_a_tier(b))
                    .unwrap_or_else(|| tier[..5].to_vec());
                post(format!("fuzz {i} tier"), &target, Some(&admin), body)
            }
            4 => {
                let action = *rng.pick(&["reconcile", "retry", "reprovision", "deprovision"]);
                let body = json!({"confirm": nobody}).to_string();
                let target = format!("/admin/api/apps/{nobody}/{action}");
                let body = mutate(&mut rng, body.as_bytes());
                post(format!("fuzz {i} {action}"), &target, Some(&admin), body)
            }
            _ => {
                let id = mutate(&mut rng, nobody.as_bytes());
                // Never empty and never a `/`: `/admin/api/apps/` is the (legitimate) listing.
                let id = encode_path(&String::from_utf8_lossy(&id)).replace('/', "%2F");
                let id = if id.is_empty() { "x".to_string() } else { id };
                let (target, auth) = if rng.below(2) == 0 {
                    (format!("/health/apps/{id}"), admin.clone())
                } else {
                    (format!("/admin/api/apps/{id}"), admin.clone())
                };
                RawRequest {
                    label: format!("fuzz {i} GET {target}"),
                    method: "GET".into(),
                    target,
                    headers: vec![("authorization".into(), auth)],
                    body: Vec::new(),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_reproducible_and_change_the_input() {
        let base = br#"{"user_id":"x"}"#;
        let a: Vec<_> = (0..20)
            .map(|_| ())
            .scan(SimRng::seeded(7), |r, _| Some(mutate(r, base)))
            .collect();
        let b: Vec<_> = (0..20)
            .map(|_| ())
            .scan(SimRng::seeded(7), |r, _| Some(mutate(r, base)))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|m| m.as_slice() != base));
    }
}
