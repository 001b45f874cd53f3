//! Operator alerts. Each sweep that drives the fleet looks at the fleet as it now is and lists the alert
//! conditions that hold ([`rules`], pure), decides from the stored state of every condition which ones fire,
//! re-notify or resolve ([`decide`], pure), and records each transition with its notification in the outbox
//! (evaluate.rs). After the sweep's own work, pending notifications are delivered to the configured webhook
//! within a bounded time, each claimed by one worker ([`deliver`]); a failed delivery is retried by a later
//! sweep. Bodies are rendered by [`body`] (Slack-compatible or generic JSON).

pub mod body;
pub mod decide;
pub mod deliver;
mod evaluate;

pub(crate) use evaluate::AlertFacts;
pub mod rules;

pub use body::WebhookFormat;
pub use decide::{decide, Transition};
pub use deliver::{deliver_alerts, AlertSink, DeliveryReport};
pub use rules::{conditions, AlertKind, AlertRules, Condition, Evaluated, FleetFacts, Severity};
