//! Where the built `.wasm` components live.

use std::path::{Path, PathBuf};

/// The release `.wasm` of a component crate (`crate_name` with `-` or `_`), built for wasm32-wasip2.
///
/// Panics with the command that builds it when it is missing, so a test never silently skips a component.
pub fn component_path(crate_name: &str) -> PathBuf {
    let file = format!("{}.wasm", crate_name.replace('-', "_"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    let path = target_dir.join("wasm32-wasip2/release").join(&file);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --target wasm32-wasip2 --release -p {}` \
         (tests/fleet test builds every component first)",
        path.display(),
        crate_name.replace('_', "-"),
    );
    path
}

/// Fleet's spin.toml copied into `dir` with its `source` paths pointing at the built components, so a host finds
/// them wherever they were built. Panics (with the build command) when a component is missing.
pub fn manifest_in(dir: &Path) -> PathBuf {
    let built = ["provision", "deprovision", "health", "admin"].map(component_path);
    let release_dir = built[0]
        .parent()
        .expect("release dir")
        .display()
        .to_string();
    let text = std::fs::read_to_string(crate::workspace_root().join("spin.toml"))
        .expect("read spin.toml")
        .replace("target/wasm32-wasip2/release", &release_dir);
    let manifest = dir.join("spin.toml");
    std::fs::write(&manifest, text).expect("write manifest");
    manifest
}
