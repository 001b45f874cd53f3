//! The app manifest the local run serves: the repository's spin.toml, with component sources pointing at the
//! directory the components were built into (which may be any `CARGO_TARGET_DIR`).

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where spin.toml expects the components (relative to the repository root).
const BUILT_COMPONENTS: &str = "target/wasm32-wasip2/release";

/// What the local run needs to know about the manifest it serves.
pub struct PreparedManifest {
    pub path: PathBuf,
    /// The application variables spin.toml declares: only these are passed to the host.
    pub variables: BTreeSet<String>,
    /// Component ids (e.g. `provision`, `health`, `admin`).
    pub components: BTreeSet<String>,
}

impl PreparedManifest {
    pub fn declares(&self, variable: &str) -> bool {
        self.variables.contains(variable)
    }
}

/// Copies `<repo>/spin.toml` to `<state_dir>/spin.toml` with sources under `components_dir`, and checks that
/// every component it names was built.
pub fn prepare(repo: &Path, components_dir: &Path, state_dir: &Path) -> Result<PreparedManifest> {
    let source = repo.join("spin.toml");
    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("reading {}", source.display()))?;
    let rewritten = text.replace(BUILT_COMPONENTS, &components_dir.display().to_string());
    let parsed: toml::Table = rewritten
        .parse()
        .with_context(|| format!("parsing {}", source.display()))?;
    let variables = table_keys(&parsed, "variables");
    let components = table_keys(&parsed, "component");
    for id in &components {
        let wasm = parsed["component"][id.as_str()]
            .get("source")
            .and_then(|s| s.as_str())
            .map(PathBuf::from);
        if let Some(wasm) = wasm {
            crate::paths::require(
                &wasm,
                &format!("component `{id}`"),
                &format!("cargo build --target wasm32-wasip2 --release -p {id}"),
            )?;
        }
    }
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let path = state_dir.join("spin.toml");
    std::fs::write(&path, rewritten).with_context(|| format!("writing {}", path.display()))?;
    Ok(PreparedManifest {
        path,
        variables,
        components,
    })
}

fn table_keys(table: &toml::Table, name: &str) -> BTreeSet<String> {
    table
        .get(name)
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_move_to_the_build_directory_and_variables_are_listed() {
        let dir =
            std::env::temp_dir().join(format!("fleet-local-run-manifest-{}", uuid::Uuid::new_v4()));
        let (repo, built, state) = (dir.join("repo"), dir.join("built"), dir.join("state"));
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::create_dir_all(&built).unwrap();
        std::fs::write(built.join("api.wasm"), b"\0asm").unwrap();
        std::fs::write(
            repo.join("spin.toml"),
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[variables]\na = { default = \"1\" }\n\
             b = { required = true }\n[component.api]\nsource = \"target/wasm32-wasip2/release/api.wasm\"\n",
        )
        .unwrap();
        let prepared = prepare(&repo, &built, &state).unwrap();
        assert!(prepared.declares("a") && prepared.declares("b") && !prepared.declares("c"));
        let text = std::fs::read_to_string(&prepared.path).unwrap();
        assert!(
            text.contains(&built.join("api.wasm").display().to_string()),
            "{text}"
        );

        std::fs::remove_file(built.join("api.wasm")).unwrap();
        let missing = prepare(&repo, &built, &state).err().unwrap().to_string();
        assert!(
            missing.contains("cargo build --target wasm32-wasip2 --release -p api"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
