//! `{{ name }}` templates, as used in component variables and allowed_outbound_hosts.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Variable(String),
}

/// Splits a template into literal text and variable references.
pub fn parse(template: &str) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unterminated `{{{{` in template `{template}`");
        };
        let name = after[..end].trim();
        if name.is_empty() {
            bail!("empty `{{{{ }}}}` in template `{template}`");
        }
        parts.push(Part::Variable(name.to_string()));
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        bail!("unmatched `}}}}` in template `{template}`");
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(parts)
}

/// Renders a template, looking each variable up with `lookup`. Errors name the variable, never a value.
pub fn render(template: &str, mut lookup: impl FnMut(&str) -> Result<String>) -> Result<String> {
    let mut out = String::new();
    for part in parse(template)? {
        match part {
            Part::Literal(text) => out.push_str(&text),
            Part::Variable(name) => out.push_str(&lookup(&name)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_between_literals() {
        let rendered = render("postgres://app:{{ pw }}@{{host}}:5432", |name| {
            Ok(format!("<{name}>"))
        })
        .unwrap();
        assert_eq!(rendered, "postgres://app:<pw>@<host>:5432");
    }

    #[test]
    fn rejects_malformed_templates() {
        assert!(parse("a {{ b").is_err());
        assert!(parse("a {{ }} b").is_err());
        assert!(parse("a }} b").is_err());
        assert_eq!(parse("plain").unwrap(), vec![Part::Literal("plain".into())]);
    }
}
