//! Validation of a machine config as Fly does it (image, guest sizes, maps of strings, region).

use crate::config::SimConfig;
use crate::error::{ApiError, ApiResult};
use serde_json::{json, Value};

const MB_STEP: u64 = 256;
const MAX_MB_PER_SHARED_CPU: u64 = 2048;
const MIN_MB_PER_PERFORMANCE_CPU: u64 = 2048;
const MAX_MB_PER_PERFORMANCE_CPU: u64 = 8192;

/// Checks `config` and fills Fly's defaults (guest `shared`/1/256) so GET shows them.
pub fn validate(config: &mut Value) -> ApiResult<()> {
    if !config.is_object() {
        return Err(ApiError::bad_request("config is required"));
    }
    match config["image"].as_str() {
        Some(i) if !i.trim().is_empty() => {}
        _ => return Err(ApiError::bad_request("config.image is required")),
    }
    for field in ["env", "metadata"] {
        let v = &config[field];
        let ok = v.is_null()
            || v.as_object()
                .is_some_and(|o| o.values().all(Value::is_string));
        if !ok {
            return Err(ApiError::bad_request(format!(
                "config.{field} must map strings to strings"
            )));
        }
    }
    if config["guest"].is_null() {
        config["guest"] = json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256});
    }
    validate_guest(&config["guest"])?;
    if let Some(policy) = config["restart"]["policy"].as_str() {
        if !["no", "always", "on-failure", "spot-price"].contains(&policy) {
            return Err(ApiError::bad_request(format!(
                "invalid restart policy {policy:?}"
            )));
        }
    }
    if let Some(checks) = config["checks"].as_object() {
        for (name, c) in checks {
            if !matches!(c["type"].as_str(), Some("http" | "tcp")) {
                return Err(ApiError::bad_request(format!(
                    "check {name}: type must be \"http\" or \"tcp\""
                )));
            }
        }
    }
    Ok(())
}

fn validate_guest(guest: &Value) -> ApiResult<()> {
    let kind = guest["cpu_kind"].as_str().unwrap_or("shared");
    let cpus = guest["cpus"].as_u64().unwrap_or(1);
    let mem = guest["memory_mb"].as_u64().unwrap_or(256);
    let bad = |m: String| Err(ApiError::unprocessable(m));
    if ![1, 2, 4, 8, 16].contains(&cpus) {
        return bad(format!("invalid number of cpus: {cpus}"));
    }
    if mem == 0 || !mem.is_multiple_of(MB_STEP) {
        return bad(format!("memory_mb {mem} must be a multiple of {MB_STEP}"));
    }
    match kind {
        "shared" if mem > MAX_MB_PER_SHARED_CPU * cpus => bad(format!(
            "memory_mb {mem} exceeds {} MB for {cpus} shared cpu(s)",
            MAX_MB_PER_SHARED_CPU * cpus
        )),
        "shared" => Ok(()),
        "performance"
            if mem < MIN_MB_PER_PERFORMANCE_CPU * cpus
                || mem > MAX_MB_PER_PERFORMANCE_CPU * cpus =>
        {
            bad(format!(
                "memory_mb {mem} out of range for {cpus} performance cpu(s)"
            ))
        }
        "performance" => Ok(()),
        other => bad(format!("invalid cpu_kind {other:?}")),
    }
}

/// The region to use: explicit (must be known) or the default, flagged as defaulted.
pub fn region(config: &SimConfig, requested: Option<&str>) -> ApiResult<(String, bool)> {
    match requested {
        None | Some("") => Ok((config.default_region.clone(), true)),
        Some(r) if config.regions.iter().any(|k| k == r) => Ok((r.to_string(), false)),
        Some(r) => Err(ApiError::bad_request(format!("invalid region {r:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(kind: &str, cpus: u64, mem: u64) -> ApiResult<()> {
        validate_guest(&json!({"cpu_kind": kind, "cpus": cpus, "memory_mb": mem}))
    }

    #[test]
    fn guest_rules() {
        assert!(guest("shared", 1, 256).is_ok());
        assert!(guest("shared", 1, 2048).is_ok());
        assert!(guest("shared", 1, 2304).is_err());
        assert!(guest("shared", 2, 4096).is_ok());
        assert!(guest("shared", 1, 300).is_err());
        assert!(guest("shared", 3, 256).is_err());
        assert!(guest("performance", 1, 1024).is_err());
        assert!(guest("performance", 1, 2048).is_ok());
        assert!(guest("gpu", 1, 256).is_err());
    }

    #[test]
    fn missing_image_and_defaults() {
        assert!(validate(&mut json!({"env": {}})).is_err());
        assert!(validate(&mut json!({"image": "x", "env": {"A": 1}})).is_err());
        let mut c = json!({"image": "x"});
        validate(&mut c).unwrap();
        assert_eq!(c["guest"]["memory_mb"], 256);
    }
}
