//! App secrets: bulk set/unset with a version counter.

use crate::secret::Secret;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

/// `POST /apps/{app}/secrets`: `{"values": {"K": "v", "GONE": null}}` (null unsets).
/// `Debug` shows names only; values are [`Secret`]s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetSecretsRequest {
    #[serde(serialize_with = "expose_values")]
    pub values: BTreeMap<String, Option<Secret<String>>>,
}

impl SetSecretsRequest {
    pub fn new() -> Self {
        SetSecretsRequest {
            values: BTreeMap::new(),
        }
    }
    pub fn set(mut self, name: impl Into<String>, value: Secret<String>) -> Self {
        self.values.insert(name.into(), Some(value));
        self
    }
    pub fn unset(mut self, name: impl Into<String>) -> Self {
        self.values.insert(name.into(), None);
        self
    }
}

impl Default for SetSecretsRequest {
    fn default() -> Self {
        Self::new()
    }
}

/// The only place secret values are exposed: on their way into the request body.
fn expose_values<S: Serializer>(
    values: &BTreeMap<String, Option<Secret<String>>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(
        values
            .iter()
            .map(|(k, v)| (k, v.as_ref().map(|v| v.expose().as_str()))),
    )
}

/// Secret metadata (values are never requested).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppSecret {
    pub name: String,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Reply to a bulk set: the secrets and the new `version` (pass it as `min_secrets_version`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetSecretsResponse {
    #[serde(default)]
    pub secrets: Vec<AppSecret>,
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListSecretsResponse {
    #[serde(default)]
    pub secrets: Vec<AppSecret>,
}

/// Reply to `DELETE /apps/{app}/secrets/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteSecretResponse {
    pub version: u64,
}
