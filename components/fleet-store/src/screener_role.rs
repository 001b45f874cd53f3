//! Per-user screener database roles (Postgres only). The provision flow creates one LOGIN role per user,
//! a member of `fleet_screener` mapped to that user, and drops it on deprovision.
//!
//! The password never reaches the server: the store sends a SCRAM-SHA-256 verifier (RFC 5802/7677, the
//! format PostgreSQL stores), which is useless for logging in. So it cannot leak into server logs even with
//! `log_statement = 'all'`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::sql::{Dialect, SqlConnection};
use crate::store::Store;
use crate::types::UserId;

/// PBKDF2 iterations, PostgreSQL's default for SCRAM-SHA-256.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// The role name of a user's screener: `fleet_scr_` + the user id's 32 hex digits (42 characters).
pub fn screener_role_name(user_id: UserId) -> String {
    format!("fleet_scr_{}", user_id.simple())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA256 with a 32-byte output (one block).
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac_sha256(password, &block);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac_sha256(password, &u);
        out.iter_mut().zip(u.iter()).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` for a password and a random salt.
pub fn scram_sha256_verifier(password: &str, salt: &[u8; 16]) -> String {
    let salted = salted_password(password.as_bytes(), salt, SCRAM_ITERATIONS);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

impl<C: SqlConnection> Store<C> {
    /// Creates (or re-keys) the user's screener LOGIN role and maps it to the user. `salt` must be fresh
    /// random bytes. Returns the role name. Idempotent; refuses roles that are not this user's screener role.
    pub fn create_screener_role(
        &mut self,
        user_id: UserId,
        password: &str,
        salt: &[u8; 16],
    ) -> Result<String, StoreError> {
        if self.dialect() != Dialect::Postgres {
            return Err(StoreError::PostgresOnly("a per-user screener role"));
        }
        let role = screener_role_name(user_id);
        // execute, not query: the function returns void, which has no row representation.
        self.execute(
            "SELECT fleet.create_screener_role({text:1}, {uuid:2}, {text:3})",
            &[
                role.as_str().into(),
                user_id.to_string().into(),
                scram_sha256_verifier(password, salt).into(),
            ],
        )?;
        Ok(role)
    }

    /// Revokes a screener role: NOLOGIN, ends its sessions, drops it and its mapping. Returns `false` when it
    /// was already gone.
    pub fn drop_screener_role(&mut self, role_name: &str) -> Result<bool, StoreError> {
        if self.dialect() != Dialect::Postgres {
            return Err(StoreError::PostgresOnly("a per-user screener role"));
        }
        let rows = self.query(
            "SELECT fleet.drop_screener_role({text:1}) AS dropped",
            &[role_name.into()],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Decode("drop_screener_role returned no row".into()))?;
        Ok(row.bool("dropped")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_matches_an_independent_implementation() {
        // Computed with Python's hashlib.pbkdf2_hmac / hmac for password "s3cret-A" and salt 00..ff.
        let salt: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        assert_eq!(
            scram_sha256_verifier("s3cret-A", &salt),
            "SCRAM-SHA-256$4096:ABEiM0RVZneImaq7zN3u/w==$6F+AP1WpdPMrhxlupauvdOWBCBER2oB6J2+st2dyf84=:\
             J+vN14y3cQ76gQyF8pABFRc6OF1woOwzxwkur5hV8DM="
        );
    }

    #[test]
    fn role_names_are_derived_from_the_user() {
        let user = UserId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap();
        assert_eq!(
            screener_role_name(user),
            "fleet_scr_aaaaaaaa000040008000000000000001"
        );
    }
}
