//! Deterministic app names and the pure decision for a name collision (422 `name_taken`).

use crate::ids::{AppName, OrgSlug, UserId};
use sha2::{Digest, Sha256};

/// The prefix of every Fleet user app.
pub const APP_PREFIX: &str = "vyx-user";

/// Hex lengths tried in order: the seed design's 8, then longer ones when a name is held by another org.
pub const CANDIDATE_HEX_LENGTHS: [usize; 3] = [8, 12, 16];

/// The ordered candidate names for one user: `vyx-user-<first N hex of sha256(user id)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCandidates(Vec<AppName>);

impl NameCandidates {
    pub fn for_user(user: &UserId) -> Self {
        let digest = hex::encode(Sha256::digest(user.as_str().as_bytes()));
        NameCandidates(
            CANDIDATE_HEX_LENGTHS
                .iter()
                .map(|&n| {
                    AppName::parse(format!("{APP_PREFIX}-{}", &digest[..n]))
                        .expect("prefix + hex is a valid app name")
                })
                .collect(),
        )
    }

    /// The first candidate (the name used unless a collision forces another).
    pub fn first(&self) -> &AppName {
        &self.0[0]
    }

    /// The candidate after `current`, or `None` when all are exhausted (or `current` is not ours).
    pub fn after(&self, current: &AppName) -> Option<&AppName> {
        let idx = self.0.iter().position(|c| c == current)?;
        self.0.get(idx + 1)
    }

    pub fn all(&self) -> &[AppName] {
        &self.0
    }
}

/// What `GET /apps/{name}` said after a create answered 422 `name_taken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProbe {
    /// 200 with the app's organization slug.
    Visible { org_slug: String },
    /// 403: the name exists in an org we cannot read.
    Forbidden,
    /// 404: the name is held but not visible (mid-deletion, or just created and not yet readable).
    NotFound,
}

/// What to do about a taken name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollisionOutcome {
    /// The app is ours: adopt it (persist the name, carry on).
    Adopt(AppName),
    /// Someone else holds it: try this next candidate.
    TryNext(AppName),
    /// The name is mid-deletion or not yet visible: retry the same name later.
    RetryLater(AppName),
    /// All candidates are held by others (or the app is visible in another org of ours): needs a human.
    Exhausted,
}

/// The pure collision rule: 200 in our org ⇒ adopt; 403 (or 200 in another org) ⇒ next candidate;
/// 404 ⇒ retry the same name later.
pub fn resolve_collision(
    candidates: &NameCandidates,
    taken: &AppName,
    probe: &NameProbe,
    our_org: &OrgSlug,
) -> CollisionOutcome {
    let next = || match candidates.after(taken) {
        Some(n) => CollisionOutcome::TryNext(n.clone()),
        None => CollisionOutcome::Exhausted,
    };
    match probe {
        NameProbe::Visible { org_slug } if org_slug == our_org.as_str() => {
            CollisionOutcome::Adopt(taken.clone())
        }
        NameProbe::Visible { .. } | NameProbe::Forbidden => next(),
        NameProbe::NotFound => CollisionOutcome::RetryLater(taken.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_prefix_plus_sha256_hex() {
        let c = NameCandidates::for_user(&UserId::new("user-1"));
        let hex = hex::encode(Sha256::digest(b"user-1"));
        assert_eq!(c.first().as_str(), format!("vyx-user-{}", &hex[..8]));
        assert_eq!(c.all()[1].as_str(), format!("vyx-user-{}", &hex[..12]));
        assert_eq!(c.all()[2].as_str(), format!("vyx-user-{}", &hex[..16]));
        assert_eq!(c.after(&c.all()[2].clone()), None);
    }

    #[test]
    fn collision_table() {
        let c = NameCandidates::for_user(&UserId::new("u"));
        let org = OrgSlug::new("fleet");
        let first = c.first().clone();
        let ours = NameProbe::Visible {
            org_slug: "fleet".into(),
        };
        let theirs = NameProbe::Visible {
            org_slug: "other".into(),
        };
        assert_eq!(
            resolve_collision(&c, &first, &ours, &org),
            CollisionOutcome::Adopt(first.clone())
        );
        assert_eq!(
            resolve_collision(&c, &first, &NameProbe::Forbidden, &org),
            CollisionOutcome::TryNext(c.all()[1].clone())
        );
        assert_eq!(
            resolve_collision(&c, &first, &theirs, &org),
            CollisionOutcome::TryNext(c.all()[1].clone())
        );
        assert_eq!(
            resolve_collision(&c, &first, &NameProbe::NotFound, &org),
            CollisionOutcome::RetryLater(first.clone())
        );
        assert_eq!(
            resolve_collision(&c, &c.all()[2].clone(), &NameProbe::Forbidden, &org),
            CollisionOutcome::Exhausted
        );
    }
}
