//! Apps: create, get, list.

use serde::{Deserialize, Serialize};

/// `POST /apps`. Sources disagree on `name` vs `app_name`, so both are sent with the same value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateAppRequest {
    pub name: String,
    pub app_name: String,
    pub org_slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
}

/// `GET /apps/{app}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct App {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub organization: Option<Organization>,
    #[serde(default)]
    pub network: Option<serde_json::Value>,
    #[serde(default)]
    pub machine_count: Option<u64>,
}

/// One entry of `GET /apps?org_slug=`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListApp {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub machine_count: Option<u64>,
    #[serde(default)]
    pub network: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListAppsResponse {
    #[serde(default)]
    pub total_apps: u64,
    #[serde(default)]
    pub apps: Vec<ListApp>,
}
