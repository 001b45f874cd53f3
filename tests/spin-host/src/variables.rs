//! Application and component variables, resolved once at startup.
//! Sources, highest priority first: `--variable k=v`, `SPIN_VARIABLE_<NAME>`, the manifest default.
//! A component sees only the variables it declares; their values are templates over application variables.

use crate::manifest::VariableDecl;
use crate::secret::Secret;
use crate::template;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;

const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// Variable values supplied from outside the manifest.
#[derive(Debug, Default, Clone)]
pub struct VariableSources {
    pub flags: BTreeMap<String, Secret<String>>,
    pub env: BTreeMap<String, Secret<String>>,
}

impl VariableSources {
    /// Picks `SPIN_VARIABLE_<NAME>` entries out of an environment (NAME is upper-cased variable name).
    pub fn env_from(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> BTreeMap<String, Secret<String>> {
        vars.into_iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                Some((name, Secret::new(value)))
            })
            .collect()
    }

    /// Parses a `--variable` argument `key=value`.
    pub fn parse_flag(arg: &str) -> Result<(String, Secret<String>)> {
        let (key, value) = arg.split_once('=').ok_or_else(|| {
            anyhow!(
                "--variable expects key=value, got `{}`",
                arg.split('=').next().unwrap_or("")
            )
        })?;
        Ok((key.trim().to_string(), Secret::new(value.to_string())))
    }
}

/// The application's `[variables]`, all resolved.
#[derive(Debug, Clone)]
pub struct AppVariables {
    values: BTreeMap<String, Secret<String>>,
}

impl AppVariables {
    pub fn resolve(
        decls: &BTreeMap<String, VariableDecl>,
        sources: &VariableSources,
    ) -> Result<Self> {
        for name in sources.flags.keys() {
            if !decls.contains_key(name) {
                tracing::warn!(variable = %name, "--variable names a variable the manifest does not declare");
            }
        }
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, decl) in decls {
            let value = sources
                .flags
                .get(name)
                .or_else(|| sources.env.get(name))
                .cloned()
                .or_else(|| decl.default.clone().map(Secret::new));
            match value {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            let hints: Vec<String> = missing
                .iter()
                .map(|name| {
                    format!(
                        "`{name}` (--variable {name}=... or {ENV_PREFIX}{})",
                        name.to_ascii_uppercase()
                    )
                })
                .collect();
            bail!("required variable(s) not set: {}", hints.join(", "));
        }
        Ok(AppVariables { values })
    }

    pub fn get(&self, name: &str) -> Option<&Secret<String>> {
        self.values.get(name)
    }
}

/// Why a component's `variables.get` failed, mirroring fermyon:spin/variables errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableError {
    InvalidName(String),
    Undefined(String),
}

/// The variables one component declared, rendered.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables {
    component_id: String,
    values: BTreeMap<String, Secret<String>>,
}

impl ComponentVariables {
    pub fn resolve(
        component_id: &str,
        templates: &BTreeMap<String, String>,
        app: &AppVariables,
    ) -> Result<Self> {
        let mut values = BTreeMap::new();
        for (name, value_template) in templates {
            let value = template::render(value_template, |reference| {
                app.get(reference).map(|v| v.expose().clone()).ok_or_else(|| {
                    anyhow!("component `{component_id}` variable `{name}` refers to undefined application variable `{reference}`")
                })
            })?;
            values.insert(name.clone(), Secret::new(value));
        }
        Ok(ComponentVariables {
            component_id: component_id.to_string(),
            values,
        })
    }

    pub fn get(&self, name: &str) -> Result<String, VariableError> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(VariableError::InvalidName(format!(
                "invalid variable name `{name}`"
            )));
        }
        self.values
            .get(name)
            .map(|value| value.expose().clone())
            .ok_or_else(|| {
                VariableError::Undefined(format!(
                    "no variable for \"{}\".\"{name}\"",
                    self.component_id
                ))
            })
    }

    /// Resolves a template (e.g. an allowed_outbound_hosts entry): component variables first, then application ones.
    pub fn render(&self, template: &str, app: &AppVariables) -> Result<String> {
        template::render(template, |name| {
            self.values
                .get(name)
                .or_else(|| app.get(name))
                .map(|v| v.expose().clone())
                .ok_or_else(|| anyhow!("`{template}` refers to undefined variable `{name}`"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let mut decls = BTreeMap::new();
        decls.insert(
            "greeting".into(),
            VariableDecl {
                default: Some("hello".into()),
                ..Default::default()
            },
        );
        decls.insert(
            "token".into(),
            VariableDecl {
                required: true,
                secret: true,
                ..Default::default()
            },
        );
        decls
    }

    fn sources(flags: &[(&str, &str)], env: &[(&str, &str)]) -> VariableSources {
        let to_map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(v.to_string())))
                .collect()
        };
        VariableSources {
            flags: to_map(flags),
            env: to_map(env),
        }
    }

    #[test]
    fn flag_beats_env_beats_default() {
        let app = AppVariables::resolve(
            &decls(),
            &sources(
                &[("token", "flag")],
                &[("token", "env"), ("greeting", "hi")],
            ),
        )
        .unwrap();
        assert_eq!(app.get("token").unwrap().expose(), "flag");
        assert_eq!(app.get("greeting").unwrap().expose(), "hi");
        let app = AppVariables::resolve(&decls(), &sources(&[], &[("token", "env")])).unwrap();
        assert_eq!(app.get("token").unwrap().expose(), "env");
        assert_eq!(app.get("greeting").unwrap().expose(), "hello");
    }

    #[test]
    fn missing_required_variable_names_it_and_hides_values() {
        let err = AppVariables::resolve(&decls(), &sources(&[("greeting", "s3cr3t-value")], &[]))
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("`token`") && text.contains("SPIN_VARIABLE_TOKEN"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t-value"), "{text}");
    }

    #[test]
    fn env_names_are_lowercased_and_prefixed() {
        let env = VariableSources::env_from([
            ("SPIN_VARIABLE_PG_HOST".to_string(), "db".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        assert_eq!(env.len(), 1);
        assert_eq!(env["pg_host"].expose(), "db");
        let (key, value) = VariableSources::parse_flag("a=b=c").unwrap();
        assert_eq!((key.as_str(), value.expose().as_str()), ("a", "b=c"));
        assert!(VariableSources::parse_flag("novalue").is_err());
    }

    #[test]
    fn component_sees_only_declared_templated_variables() {
        let app = AppVariables::resolve(&decls(), &sources(&[("token", "t0k")], &[])).unwrap();
        let mut templates = BTreeMap::new();
        templates.insert("auth".to_string(), "Bearer {{ token }}".to_string());
        let vars = ComponentVariables::resolve("api", &templates, &app).unwrap();
        assert_eq!(vars.get("auth").unwrap(), "Bearer t0k");
        assert!(matches!(
            vars.get("token"),
            Err(VariableError::Undefined(_))
        ));
        assert!(matches!(
            vars.get("Bad-Name"),
            Err(VariableError::InvalidName(_))
        ));
        templates.insert("x".to_string(), "{{ nope }}".to_string());
        let err = ComponentVariables::resolve("api", &templates, &app).unwrap_err();
        assert!(format!("{err}").contains("`nope`"));
    }
}
