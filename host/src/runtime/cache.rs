//! Components compiled once, cached by content hash.
//!
//! Compiling a component takes hundreds of milliseconds; loading a
//! precompiled one takes a few. The on-disk cache holds the output of
//! `Engine::precompile_component`, named by the sha256 of the component and
//! the engine's compatibility hash, so a changed component or an upgraded
//! wasmtime never loads stale code. Loading native code from disk is only as
//! safe as the directory, so the cache directory is created 0700.

use super::RuntimeError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wasmtime::component::Component;
use wasmtime::Engine;

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0, 1, 0];

#[derive(Clone)]
pub struct LoadedComponent {
    pub component: Component,
    /// sha256 of the component bytes, hex.
    pub digest: String,
    /// Whether this load compiled it (it was neither loaded already nor in
    /// the cache directory).
    pub compiled: bool,
}

pub(crate) struct ComponentCache {
    engine: Engine,
    dir: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Component>>,
}

impl ComponentCache {
    pub(crate) fn new(engine: Engine, dir: Option<PathBuf>) -> Self {
        ComponentCache {
            engine,
            dir,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Loads the component at `path`; with `pin`, only if its sha256 is
    /// the pinned one, checked before anything is compiled.
    pub(crate) fn load(
        &self,
        path: &Path,
        pin: Option<(crate::policy::RoleName, &str)>,
    ) -> Result<LoadedComponent, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::ComponentUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some((role, pinned)) = pin.filter(|(_, pinned)| *pinned != digest) {
            return Err(RuntimeError::PinMismatch {
                role,
                path: path.to_path_buf(),
                pinned: pinned.to_string(),
                actual: digest,
            });
        }
        check_header(path, &bytes)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(component) = loaded.get(&digest) {
            return Ok(LoadedComponent {
                component: component.clone(),
                digest,
                compiled: false,
            });
        }
        let (component, compiled) = self.compile_or_reuse(path, &bytes, &digest)?;
        loaded.insert(digest.clone(), component.clone());
        Ok(LoadedComponent {
            component,
            digest,
            compiled,
        })
    }

    /// The component, and whether it had to be compiled.
    fn compile_or_reuse(
        &self,
        path: &Path,
        bytes: &[u8],
        digest: &str,
    ) -> Result<(Component, bool), RuntimeError> {
        let cached = self
            .dir
            .as_ref()
            .map(|dir| dir.join(self.file_name(digest)));
        if let Some(cached) = cached.as_ref().filter(|c| c.exists()) {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same compatibility hash, into a 0700 directory
            // only this user can write; wasmtime re-checks the header.
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, cached) } {
                return Ok((component, false));
            }
        }
        let compiled =
            self.engine
                .precompile_component(bytes)
                .map_err(|e| RuntimeError::Malformed {
                    path: path.to_path_buf(),
                    reason: format!("{e:#}"),
                })?;
        if let Some(cached) = &cached {
            // A cache that cannot be written only costs the next start its
            // compile time; the run itself goes on.
            if let Err(e) = write_atomically(cached, &compiled) {
                tracing::warn!(cache = %cached.display(), error = %e, "component cache not written");
            }
        }
        // SAFETY: `compiled` was produced by this engine a moment ago.
        let component =
            unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(|e| {
                RuntimeError::Malformed {
                    path: path.to_path_buf(),
                    reason: format!("{e:#}"),
                }
            })?;
        Ok((component, true))
    }

    fn engine_key(&self) -> String {
        let mut hasher = DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    fn file_name(&self, digest: &str) -> String {
        format!("{digest}-{}.cwasm", self.engine_key())
    }

    /// The cache file for the component with `digest`, if this cache keeps
    /// files and holds one.
    pub(crate) fn cached_file(&self, digest: &str) -> Option<PathBuf> {
        let file = self.dir.as_ref()?.join(self.file_name(digest));
        file.is_file().then_some(file)
    }

    /// Every file in the cache directory, against the components `wanted`
    /// (their digests): usable, stale (no such component any more) or
    /// foreign (compiled by another engine: a wasmtime upgrade, other
    /// settings, another machine's CPU features).
    pub(crate) fn survey(&self, wanted: &[String]) -> Vec<CacheEntry> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let engine = self.engine_key();
        let mut entries: Vec<CacheEntry> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (digest, key) = name.strip_suffix(".cwasm")?.split_once('-')?;
                let state = if key != engine {
                    CacheState::Foreign
                } else if wanted.iter().any(|w| w == digest) {
                    CacheState::Current
                } else {
                    CacheState::Stale
                };
                Some(CacheEntry {
                    file: e.path(),
                    state,
                })
            })
            .collect();
        entries.sort_by(|a, b| a.file.cmp(&b.file));
        entries
    }
}

/// A file of the component cache, as [`ComponentCache::survey`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub file: PathBuf,
    pub state: CacheState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheState {
    /// Compiled by this engine from a component the policy names.
    Current,
    /// Compiled by this engine from a component the policy no longer names.
    Stale,
    /// Compiled by another engine; never loaded here.
    Foreign,
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let malformed = |reason: &str| RuntimeError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(malformed(
            "it does not start with the WebAssembly magic bytes",
        ));
    }
    match bytes[4..8].try_into().expect("four bytes") {
        COMPONENT_VERSION => Ok(()),
        CORE_VERSION => Err(RuntimeError::CoreModule {
            path: path.to_path_buf(),
        }),
        _ => Err(malformed("it has an unknown WebAssembly version or layer")),
    }
}

fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = target.parent().expect("cache files live in a directory");
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, target)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
