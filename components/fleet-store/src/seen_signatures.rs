//! The webhook replay guard: a signed request's `(t, mac)` pair is accepted once. Pairs whose `t` is older than
//! the signature tolerance would be refused as stale anyway, so they are pruned as new ones arrive.

use crate::error::StoreError;
use crate::sql::SqlConnection;
use crate::store::Store;

impl<C: SqlConnection> Store<C> {
    /// Records a signature's `(t, mac_hex)`; `false` when it was recorded before (a replay). Also forgets
    /// signatures with `t` before `forget_before`.
    pub fn first_use_of_signature(
        &mut self,
        t: i64,
        mac_hex: &str,
        forget_before: i64,
    ) -> Result<bool, StoreError> {
        self.execute(
            "DELETE FROM fleet_seen_signatures WHERE t < {int:1}",
            &[forget_before.into()],
        )?;
        let inserted = self.execute(
            "INSERT INTO fleet_seen_signatures (t, mac) VALUES ({int:1}, {text:2}) \
             ON CONFLICT (t, mac) DO NOTHING",
            &[t.into(), mac_hex.into()],
        )?;
        Ok(inserted == 1)
    }
}
