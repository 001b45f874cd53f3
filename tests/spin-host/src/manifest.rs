//! spin.toml (manifest v2): the parts this host honours, parsed and validated before anything starts.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The raw manifest as written. Unknown keys (build, description, key_value_stores, ...) are accepted and ignored.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// `[variables]` entry: exactly one of `default` or `required = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
pub struct HttpTrigger {
    pub route: RouteDecl,
    #[serde(default)]
    pub component: Option<ComponentRef>,
    #[serde(default)]
    pub static_response: Option<toml::Value>,
    #[serde(default)]
    pub executor: Option<Executor>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RouteDecl {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ComponentRef {
    Id(String),
    Inline(Box<ComponentDecl>),
}

#[derive(Debug, Deserialize)]
pub struct Executor {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComponentDecl {
    pub source: SourceDecl,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SourceDecl {
    Path(String),
    Remote { url: String },
}

/// An HTTP component ready to load: its id, where its .wasm is, and its declared capabilities.
#[derive(Debug, Clone)]
pub struct ComponentSpec {
    pub id: String,
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    pub sqlite_databases: Vec<String>,
    pub variables: BTreeMap<String, String>,
}

/// One `[[trigger.http]]` entry, with inline components replaced by their generated id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRouteSpec {
    /// The route as written, or `None` for a private route (reachable only by service chaining).
    pub route: Option<String>,
    pub component_id: String,
}

/// The validated application: what the host needs and nothing else.
#[derive(Debug)]
pub struct AppSpec {
    pub name: String,
    pub base_dir: PathBuf,
    pub variables: BTreeMap<String, VariableDecl>,
    pub routes: Vec<HttpRouteSpec>,
    pub components: BTreeMap<String, ComponentSpec>,
}

/// Reads and validates spin.toml; relative sources resolve against the manifest's directory.
pub fn load(path: &Path) -> Result<AppSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading manifest {}", path.display()))?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    parse(&text, &base_dir).with_context(|| format!("invalid manifest {}", path.display()))
}

pub fn parse(text: &str, base_dir: &Path) -> Result<AppSpec> {
    let manifest: Manifest = toml::from_str(text)?;
    if manifest.spin_manifest_version != 2 {
        bail!(
            "spin_manifest_version {} is not supported (only 2)",
            manifest.spin_manifest_version
        );
    }
    for (name, decl) in &manifest.variables {
        check_variable_name(name)?;
        match (&decl.default, decl.required) {
            (Some(_), true) => {
                bail!("variable `{name}` cannot have both a default and required = true")
            }
            (None, false) => bail!("variable `{name}` needs either a default or required = true"),
            _ => {}
        }
    }
    let mut components = BTreeMap::new();
    for (id, decl) in &manifest.component {
        components.insert(id.clone(), component_spec(id, decl, base_dir)?);
    }
    let mut routes = Vec::new();
    for (index, trigger) in manifest.trigger.http.iter().enumerate() {
        if let Some(executor) = &trigger.executor {
            if executor.kind != "http" && executor.kind != "spin" {
                bail!(
                    "HTTP trigger executor `{}` is not supported by this host",
                    executor.kind
                );
            }
        }
        let component_id = match (&trigger.component, &trigger.static_response) {
            (Some(ComponentRef::Id(id)), _) => {
                if !components.contains_key(id) {
                    bail!("HTTP trigger refers to unknown component `{id}`");
                }
                id.clone()
            }
            (Some(ComponentRef::Inline(decl)), _) => {
                let id = format!("inline-component{index}");
                components.insert(id.clone(), component_spec(&id, decl, base_dir)?);
                id
            }
            (None, Some(_)) => bail!("static_response triggers are not supported by this host"),
            (None, None) => bail!("HTTP trigger #{index} names no component"),
        };
        let route = match &trigger.route {
            RouteDecl::Path(route) => Some(route.clone()),
            RouteDecl::Private { private: true } => None,
            RouteDecl::Private { private: false } => {
                bail!("route = {{ private = false }} is not a route")
            }
        };
        routes.push(HttpRouteSpec {
            route,
            component_id,
        });
    }
    Ok(AppSpec {
        name: manifest.application.name,
        base_dir: base_dir.to_path_buf(),
        variables: manifest.variables,
        routes,
        components,
    })
}

fn component_spec(id: &str, decl: &ComponentDecl, base_dir: &Path) -> Result<ComponentSpec> {
    let source = match &decl.source {
        SourceDecl::Path(path) => base_dir.join(path),
        SourceDecl::Remote { url } => {
            bail!("component `{id}`: remote source {url} is not supported; build it locally")
        }
    };
    for name in decl.variables.keys() {
        check_variable_name(name).with_context(|| format!("component `{id}`"))?;
    }
    Ok(ComponentSpec {
        id: id.to_string(),
        source,
        allowed_outbound_hosts: decl.allowed_outbound_hosts.clone(),
        sqlite_databases: decl.sqlite_databases.clone(),
        variables: decl.variables.clone(),
    })
}

/// Spin's rule: lower_snake_case, starting with a letter.
fn check_variable_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!("variable name `{name}` must be lower_snake_case and start with a letter");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[variables]
greeting = { default = "hello" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/api/..."
component = "api"
[[trigger.http]]
route = { private = true }
component = "api"
[[trigger.http]]
route = "/inline"
component = { source = "inline.wasm" }
[component.api]
source = "target/api.wasm"
allowed_outbound_hosts = ["https://{{ greeting }}.example.com", "postgres://localhost:5432"]
sqlite_databases = ["default"]
[component.api.variables]
message = "{{ greeting }} world"
[component.api.build]
command = "cargo build"
"#;

    #[test]
    fn parses_routes_components_and_variables() {
        let app = parse(MANIFEST, Path::new("/app")).unwrap();
        assert_eq!(app.name, "demo");
        assert!(app.variables["token"].required && app.variables["token"].secret);
        assert_eq!(app.variables["greeting"].default.as_deref(), Some("hello"));
        assert_eq!(app.routes.len(), 3);
        assert_eq!(app.routes[0].route.as_deref(), Some("/api/..."));
        assert_eq!(app.routes[1].route, None);
        assert_eq!(app.routes[2].component_id, "inline-component2");
        let api = &app.components["api"];
        assert_eq!(api.source, PathBuf::from("/app/target/api.wasm"));
        assert_eq!(api.sqlite_databases, vec!["default"]);
        assert_eq!(api.variables["message"], "{{ greeting }} world");
        assert_eq!(api.allowed_outbound_hosts.len(), 2);
    }

    #[test]
    fn rejects_variables_without_default_or_required() {
        let text = MANIFEST.replace("greeting = { default = \"hello\" }", "greeting = {}");
        let err = format!("{:#}", parse(&text, Path::new("/")).unwrap_err());
        assert!(err.contains("greeting"), "{err}");
    }

    #[test]
    fn rejects_unknown_component_and_bad_names() {
        let text = MANIFEST.replace(
            "component = \"api\"\n[[trigger.http]]\nroute = { private",
            "component = \"nope\"\n[[trigger.http]]\nroute = { private",
        );
        let err = format!("{:#}", parse(&text, Path::new("/")).unwrap_err());
        assert!(err.contains("unknown component `nope`"), "{err}");
        let text = MANIFEST.replace("message =", "Message =");
        assert!(parse(&text, Path::new("/")).is_err());
    }

    #[test]
    fn rejects_other_manifest_versions() {
        let text = MANIFEST.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(parse(&text, Path::new("/")).is_err());
    }
}
