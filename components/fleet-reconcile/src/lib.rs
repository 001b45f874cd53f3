//! Fleet's level-triggered reconcile of one user's Fly app: a pure decision function ([`decide`]) and
//! the executor ([`Reconciler`]) that performs one step at a time under the row's lease.

pub mod cause;
pub mod clock;
pub mod config;
pub mod counting;
pub mod decide;
pub mod deployment;
pub mod exposure;
pub mod migration;
pub mod migration_release;
pub mod observe;
pub mod observed;
pub mod outcome;
mod pass;
pub mod screener_db;
mod steps;
pub mod tier_size;

pub use cause::{wants_app, Cause};
pub use clock::{Clock, SystemClock};
pub use config::{validate_image, DatabaseAccess, ReconcileConfig};
pub use counting::CountingTransport;
pub use decide::{decide, Action, Situation};
pub use deployment::{ca_cert_secrets, refuse_shared_database_on_real_fly, CA_CERT_SECRET};
pub use exposure::{exposure_from, probe_token, Exposure, PROBE_TOKEN_SECRET};
pub use observed::{MachineState, ObservedApp, ObservedMachine};
pub use outcome::Outcome;
pub use pass::{action_label, Reconciler};
pub use screener_db::{per_user_role_access, screener_database_url, PoolMode, VariableError};
