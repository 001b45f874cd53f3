//! Where the built `.wasm` components live.

use std::path::PathBuf;

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
