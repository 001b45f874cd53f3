//! Where the local run finds what the build produced: the `.wasm` components, the Spin host and the
//! `screener` binary.
//!
//! Both come from the same cargo target directory as the running executable (`<target>/debug/fleet-up`, or a
//! test binary in `<target>/debug/deps/`), so `cargo run` and `cargo test` find what cargo just built, whatever
//! `CARGO_TARGET_DIR` is.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The repository root: the directory holding spin.toml (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/local-run sits two levels below the repository root")
        .to_path_buf()
}

/// `<target>/<profile>` of the running executable.
pub fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe
        .parent()
        .context("the executable has no directory")?
        .to_path_buf();
    if dir
        .file_name()
        .is_some_and(|name| name == "deps" || name == "examples")
    {
        dir.pop();
    }
    Ok(dir)
}

/// `<target>/wasm32-wasip2/release`, where `cargo build --target wasm32-wasip2 --release` puts components.
pub fn default_components_dir() -> Result<PathBuf> {
    let profile = profile_dir()?;
    let target = profile
        .parent()
        .context("the profile directory has no parent")?;
    Ok(target.join("wasm32-wasip2").join("release"))
}

/// The `screener` executable built next to this one.
pub fn default_screener_bin() -> Result<PathBuf> {
    Ok(profile_dir()?.join("screener"))
}

/// The Spin host built next to this executable.
pub fn default_host_bin() -> Result<PathBuf> {
    Ok(profile_dir()?.join("spin-test-host"))
}

/// The replay sample shipped with the screener.
pub fn default_replay_file(repo: &Path) -> PathBuf {
    repo.join("screener").join("replay").join("sample.jsonl")
}

/// Fails with the command that builds `what` when `path` is missing.
pub fn require(path: &Path, what: &str, build: &str) -> Result<()> {
    if !path.exists() {
        bail!(
            "{what} not found at {}: build it with `{build}` (tests/fleet up does)",
            path.display()
        );
    }
    Ok(())
}
