//! What one reconcile pass reports back to the HTTP handler and the sweep.

use serde::Serialize;

/// The result of one pass over one user.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub user_id: String,
    pub app_name: Option<String>,
    pub status: Option<String>,
    /// The actions performed, in order (e.g. `create_app`, `create_machine`).
    pub actions: Vec<String>,
    /// The observed world matched the desired state at the end of the pass.
    pub converged: bool,
    /// When the row is due again (RFC 3339), if work remains.
    pub next_attempt_at: Option<String>,
    /// Another worker holds the row's lease; this pass did nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
    /// The sanitised error of a failed step, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fly API calls made during the pass.
    pub fly_calls: u32,
}
