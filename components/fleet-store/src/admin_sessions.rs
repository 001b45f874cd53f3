//! Server-side admin sessions: a row per login, keyed by the SHA-256 of the session id, so logout and "sign
//! out everywhere" revoke a cookie before it expires.

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::sql::SqlConnection;
use crate::store::Store;

fn id_hash(session_id: &str) -> String {
    Sha256::digest(session_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<C: SqlConnection> Store<C> {
    /// Records a new session valid until `expires_at`, and forgets sessions that ended a day before `now`.
    pub fn create_admin_session(
        &mut self,
        session_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM fleet_admin_sessions WHERE expires_at < {int:1}",
            &[(now - 86_400).into()],
        )?;
        self.execute(
            "INSERT INTO fleet_admin_sessions (id_hash, created_at, expires_at) VALUES ({text:1}, {int:2}, {int:3})",
            &[id_hash(session_id).into(), now.into(), expires_at.into()],
        )?;
        Ok(())
    }

    /// Whether the session exists, has not expired and was not revoked.
    pub fn admin_session_active(&mut self, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let rows = self.query(
            "SELECT 1 AS live FROM fleet_admin_sessions \
             WHERE id_hash = {text:1} AND expires_at > {int:2} AND revoked_at IS NULL",
            &[id_hash(session_id).into(), now.into()],
        )?;
        Ok(!rows.is_empty())
    }

    /// Revokes one session (logout). `false` when it was not live.
    pub fn revoke_admin_session(&mut self, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE fleet_admin_sessions SET revoked_at = {int:2} \
             WHERE id_hash = {text:1} AND revoked_at IS NULL",
            &[id_hash(session_id).into(), now.into()],
        )?;
        Ok(changed == 1)
    }

    /// Revokes every live session ("sign out everywhere"); returns how many.
    pub fn revoke_all_admin_sessions(&mut self, now: i64) -> Result<u64, StoreError> {
        self.execute(
            "UPDATE fleet_admin_sessions SET revoked_at = {int:1} \
             WHERE revoked_at IS NULL AND expires_at > {int:1}",
            &[now.into()],
        )
    }
}
