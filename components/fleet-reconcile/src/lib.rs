//! Fleet's level-triggered reconcile of one user's Fly app: a pure decision function ([`decide`]) and
//! the executor that performs one step at a time under the row's lease.

pub mod decide;
pub mod observed;

pub use decide::{decide, Action, Situation};
pub use observed::{MachineState, ObservedApp, ObservedMachine};
