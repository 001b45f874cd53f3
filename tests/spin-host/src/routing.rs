//! HTTP route matching with Spin's rules: `/...` suffix = wildcard, an exact route beats every wildcard, and among
//! wildcards the longest prefix wins.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// The prefix before `/...`, without a trailing slash ("" for the catch-all `/...`).
    Wildcard(String),
}

#[derive(Debug, Clone)]
struct Route {
    pattern: Pattern,
    raw: String,
    component_id: String,
}

/// What the host tells the component about the match, through the `spin-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub component_id: String,
    /// The route as written in spin.toml, e.g. `/api/...` (spin-raw-component-route and spin-matched-route).
    pub raw_route: String,
    /// The route without its wildcard suffix, e.g. `/api` (spin-component-route).
    pub component_route: String,
    /// The request path below the route, e.g. `/items/1`; empty for exact matches (spin-path-info).
    pub path_info: String,
}

#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Builds the router from (route, component id) pairs; duplicate routes are a startup error.
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut router = Router::default();
        for (raw, component_id) in routes {
            let pattern = parse(raw)?;
            if let Some(existing) = router.routes.iter().find(|r| r.pattern == pattern) {
                bail!(
                    "route `{raw}` of component `{component_id}` duplicates route `{}` of component `{}`",
                    existing.raw,
                    existing.component_id
                );
            }
            router.routes.push(Route {
                pattern,
                raw: raw.to_string(),
                component_id: component_id.to_string(),
            });
        }
        Ok(router)
    }

    /// (route as written, component id) pairs, in manifest order.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.routes
            .iter()
            .map(|r| (r.raw.clone(), r.component_id.clone()))
            .collect()
    }

    /// The most specific route for `path` (a URL path without query), if any.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let trimmed = trim_trailing_slash(path);
        let exact = self.routes.iter().find(|route| match &route.pattern {
            Pattern::Exact(exact) => exact == trimmed,
            Pattern::Wildcard(_) => false,
        });
        if let Some(route) = exact {
            return Some(route.matched(route_text(&route.pattern), String::new()));
        }
        self.routes
            .iter()
            .filter_map(|route| match &route.pattern {
                Pattern::Wildcard(prefix) => {
                    wildcard_rest(prefix, path).map(|rest| (prefix, route, rest))
                }
                Pattern::Exact(_) => None,
            })
            .max_by_key(|(prefix, _, _)| prefix.len())
            .map(|(prefix, route, rest)| route.matched(prefix.clone(), rest.to_string()))
    }
}

impl Route {
    fn matched(&self, component_route: String, path_info: String) -> RouteMatch {
        RouteMatch {
            component_id: self.component_id.clone(),
            raw_route: self.raw.clone(),
            component_route,
            path_info,
        }
    }
}

fn parse(raw: &str) -> Result<Pattern> {
    if !raw.starts_with('/') {
        bail!("route `{raw}` must start with `/`");
    }
    if let Some(prefix) = raw.strip_suffix("/...") {
        return Ok(Pattern::Wildcard(trim_trailing_slash(prefix).to_string()));
    }
    if raw.contains("...") {
        bail!("route `{raw}`: `...` is only allowed as the final `/...` segment");
    }
    Ok(Pattern::Exact(trim_trailing_slash(raw).to_string()))
}

fn route_text(pattern: &Pattern) -> String {
    match pattern {
        Pattern::Exact(path) if path.is_empty() => "/".to_string(),
        Pattern::Exact(path) | Pattern::Wildcard(path) => path.clone(),
    }
}

/// `/api` matches `/api` and `/api/x`, never `/apix`. Returns the part after the prefix.
fn wildcard_rest<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn trim_trailing_slash(path: &str) -> &str {
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else if path == "/" {
        ""
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new([
            ("/...", "fallback"),
            ("/api/...", "api"),
            ("/api/exact", "exact"),
            ("/api/items/...", "items"),
            ("/", "root"),
        ])
        .unwrap()
    }

    fn component(path: &str) -> Option<String> {
        router().route(path).map(|m| m.component_id)
    }

    #[test]
    fn exact_beats_wildcards_and_longest_prefix_wins() {
        assert_eq!(component("/api/exact").as_deref(), Some("exact"));
        assert_eq!(component("/api/exact/").as_deref(), Some("exact"));
        assert_eq!(component("/api/exact/more").as_deref(), Some("api"));
        assert_eq!(component("/api/items/7").as_deref(), Some("items"));
        assert_eq!(component("/api/items").as_deref(), Some("items"));
        assert_eq!(component("/api/other").as_deref(), Some("api"));
        assert_eq!(component("/apix").as_deref(), Some("fallback"));
        assert_eq!(component("/").as_deref(), Some("root"));
        assert_eq!(component("/anything/else").as_deref(), Some("fallback"));
    }

    #[test]
    fn match_reports_spin_header_values() {
        let m = router().route("/api/items/7/x").unwrap();
        assert_eq!(m.raw_route, "/api/items/...");
        assert_eq!(m.component_route, "/api/items");
        assert_eq!(m.path_info, "/7/x");
        let m = router().route("/api/exact").unwrap();
        assert_eq!(
            (m.component_route.as_str(), m.path_info.as_str()),
            ("/api/exact", "")
        );
        let m = router().route("/zzz").unwrap();
        assert_eq!(
            (m.component_route.as_str(), m.path_info.as_str()),
            ("", "/zzz")
        );
    }

    #[test]
    fn no_catch_all_means_no_match() {
        let router = Router::new([("/only", "a")]).unwrap();
        assert!(router.route("/other").is_none());
        assert!(router.route("/only").is_some());
    }

    #[test]
    fn duplicate_and_malformed_routes_are_rejected() {
        assert!(Router::new([("/a/...", "x"), ("/a/...", "y")]).is_err());
        assert!(Router::new([("/a", "x"), ("/a/", "y")]).is_err());
        assert!(Router::new([("a", "x")]).is_err());
        assert!(Router::new([("/a/.../b", "x")]).is_err());
    }
}
