//! Per-tier machine sizes and regions (issue 20): Pro and Elite may run different guests and regions, set by
//! the variables `fly_cpu_kind_{tier}`, `fly_cpus_{tier}`, `fly_memory_mb_{tier}` and `fly_region_{tier}`
//! (each unset falls back to the single size `fly_cpu_kind`/`fly_cpus`/`fly_memory_mb`/`fly_region`, so
//! today's configuration means one size for both). Values are checked as Fly checks a machine's guest
//! (cpus 1/2/4/8/16, memory a multiple of 256 MB, at most 2048 MB per shared CPU, 2048–8192 MB per
//! performance CPU), and an error names the variable. Pure: which size a tier gets, and whether a
//! running machine must be resized in place.

use fly_api::types::Guest;

use crate::screener_db::VariableError;

/// The tiers that get an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaidTier {
    Pro,
    Elite,
}

impl PaidTier {
    /// The platform's tier text (`pro`, `elite`); anything else has no app.
    pub fn parse(tier: &str) -> Option<PaidTier> {
        match tier.trim().to_ascii_lowercase().as_str() {
            "pro" => Some(PaidTier::Pro),
            "elite" => Some(PaidTier::Elite),
            _ => None,
        }
    }
}

/// One tier's machine: its guest and primary region.
#[derive(Clone, Debug, PartialEq)]
pub struct TierSize {
    pub guest: Guest,
    pub region: String,
}

/// The size of each paid tier.
#[derive(Clone, Debug, PartialEq)]
pub struct TierSizes {
    pub pro: TierSize,
    pub elite: TierSize,
}

const CPUS: [u32; 5] = [1, 2, 4, 8, 16];
const MB_STEP: u32 = 256;
const MAX_MB_PER_SHARED_CPU: u32 = 2048;
const MIN_MB_PER_PERFORMANCE_CPU: u32 = 2048;
const MAX_MB_PER_PERFORMANCE_CPU: u32 = 8192;

/// Variable names of one tier (static, so errors can name them).
struct Names {
    cpu_kind: &'static str,
    cpus: &'static str,
    memory_mb: &'static str,
    region: &'static str,
}

const BASE: Names = Names {
    cpu_kind: "fly_cpu_kind",
    cpus: "fly_cpus",
    memory_mb: "fly_memory_mb",
    region: "fly_region",
};
const PRO: Names = Names {
    cpu_kind: "fly_cpu_kind_pro",
    cpus: "fly_cpus_pro",
    memory_mb: "fly_memory_mb_pro",
    region: "fly_region_pro",
};
const ELITE: Names = Names {
    cpu_kind: "fly_cpu_kind_elite",
    cpus: "fly_cpus_elite",
    memory_mb: "fly_memory_mb_elite",
    region: "fly_region_elite",
};

fn error(variable: &'static str, problem: impl Into<String>) -> VariableError {
    VariableError {
        variable,
        problem: problem.into(),
    }
}

impl TierSizes {
    /// Reads the base and per-tier variables through `get` (a Spin variable lookup; empty counts as unset).
    pub fn from_variables(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<TierSizes, VariableError> {
        let value = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let base = read(&value, &BASE, None)?;
        Ok(TierSizes {
            pro: read(&value, &PRO, Some(&base))?,
            elite: read(&value, &ELITE, Some(&base))?,
        })
    }

    /// The same size for both tiers (today's single size).
    pub fn uniform(guest: Guest, region: &str) -> TierSizes {
        let size = TierSize {
            guest,
            region: region.to_string(),
        };
        TierSizes {
            pro: size.clone(),
            elite: size,
        }
    }

    /// The size a user of `tier` gets; `None` for a tier without an app.
    pub fn for_tier(&self, tier: &str) -> Option<&TierSize> {
        match PaidTier::parse(tier)? {
            PaidTier::Pro => Some(&self.pro),
            PaidTier::Elite => Some(&self.elite),
        }
    }
}

/// One tier's size: each variable, else the base size's value, else the built-in default (shared, 2 CPUs,
/// 512 MB, `sin`: spin.toml's defaults).
fn read(
    value: &impl Fn(&str) -> Option<String>,
    names: &Names,
    base: Option<&TierSize>,
) -> Result<TierSize, VariableError> {
    let cpu_kind = match value(names.cpu_kind) {
        Some(kind) if kind == "shared" || kind == "performance" => kind,
        Some(_) => return Err(error(names.cpu_kind, "must be shared or performance")),
        None => base.map_or("shared".to_string(), |b| b.guest.cpu_kind.clone()),
    };
    let number = |name: &'static str, fallback: u32| -> Result<u32, VariableError> {
        match value(name) {
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| error(name, "is not a whole number")),
            None => Ok(fallback),
        }
    };
    let cpus = number(names.cpus, base.map_or(2, |b| b.guest.cpus))?;
    if !CPUS.contains(&cpus) {
        return Err(error(names.cpus, "must be 1, 2, 4, 8 or 16"));
    }
    let memory_mb = number(names.memory_mb, base.map_or(512, |b| b.guest.memory_mb))?;
    if memory_mb == 0 || memory_mb % MB_STEP != 0 {
        return Err(error(names.memory_mb, "must be a positive multiple of 256"));
    }
    let per_cpu = memory_mb / cpus;
    let fits = match cpu_kind.as_str() {
        "shared" => memory_mb <= MAX_MB_PER_SHARED_CPU.saturating_mul(cpus),
        _ => {
            (MIN_MB_PER_PERFORMANCE_CPU..=MAX_MB_PER_PERFORMANCE_CPU).contains(&per_cpu)
                && memory_mb >= MIN_MB_PER_PERFORMANCE_CPU.saturating_mul(cpus)
        }
    };
    if !fits {
        return Err(error(
            names.memory_mb,
            format!(
                "{memory_mb} MB does not fit {cpus} {cpu_kind} CPU(s): Fly allows up to 2048 MB per shared CPU \
                 and 2048-8192 MB per performance CPU"
            ),
        ));
    }
    let region = match value(names.region) {
        Some(r) if valid_region(&r) => r,
        Some(_) => {
            return Err(error(
                names.region,
                "must be a Fly region code such as sin or iad",
            ))
        }
        None => base.map_or("sin".to_string(), |b| b.region.clone()),
    };
    Ok(TierSize {
        guest: Guest {
            cpu_kind,
            cpus,
            memory_mb,
        },
        region,
    })
}

fn valid_region(r: &str) -> bool {
    (3..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase())
}

/// `base` with a tier's guest and primary region (the provision configuration of a user of that tier).
pub fn sized(base: &crate::ReconcileConfig, size: &TierSize) -> crate::ReconcileConfig {
    let mut config = base.clone();
    config.guest = size.guest.clone();
    config.region = size.region.clone();
    config
}

/// The size a machine was recorded with (the row's `cpu_kind`, `cpus`, `memory_mb`).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedSize<'a> {
    pub cpu_kind: Option<&'a str>,
    pub cpus: Option<i64>,
    pub memory_mb: Option<i64>,
}

/// Whether a running machine must be resized in place to `wanted` (a tier change between Pro and Elite, or
/// a changed size variable). A machine with no recorded size is not resized blindly: the next provision
/// records it.
pub fn needs_resize(recorded: &RecordedSize<'_>, wanted: &Guest) -> bool {
    match (recorded.cpu_kind, recorded.cpus, recorded.memory_mb) {
        (Some(kind), Some(cpus), Some(memory_mb)) => {
            kind != wanted.cpu_kind
                || cpus != i64::from(wanted.cpus)
                || memory_mb != i64::from(wanted.memory_mb)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sizes(vars: &[(&str, &str)]) -> Result<TierSizes, VariableError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TierSizes::from_variables(|name| map.get(name).cloned())
    }

    #[test]
    fn unset_tier_variables_default_to_todays_single_size() {
        let s = sizes(&[
            ("fly_cpus", "1"),
            ("fly_memory_mb", "1024"),
            ("fly_region", "iad"),
        ])
        .unwrap();
        assert_eq!(s, TierSizes::uniform(Guest::shared(1, 1024), "iad"));
        assert_eq!(
            sizes(&[]).unwrap(),
            TierSizes::uniform(Guest::shared(2, 512), "sin")
        );
    }

    #[test]
    fn elite_may_get_a_larger_guest_and_another_region() {
        let s = sizes(&[
            ("fly_cpu_kind_elite", "performance"),
            ("fly_cpus_elite", "1"),
            ("fly_memory_mb_elite", "2048"),
            ("fly_region_elite", "fra"),
            ("fly_memory_mb_pro", "1024"),
        ])
        .unwrap();
        assert_eq!(s.for_tier("pro").unwrap().guest, Guest::shared(2, 1024));
        assert_eq!(s.for_tier("pro").unwrap().region, "sin");
        let elite = s.for_tier("Elite").unwrap();
        assert_eq!(
            (
                elite.guest.cpu_kind.as_str(),
                elite.guest.cpus,
                elite.guest.memory_mb,
                elite.region.as_str()
            ),
            ("performance", 1, 2048, "fra")
        );
        assert_eq!(s.for_tier("free"), None);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (vars, variable) in [
            (vec![("fly_cpu_kind_elite", "gpu")], "fly_cpu_kind_elite"),
            (vec![("fly_cpus_pro", "3")], "fly_cpus_pro"),
            (vec![("fly_cpus_pro", "two")], "fly_cpus_pro"),
            (vec![("fly_memory_mb_elite", "1000")], "fly_memory_mb_elite"),
            (vec![("fly_memory_mb_pro", "8192")], "fly_memory_mb_pro"),
            (
                vec![("fly_cpu_kind_elite", "performance")],
                "fly_memory_mb_elite",
            ),
            (vec![("fly_region_pro", "Sin!")], "fly_region_pro"),
            (vec![("fly_cpus", "0")], "fly_cpus"),
            (vec![("fly_memory_mb", "99999999999")], "fly_memory_mb"),
        ] {
            let e = sizes(&vars).unwrap_err();
            assert_eq!(e.variable, variable, "{vars:?}: {}", e.problem);
        }
    }

    #[test]
    fn a_machine_is_resized_only_when_its_recorded_size_differs() {
        let rec = |kind, cpus, mem| RecordedSize {
            cpu_kind: Some(kind),
            cpus: Some(cpus),
            memory_mb: Some(mem),
        };
        let elite = Guest::shared(4, 2048);
        assert!(needs_resize(&rec("shared", 2, 512), &elite));
        assert!(!needs_resize(&rec("shared", 4, 2048), &elite));
        assert!(needs_resize(&rec("performance", 4, 2048), &elite));
        let unknown = RecordedSize {
            cpu_kind: None,
            cpus: Some(2),
            memory_mb: None,
        };
        assert!(!needs_resize(&unknown, &elite));
    }
}
