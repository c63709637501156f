//! Finding a role's component from the policy's `component = "..."`.
//!
//! A bare name (`planner`) is a component built from `plugins/` (or
//! `tests/hostile/`) by the host's build script; anything with a `/` or a
//! `.wasm` suffix is a path relative to the project directory.

use std::path::{Path, PathBuf};

/// Where the build script put the guest components. `AGENTWARD_COMPONENT_DIR`
/// overrides it for an installed binary.
pub fn component_dir() -> PathBuf {
    std::env::var_os("AGENTWARD_COMPONENT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("AGENTWARD_BUILT_COMPONENTS")))
}

/// The built component for a crate named `name` (cargo writes `-` as `_`).
pub fn built_component(name: &str) -> PathBuf {
    component_dir().join(format!("{}.wasm", name.replace('-', "_")))
}

pub fn resolve(spec: &str, project_dir: &Path) -> PathBuf {
    if spec.contains('/') || spec.ends_with(".wasm") {
        project_dir.join(spec)
    } else {
        built_component(spec)
    }
}

/// `path` relative to the working directory when it is under it: shorter,
/// and what an operator would type.
pub fn display(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path)
        .display()
        .to_string()
}
