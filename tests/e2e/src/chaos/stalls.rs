//! Issue 14's rule for the state left after faults stop: **no row in a transitional state** (`provisioning`,
//! `deprovisioning`), and **every user not at their entitlement has a row with a non-empty `error_message`**
//! (entitled ⇒ `active`; not entitled ⇒ no row or `deleted`). A user this finds is "stuck": Fleet neither got
//! them where their subscription says nor said why.

use fleet_store::UserId;

/// One user's row as the rule sees it (read with SQL, so it holds whatever the store's types are).
#[derive(Clone, Debug)]
pub struct RowState {
    pub user: String,
    pub entitled: bool,
    /// `None` when the user has no row.
    pub status: Option<String>,
    pub error_message: Option<String>,
    pub attempts: Option<i32>,
    pub app: Option<String>,
}

impl RowState {
    pub fn transitional(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("provisioning" | "deprovisioning")
        )
    }

    pub fn at_entitlement(&self) -> bool {
        matches!(
            (self.entitled, self.status.as_deref()),
            (true, Some("active")) | (false, None | Some("deleted"))
        )
    }

    pub fn explained(&self) -> bool {
        self.error_message
            .as_deref()
            .is_some_and(|m| !m.trim().is_empty())
    }

    /// Why this user breaks the rule, if they do.
    pub fn stuck(&self) -> Option<String> {
        let why = if self.transitional() {
            "in a transitional state"
        } else if !self.at_entitlement() && !self.explained() {
            "not at their entitlement and nothing says why"
        } else {
            return None;
        };
        Some(format!(
            "{}: {why} (entitled {}, status {:?}, attempts {:?}, error_message {:?}, app {:?})",
            self.user, self.entitled, self.status, self.attempts, self.error_message, self.app
        ))
    }
}

/// The rows of `users` with their entitlement by `fleet.entitled`, in `users` order.
pub fn row_states(db: &mut postgres::Client, users: &[UserId]) -> Vec<RowState> {
    let ids: Vec<String> = users.iter().map(UserId::to_string).collect();
    db.query(
        "SELECT u.id, coalesce(e.entitled, false), a.status, a.error_message, a.retry_count, a.fly_app_name \
           FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n) \
           LEFT JOIN fleet_entitlements e ON e.user_id = u.id::uuid \
           LEFT JOIN user_fly_apps a ON a.user_id = u.id::uuid \
          ORDER BY u.n",
        &[&ids],
    )
    .expect("read rows and entitlements")
    .iter()
    .map(|r| RowState {
        user: r.get(0),
        entitled: r.get(1),
        status: r.get(2),
        error_message: r.get(3),
        attempts: r.get(4),
        app: r.get(5),
    })
    .collect()
}

/// Every user that breaks the rule (empty when none is stuck).
pub fn stuck(db: &mut postgres::Client, users: &[UserId]) -> Vec<String> {
    row_states(db, users)
        .iter()
        .filter_map(RowState::stuck)
        .collect()
}
