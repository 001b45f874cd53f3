//! Forced deprovisions ("holds"): an operator keeps an entitled user's app down (abuse, cost) until an
//! operator lifts it. A hold is fleet-wide state under `deprovision_hold:<user id>` in `fleet_state`, so both
//! dialects carry it without a schema change; the decision (fleet-reconcile `wants_app`) treats a held user
//! as not entitled.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::error::StoreError;
use crate::sql::SqlConnection;
use crate::store::Store;
use crate::types::{format_time, parse_time, UserId};

const PREFIX: &str = "deprovision_hold:";

/// One forced deprovision: who set it, why and when. The reason is the operator's note (bounded text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub user_id: UserId,
    pub operator: String,
    pub reason: String,
    pub since: DateTime<Utc>,
}

impl Hold {
    /// The hold as stored and as the admin API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "user_id": self.user_id.to_string(),
            "operator": self.operator,
            "reason": self.reason,
            "since": format_time(self.since),
        })
    }

    fn from_json(value: &Value) -> Result<Hold, StoreError> {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| StoreError::Decode(format!("deprovision hold: no {key}")))
        };
        Ok(Hold {
            user_id: UserId::parse(&text("user_id")?)?,
            operator: text("operator")?,
            reason: text("reason")?,
            since: parse_time(&text("since")?)?,
        })
    }
}

/// The `fleet_state` key of a user's hold.
pub fn hold_key(user_id: UserId) -> String {
    format!("{PREFIX}{user_id}")
}

impl<C: SqlConnection> Store<C> {
    /// The user's hold, if an operator forced the app down.
    pub fn hold(&mut self, user_id: UserId) -> Result<Option<Hold>, StoreError> {
        self.state(&hold_key(user_id))?
            .map(|value| Hold::from_json(&value))
            .transpose()
    }

    /// Sets (or keeps) a hold. Idempotent: an existing hold keeps its operator, reason and time; returns
    /// whether this call created it.
    pub fn put_hold(&mut self, hold: &Hold) -> Result<bool, StoreError> {
        let value = hold.to_json();
        let changed = self.execute(
            "INSERT INTO fleet_state (key, value, updated_at) VALUES ({text:1}, {json:2}, {ts:3}) \
             ON CONFLICT (key) DO NOTHING",
            &[
                hold_key(hold.user_id).into(),
                value.to_string().into(),
                format_time(hold.since).into(),
            ],
        )?;
        Ok(changed > 0)
    }

    /// Lifts a hold; returns whether there was one.
    pub fn lift_hold(&mut self, user_id: UserId) -> Result<bool, StoreError> {
        let changed = self.execute(
            "DELETE FROM fleet_state WHERE key = {text:1}",
            &[hold_key(user_id).into()],
        )?;
        Ok(changed > 0)
    }

    /// Every hold, oldest first.
    pub fn holds(&mut self) -> Result<Vec<Hold>, StoreError> {
        let rows = self.query(
            "SELECT {text_out:value} FROM fleet_state WHERE key LIKE {text:1} ORDER BY updated_at, key",
            &[format!("{PREFIX}%").into()],
        )?;
        rows.iter()
            .map(|row| {
                let value: Value = serde_json::from_str(&row.text("value")?)
                    .map_err(|e| StoreError::Decode(format!("deprovision hold: {e}")))?;
                Hold::from_json(&value)
            })
            .collect()
    }
}
