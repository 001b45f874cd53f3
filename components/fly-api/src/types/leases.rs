//! Machine leases.

use serde::{Deserialize, Serialize};

/// The lease nonce header required on mutations of a leased machine.
pub const LEASE_NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// `POST /apps/{app}/machines/{id}/lease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateLeaseRequest {
    /// Seconds.
    pub ttl: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub nonce: String,
    /// Unix seconds.
    #[serde(default)]
    pub expires_at: i64,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
}

/// The wrapped shape fly-go decodes: `{"status":"success","data":{…}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaseEnvelope {
    #[serde(default)]
    pub status: String,
    pub data: Lease,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
