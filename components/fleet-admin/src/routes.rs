//! The admin routes, matched on clean path segments only: anything that looks like traversal or encoding
//! tricks (`..`, `.`, `%`, `\`, empty segments) is not a route and gets a 404 JSON error.

use fleet_http::ApiError;
use fleet_store::UserId;

use crate::http::Method;

/// An action on one user's app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppAction {
    Reconcile,
    Retry,
    Reprovision,
    Deprovision,
}

impl AppAction {
    fn parse(segment: &str) -> Option<Self> {
        Some(match segment {
            "reconcile" => AppAction::Reconcile,
            "retry" => AppAction::Retry,
            "reprovision" => AppAction::Reprovision,
            "deprovision" => AppAction::Deprovision,
            _ => return None,
        })
    }

    /// The `admin_action` recorded on events.
    pub fn name(self) -> &'static str {
        match self {
            AppAction::Reconcile => "reconcile",
            AppAction::Retry => "retry",
            AppAction::Reprovision => "force_reprovision",
            AppAction::Deprovision => "deprovision",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Page,
    Login,
    Logout,
    Session,
    Summary,
    Apps,
    App(UserId),
    Action(UserId, AppAction),
    SetTier(UserId),
    Orphans,
    /// Confirms the orphan deletions the sweep holds above its per-sweep cap.
    ConfirmOrphans,
    Signals,
    /// Alerts firing now and the alert history.
    Alerts,
    /// "Sign out everywhere": revokes every admin session.
    RevokeSessions,
    Migrations,
    StartMigration,
    AdvanceMigration,
    CancelMigration,
    /// Users by id or email (`?q=`), or every user Fleet has a row or hold for.
    Users,
    /// "Provision now" for a user with no row yet, by id or email.
    ProvisionNow,
    /// A forced deprovision that holds until lifted.
    Hold(UserId),
    /// Lifts a forced deprovision.
    Release(UserId),
    Holds,
    /// The seed's admin figures: success rate, failures, cost per user.
    Report,
}

impl Route {
    /// Routes that change state: they need the bearer token, or the session cookie plus the CSRF token.
    pub fn changes_state(&self) -> bool {
        matches!(
            self,
            Route::Action(..)
                | Route::SetTier(_)
                | Route::StartMigration
                | Route::AdvanceMigration
                | Route::CancelMigration
                | Route::ProvisionNow
                | Route::Hold(_)
                | Route::Release(_)
                | Route::ConfirmOrphans
                | Route::RevokeSessions
        )
    }

    /// Routes anyone may call: the page shell (it holds no data) and the login/logout forms.
    pub fn is_public(&self) -> bool {
        matches!(self, Route::Page | Route::Login | Route::Logout)
    }
}

/// Matches a method and path to a route: 404 for unknown or suspicious paths, 405 for a wrong method.
pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let not_found = || ApiError::not_found(format!("no admin route {}", printable(path)));
    let rest = path.strip_prefix("/admin").ok_or_else(not_found)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.strip_prefix('/')
            .ok_or_else(not_found)?
            .split('/')
            .collect()
    };
    if segments.iter().any(|s| !clean_segment(s)) {
        return Err(not_found());
    }
    let user = |s: &str| UserId::parse(s).map_err(|_| not_found());
    let (route, allowed) = match segments.as_slice() {
        [] => (Route::Page, "GET"),
        ["login"] => (Route::Login, "POST"),
        ["logout"] => (Route::Logout, "POST"),
        ["api", "session"] => (Route::Session, "GET"),
        ["api", "summary"] => (Route::Summary, "GET"),
        ["api", "apps"] => (Route::Apps, "GET"),
        ["api", "apps", id] => (Route::App(user(id)?), "GET"),
        ["api", "apps", id, action] => match AppAction::parse(action) {
            Some(action) => (Route::Action(user(id)?, action), "POST"),
            None => return Err(not_found()),
        },
        ["api", "users", id, "tier"] => (Route::SetTier(user(id)?), "POST"),
        ["api", "users"] => (Route::Users, "GET"),
        ["api", "users", "provision"] => (Route::ProvisionNow, "POST"),
        ["api", "users", id, "hold"] => (Route::Hold(user(id)?), "POST"),
        ["api", "users", id, "release"] => (Route::Release(user(id)?), "POST"),
        ["api", "holds"] => (Route::Holds, "GET"),
        ["api", "report"] => (Route::Report, "GET"),
        ["api", "orphans"] => (Route::Orphans, "GET"),
        ["api", "orphans", "confirm"] => (Route::ConfirmOrphans, "POST"),
        ["api", "signals"] => (Route::Signals, "GET"),
        ["api", "alerts"] => (Route::Alerts, "GET"),
        ["api", "sessions", "revoke"] => (Route::RevokeSessions, "POST"),
        ["api", "migrations"] if !method.is_read() => (Route::StartMigration, "GET or POST"),
        ["api", "migrations"] => (Route::Migrations, "GET or POST"),
        ["api", "migrations", "advance"] => (Route::AdvanceMigration, "POST"),
        ["api", "migrations", "cancel"] => (Route::CancelMigration, "POST"),
        _ => return Err(not_found()),
    };
    let method_ok = match allowed {
        "GET" => method.is_read(),
        "POST" => *method == Method::Post,
        _ => method.is_read() || *method == Method::Post,
    };
    if method_ok {
        Ok(route)
    } else {
        Err(ApiError::method_not_allowed(allowed))
    }
}

/// Plain ASCII names only: no dots-only segments, no percent-encoding, no backslashes, no empties.
fn clean_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The path as it may be echoed in an error: printable ASCII, bounded.
fn printable(path: &str) -> String {
    path.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

    fn get(path: &str) -> Result<Route, ApiError> {
        route(&Method::Get, path)
    }

    fn post(path: &str) -> Result<Route, ApiError> {
        route(&Method::Post, path)
    }

    #[test]
    fn known_routes_match() {
        assert_eq!(get("/admin").unwrap(), Route::Page);
        assert_eq!(get("/admin/").unwrap(), Route::Page);
        assert_eq!(get("/admin/api/summary").unwrap(), Route::Summary);
        let user = UserId::parse(USER).unwrap();
        assert_eq!(
            get(&format!("/admin/api/apps/{USER}")).unwrap(),
            Route::App(user)
        );
        assert_eq!(
            post(&format!("/admin/api/apps/{USER}/deprovision")).unwrap(),
            Route::Action(user, AppAction::Deprovision)
        );
        assert_eq!(
            post(&format!("/admin/api/users/{USER}/tier")).unwrap(),
            Route::SetTier(user)
        );
        assert_eq!(
            post("/admin/api/migrations").unwrap(),
            Route::StartMigration
        );
        assert_eq!(get("/admin/api/migrations").unwrap(), Route::Migrations);
        assert_eq!(
            post("/admin/api/migrations/cancel").unwrap(),
            Route::CancelMigration
        );
        assert!(Route::CancelMigration.changes_state());
        assert_eq!(get("/admin/api/signals").unwrap(), Route::Signals);
        assert_eq!(get("/admin/api/alerts").unwrap(), Route::Alerts);
        assert!(!Route::Alerts.changes_state() && post("/admin/api/alerts").is_err());
        assert_eq!(get("/admin/api/users").unwrap(), Route::Users);
        assert_eq!(get("/admin/api/report").unwrap(), Route::Report);
        assert_eq!(
            post("/admin/api/users/provision").unwrap(),
            Route::ProvisionNow
        );
        assert_eq!(
            post(&format!("/admin/api/users/{USER}/hold")).unwrap(),
            Route::Hold(user)
        );
        for route in [Route::ProvisionNow, Route::Hold(user), Route::Release(user)] {
            assert!(route.changes_state());
        }
        assert!(!Route::Users.changes_state() && !Route::Report.changes_state());
        assert!(!Route::Signals.is_public() && !Route::Signals.changes_state());
        assert_eq!(
            post("/admin/api/orphans/confirm").unwrap(),
            Route::ConfirmOrphans
        );
        assert!(Route::ConfirmOrphans.changes_state());
    }

    #[test]
    fn traversal_and_encoding_tricks_are_404() {
        for path in [
            "/admin/../spin.toml",
            "/admin/api/../../etc/passwd",
            "/admin/api/apps/..%2f..%2fetc",
            "/admin/api/%2e%2e/summary",
            "/admin/api//summary",
            "/admin/./api/summary",
            "/admin/api/summary\\..\\x",
            "/administrator",
            "/admin/api/apps/not-a-uuid",
            "/admin/api/apps/AAAAAAAA000040008000000000000001",
            "/admin/api/nothing",
        ] {
            let err = get(path).unwrap_err();
            assert_eq!(err.status, 404, "{path}");
            assert_eq!(err.error, "not_found");
        }
    }

    #[test]
    fn wrong_methods_are_405() {
        assert_eq!(post("/admin/api/summary").unwrap_err().status, 405);
        assert_eq!(post("/admin/api/signals").unwrap_err().status, 405);
        assert_eq!(
            get(&format!("/admin/api/apps/{USER}/retry"))
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(get("/admin/login").unwrap_err().status, 405);
        assert_eq!(
            route(&Method::Other("DELETE".into()), "/admin/api/migrations")
                .unwrap_err()
                .status,
            405
        );
    }

    #[test]
    fn state_changing_routes_are_the_posts_that_act() {
        assert!(post("/admin/api/migrations").unwrap().changes_state());
        assert!(!get("/admin/api/migrations").unwrap().changes_state());
        assert!(!post("/admin/login").unwrap().changes_state());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_paths_never_panic(path in "/admin[/a-z0-9.%\\\\-]{0,60}") {
            let _ = route(&Method::Get, &path);
            let _ = route(&Method::Post, &path);
        }
    }
}
