//! Typed Fly Machines API client: apps, secrets, machines, leases, error classes, retry policy and app naming.
//!
//! The client is transport-agnostic ([`Transport`]); `native` (reqwest) and `spin` (Spin outbound HTTP)
//! features provide implementations. Nothing here sleeps: the retry policy ([`retry::next_retry`]) is a
//! pure function and callers supply the sleeping.

pub mod calls;
pub mod client;
pub mod error;
pub mod ids;
pub mod launch;
pub mod naming;
pub mod retry;
pub mod secret;
pub mod transport;
pub mod types;

#[cfg(feature = "native")]
pub mod transport_native;
#[cfg(feature = "spin")]
pub mod transport_spin;

pub use calls::AppClaim;
pub use client::{FlyClient, DEFAULT_BASE_URL};
pub use error::{ErrorClass, FlyError};
pub use ids::{AppName, MachineId, OrgSlug, UserId};
pub use launch::{
    create_machine_idempotent, find_machine_by_launch_id, LaunchOptions, LAUNCH_ID_KEY,
};
pub use naming::{resolve_collision, CollisionOutcome, NameCandidates};
pub use retry::{next_retry, with_retries, Decision, Jitter, RetryPolicy};
pub use secret::Secret;
pub use transport::{Transport, TransportError};
