//! Newtypes for the identifiers Fleet passes around, validated where Fly has rules.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Fleet's user identifier (opaque; app names are derived from it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub String);

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        UserId(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// A Fly app name: `[a-z0-9-]`, starts with a letter, no trailing dash, at most 63 chars (a DNS label,
/// because the name is also `<app>.fly.dev`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AppName(String);

impl AppName {
    pub const MAX_LEN: usize = 63;

    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let bad = |reason| InvalidId {
            kind: "app name",
            value: value.clone(),
            reason,
        };
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(bad("must be 1 to 63 characters"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad("only lowercase letters, digits and dashes are allowed"));
        }
        if !value.as_bytes()[0].is_ascii_lowercase() {
            return Err(bad("must start with a letter"));
        }
        if value.ends_with('-') {
            return Err(bad("must not end with a dash"));
        }
        Ok(AppName(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AppName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AppName::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Fly machine id (lowercase hex/alphanumerics, e.g. `e784079b449483`); validated because it goes
/// into URL paths.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MachineId(String);

impl MachineId {
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(InvalidId {
                kind: "machine id",
                value,
                reason: "must be 1 to 64 ASCII letters or digits",
            });
        }
        Ok(MachineId(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for MachineId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        MachineId::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for MachineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Fly organization slug that owns Fleet's apps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgSlug(pub String);

impl OrgSlug {
    pub fn new(slug: impl Into<String>) -> Self {
        OrgSlug(slug.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_name_rules() {
        assert!(AppName::parse("vyx-user-0a1b2c3d").is_ok());
        assert!(AppName::parse("a").is_ok());
        assert!(AppName::parse("a".repeat(63)).is_ok());
        assert!(AppName::parse("a".repeat(64)).is_err());
        assert!(AppName::parse("").is_err());
        assert!(AppName::parse("1abc").is_err());
        assert!(AppName::parse("-abc").is_err());
        assert!(AppName::parse("abc-").is_err());
        assert!(AppName::parse("ab_c").is_err());
        assert!(AppName::parse("Abc").is_err());
        assert!(AppName::parse("ab/c").is_err());
    }

    #[test]
    fn machine_id_rejects_path_characters() {
        assert!(MachineId::parse("e784079b449483").is_ok());
        assert!(MachineId::parse("../x").is_err());
        assert!(MachineId::parse("").is_err());
    }
}
