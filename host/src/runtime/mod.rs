//! Running a role: load its component, link only what its policy grants,
//! instantiate it in a sandbox with its limits, call `agent.run`.
//!
//! Enforcement happens twice before a role runs: [`Host::prepare`] compares
//! the component's imports with the grants and refuses an ungranted one by
//! name, and the linker itself holds only granted interfaces, so even a bug
//! in that comparison cannot link a capability the policy did not give.

pub mod artifacts;
mod cache;
mod deadline;
mod engine;
mod failure;
mod limits;
mod refusals;
mod run_record;
mod sandbox;

pub use cache::{CacheEntry, CacheState, LoadedComponent};
pub use engine::MAX_WASM_STACK;
pub use limits::{LimitHit, Limits, MAX_MEMORY_MIB};

use crate::audit::{EventSink, Redactor, SinkError};
use crate::capabilities::bindings::{Full, FullPre};
use crate::capabilities::deadline::Deadline;
use crate::capabilities::mediation::RoleBinding;
use crate::capabilities::workspace::Proposal;
use crate::capabilities::{CallContext, Capability, Report, Task};
use crate::capabilities::{PACKAGE, PACKAGE_VERSION};
use crate::policy::{Policy, RoleName, RolePolicy, WRITER_ROLE};
use crate::store::SecretStore;
use limits::{CappedOutput, RoleLimiter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Linker;
use wasmtime::{Engine, Store};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot start the wasm engine: {0}")]
    Engine(String),
    #[error(
        "component {} cannot be read: {source}\n  fix: build the role components (`make plugins`) or correct `component = …` in the policy",
        artifacts::display(path)
    )]
    ComponentUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is a core WebAssembly module, not a component\n  fix: build it for the wasm32-wasip2 target, or wrap it with `wasm-tools component new`",
        artifacts::display(path)
    )]
    CoreModule { path: PathBuf },
    #[error(
        "{} is not a valid WebAssembly component: {reason}\n  fix: rebuild it; a truncated or foreign file cannot run",
        artifacts::display(path)
    )]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "role {role}: component {component} imports {import}, which {policy} does not grant to {role}\n  fix: {fix}"
    )]
    UngrantedImport {
        role: RoleName,
        component: String,
        import: String,
        policy: String,
        fix: String,
    },
    #[error(
        "role {role}: component {component} imports {import}, which agentward does not provide\n  fix: reach the network through `http` and files through `workspace`; see docs/plugins/"
    )]
    UnknownImport {
        role: RoleName,
        component: String,
        import: String,
    },
    #[error(
        "role {role}: component {component} imports {import}, a version of `{interface}` this host does not provide (it provides {PACKAGE}/{interface} at {})\n  fix: build the component against {PACKAGE}@{PACKAGE_VERSION}, the WIT in this host's wit/ (see docs/plugins/)",
        .provided.join(", ")
    )]
    UnknownVersion {
        role: RoleName,
        component: String,
        import: String,
        interface: String,
        provided: Vec<&'static str>,
    },
    #[error(
        "role {role}: component {component} is not a role: {reason}; it exports {}\n  fix: export {PACKAGE}/agent@{PACKAGE_VERSION} (its `run` is what the host calls), as every role world does: `export_role!` in agentward-sdk, or `export agent;` in a world of your own (see docs/plugins/)",
        listed(exports)
    )]
    WrongWorld {
        role: RoleName,
        component: String,
        exports: Vec<String>,
        reason: String,
    },
    #[error(
        "role {role}: component {} has sha256 {actual}, but the policy pins {pinned}; it was not compiled or run\n  fix: restore the component that was reviewed, or review this one and run `agentward policy pin`",
        artifacts::display(path)
    )]
    PinMismatch {
        role: RoleName,
        path: PathBuf,
        pinned: String,
        actual: String,
    },
    #[error("role {role}: component {component} cannot be linked: {reason}")]
    Link {
        role: RoleName,
        component: String,
        reason: String,
    },
}

/// A component's exports, for an error: "nothing" when there are none.
fn listed(exports: &[String]) -> String {
    if exports.is_empty() {
        "nothing".into()
    } else {
        exports.join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("role {role} was stopped: {limit}")]
    Limit { role: RoleName, limit: LimitHit },
    #[error("role {role} trapped: {message}")]
    Trap {
        role: RoleName,
        message: String,
        /// The guest's wasm backtrace, for `--verbose`.
        backtrace: Option<String>,
    },
    #[error("role {role} failed: {message}")]
    Guest { role: RoleName, message: String },
    #[error("role {role}: the audit sink failed, so the run was stopped: {source}")]
    Audit {
        role: RoleName,
        #[source]
        source: SinkError,
    },
    #[error("role {role} could not be instantiated: {message}")]
    Instantiate { role: RoleName, message: String },
    #[error("role {role}: the secret store gave no credential for this run: {message}")]
    Store { role: RoleName, message: String },
    /// The guest failed after the store failed under it: the step is to be
    /// repeated once the store is back, not counted against the role.
    #[error("role {role}: the secret store could not serve the run: {message}")]
    StoreFailed { role: RoleName, message: String },
}

impl RunError {
    /// Where in the guest a trap or a stack overflow happened, when the
    /// engine knew: kept out of the one-line message, for `--verbose`.
    pub fn backtrace(&self) -> Option<&str> {
        match self {
            RunError::Trap { backtrace, .. } => backtrace.as_deref(),
            RunError::Limit {
                limit: LimitHit::GuestStack { backtrace, .. },
                ..
            } => Some(backtrace),
            _ => None,
        }
    }

    pub fn role(&self) -> RoleName {
        match self {
            RunError::Limit { role, .. }
            | RunError::Trap { role, .. }
            | RunError::Guest { role, .. }
            | RunError::Audit { role, .. }
            | RunError::Instantiate { role, .. }
            | RunError::Store { role, .. }
            | RunError::StoreFailed { role, .. } => *role,
        }
    }
}

pub struct HostConfig {
    /// Base for relative component paths and workspace roots.
    pub project_dir: PathBuf,
    /// Where precompiled components are kept; `None` compiles in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Pool slots: how many roles may be instantiated at once.
    pub max_concurrent_roles: u32,
    /// Resolves the names of `http` origins (the system's resolver unless
    /// a test or an embedder supplies its own).
    pub resolver: Arc<dyn crate::net::egress::Resolve>,
}

impl HostConfig {
    pub fn new(project_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            project_dir: project_dir.into(),
            cache_dir: None,
            max_concurrent_roles: 16,
            resolver: Arc::new(crate::net::egress::SystemResolver),
        }
    }
}

/// A component [`Host::precompile`] loaded.
pub struct Precompiled {
    pub component: PathBuf,
    /// sha256 of the component, hex.
    pub digest: String,
    /// Whether it was compiled now (else the cache held it).
    pub compiled: bool,
    /// Its file in the cache directory (none when the host caches in
    /// memory only or the file could not be written).
    pub cache_file: Option<PathBuf>,
}

/// What a role's component imports, against what its policy grants.
#[derive(Debug)]
pub struct ImportReport {
    pub role: RoleName,
    pub component: PathBuf,
    pub digest: String,
    pub imports: Vec<String>,
    pub granted: Vec<Capability>,
}

impl ImportReport {
    pub fn capabilities_used(&self) -> Vec<Capability> {
        self.imports
            .iter()
            .filter_map(|i| Capability::from_import(i))
            .collect()
    }
}

/// A role ready to run many times: linked, checked, pre-instantiated.
pub struct PreparedRole {
    pre: FullPre<RoleState>,
    binding: Arc<RoleBinding>,
    limits: Limits,
}

impl PreparedRole {
    pub fn role(&self) -> RoleName {
        self.binding.role
    }

    pub fn digest(&self) -> &str {
        &self.binding.component_digest
    }
}

/// What a finished run returns. All guest-written text is scrubbed of the
/// secret values the run touched.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    pub stdout: String,
    pub stderr: String,
    pub proposals: Vec<Proposal>,
    /// The documents the role was shown, with their digests.
    pub docs_consulted: Vec<crate::capabilities::docs::Consulted>,
    pub fuel_used: u64,
    /// Instantiation, guest code and host calls.
    pub duration: Duration,
    /// Of `duration`, the time spent inside host calls, per interface.
    pub host_call_time: std::collections::BTreeMap<&'static str, Duration>,
}

/// The store data of one run.
pub(crate) struct RoleState {
    sandbox: sandbox::Sandbox,
    limiter: RoleLimiter,
    /// Holds the run's deadline too, which WASI's sleeps are cut to.
    calls: CallContext,
}

impl RoleState {
    fn calls(&mut self) -> &mut CallContext {
        &mut self.calls
    }
}

impl wasmtime_wasi::WasiView for RoleState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        self.sandbox.view()
    }
}

pub struct Host {
    engine: Engine,
    cache: cache::ComponentCache,
    project_dir: PathBuf,
    sink: Arc<dyn EventSink>,
    store: Arc<dyn SecretStore>,
    redactor: Arc<Redactor>,
    resolver: Arc<dyn crate::net::egress::Resolve>,
    max_concurrent_roles: u32,
    _epoch: engine::EpochTicker,
}

/// The digest `policy` pins its component to, if it does.
fn pin_of(policy: &RolePolicy) -> Option<(RoleName, &str)> {
    policy.sha256.as_deref().map(|digest| (policy.role, digest))
}

impl Host {
    pub fn new(
        config: HostConfig,
        sink: Arc<dyn EventSink>,
        store: Arc<dyn SecretStore>,
        redactor: Arc<Redactor>,
    ) -> Result<Host, RuntimeError> {
        let engine = engine::new_engine(config.max_concurrent_roles)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        Ok(Host {
            cache: cache::ComponentCache::new(engine.clone(), config.cache_dir),
            _epoch: engine::EpochTicker::start(&engine),
            engine,
            project_dir: config.project_dir,
            resolver: config.resolver,
            max_concurrent_roles: config.max_concurrent_roles,
            sink,
            store,
            redactor,
        })
    }

    /// Base of workspace roots and relative component paths.
    /// How many roles may run at once: the pooling allocator's slots.
    pub fn max_concurrent_roles(&self) -> usize {
        self.max_concurrent_roles as usize
    }

    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads (or reuses) the compiled component at `path`.
    pub fn load(&self, path: &Path) -> Result<LoadedComponent, RuntimeError> {
        self.cache.load(path, None)
    }

    /// What `role`'s component imports, against its grants; no linking.
    pub fn inspect(&self, policy: &RolePolicy) -> Result<ImportReport, RuntimeError> {
        let path = artifacts::resolve(&policy.component, &self.project_dir);
        let loaded = self.cache.load(&path, pin_of(policy))?;
        let imports = loaded
            .component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        Ok(ImportReport {
            role: policy.role,
            component: path,
            digest: loaded.digest,
            imports,
            granted: policy.grants.granted(),
        })
    }

    /// Loads `role`'s component through the cache, compiling it only if
    /// the cache does not hold it, and says which it was.
    pub fn precompile(&self, policy: &RolePolicy) -> Result<Precompiled, RuntimeError> {
        let component = artifacts::resolve(&policy.component, &self.project_dir);
        let loaded = self.cache.load(&component, pin_of(policy))?;
        Ok(Precompiled {
            cache_file: self.cache.cached_file(&loaded.digest),
            component,
            digest: loaded.digest,
            compiled: loaded.compiled,
        })
    }

    /// The cache directory's files against the components with `digests`.
    pub fn survey_cache(&self, digests: &[String]) -> Vec<CacheEntry> {
        self.cache.survey(digests)
    }

    /// Checks `role`'s component against `policy` and links it. Every
    /// refusal names the role, the import and the fix.
    pub fn prepare(&self, policy: &Policy, role: RoleName) -> Result<PreparedRole, RuntimeError> {
        let role_policy = policy.role(role).map_err(|e| RuntimeError::Link {
            role,
            component: String::new(),
            reason: e.to_string(),
        })?;
        let report = self.inspect(role_policy)?;
        let component_name = artifacts::display(&report.component);
        for import in &report.imports {
            check_import(policy, role_policy, &component_name, import)?;
        }
        let loaded = self.cache.load(&report.component, pin_of(role_policy))?;
        let linker = self
            .linker_for(&role_policy.grants.granted())
            .map_err(|e| RuntimeError::Link {
                role,
                component: component_name.clone(),
                reason: format!("{e:#}"),
            })?;
        let link_error = |e: wasmtime::Error| RuntimeError::Link {
            role,
            component: component_name.clone(),
            reason: format!("{e:#}"),
        };
        let pre = linker
            .instantiate_pre(&loaded.component)
            .map_err(link_error)?;
        let pre = FullPre::new(pre).map_err(|e| RuntimeError::WrongWorld {
            role,
            component: component_name.clone(),
            exports: loaded
                .component
                .component_type()
                .exports(&self.engine)
                .map(|(name, _)| name.to_string())
                .collect(),
            reason: format!("{e:#}"),
        })?;
        Ok(PreparedRole {
            pre,
            binding: Arc::new(RoleBinding {
                role,
                policy_path: policy.path.clone(),
                policy_source: policy.source.clone(),
                policy_hash: policy.hash(),
                grants: role_policy.grants.clone(),
                grants_line: role_policy.grants_line,
                component_digest: loaded.digest,
                project_dir: self.project_dir.clone(),
                resolver: self.resolver.clone(),
            }),
            limits: role_policy.limits.clone(),
        })
    }

    fn linker_for(&self, granted: &[Capability]) -> wasmtime::Result<Linker<RoleState>> {
        let mut linker = Linker::new(&self.engine);
        // WASI is linked whole but holds no authority: the sandbox context
        // has no directories, no environment, no arguments and no sockets.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        deadline::add_to_linker(&mut linker)?;
        refusals::add_to_linker(&mut linker)?;
        Capability::add_types_to_linker(&mut linker, RoleState::calls)?;
        for capability in granted {
            capability.add_to_linker(&mut linker, RoleState::calls)?;
        }
        Ok(linker)
    }

    /// Runs `task` once. A failing run (a limit, a trap, a guest error)
    /// leaves the host ready for the next one.
    pub fn run(&self, prepared: &PreparedRole, task: &Task) -> Result<RunOutcome, RunError> {
        let role = prepared.role();
        let wall = Duration::from_millis(prepared.limits.wall_ms);
        // Set before the run's store credential is minted, whose TTL is
        // the same span: the credential, every host call and the guest's
        // own code end together.
        let deadline = Deadline::new(Instant::now() + wall, prepared.limits.wall_ms);
        let store_error = |e: crate::store::StoreError| RunError::Store {
            role,
            message: e.to_string(),
        };
        let Some(run_store) = self
            .store
            .for_role_run(role.as_str(), &prepared.binding.grants.store_scopes(), wall)
            .map_err(store_error)?
        else {
            return self.run_with(prepared, task, self.store.clone(), deadline);
        };
        // The run's own store credential is on record from mint to revoke.
        let description = run_store.description.clone();
        self.record_credential(prepared, task, "store.role-credential", &description, "ok")
            .map_err(|source| RunError::Audit { role, source })?;
        let result = self.run_with(prepared, task, run_store.store.clone(), deadline);
        let revoked = run_store.end();
        let outcome = match &revoked {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("unavailable: {e}"),
        };
        self.record_credential(
            prepared,
            task,
            "store.revoke-role-credential",
            &description,
            &outcome,
        )
        .map_err(|source| RunError::Audit { role, source })?;
        if let Err(e) = revoked {
            tracing::error!(%role, error = %e, "the run's store credential was not revoked; it lives until its TTL");
        }
        result
    }

    fn record_credential(
        &self,
        prepared: &PreparedRole,
        task: &Task,
        call: &str,
        description: &str,
        outcome: &str,
    ) -> Result<(), SinkError> {
        let mut args = serde_json::Map::new();
        args.insert("credential".into(), description.into());
        self.sink.record(&crate::audit::CallEvent::by_host(
            &task.change_id,
            prepared.role().as_str(),
            prepared.digest(),
            call,
            args,
            outcome,
        ))
    }

    fn run_with(
        &self,
        prepared: &PreparedRole,
        task: &Task,
        secrets: Arc<dyn SecretStore>,
        deadline: Deadline,
    ) -> Result<RunOutcome, RunError> {
        let role = prepared.role();
        let limits = &prepared.limits;
        let started = Instant::now();
        let started_at = crate::time::now_rfc3339();
        let stdout = CappedOutput::new(limits.output_bytes);
        let stderr = CappedOutput::new(limits.output_bytes);
        let state = RoleState {
            sandbox: sandbox::Sandbox::new(&stdout, &stderr),
            limiter: RoleLimiter::new(limits),
            calls: CallContext::new(
                prepared.binding.clone(),
                task.change_id.clone(),
                self.sink.clone(),
                secrets,
                self.redactor.clone(),
            )
            .until(deadline),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(limits.fuel)
            .expect("fuel is enabled on the engine");
        // In ticks from now: what minting the store credential left.
        store.set_epoch_deadline(
            (deadline.left().as_millis() as u64).div_ceil(engine::EPOCH_TICK.as_millis() as u64),
        );

        let result = prepared
            .pre
            .instantiate(&mut store)
            .and_then(|instance: Full| instance.agentward_host_agent().call_run(&mut store, task));
        let facts = run_record::RunFacts {
            started: started_at,
            duration: started.elapsed(),
            fuel_used: limits.fuel - store.get_fuel().unwrap_or(0),
            limits,
        };
        let state = store.into_data();
        let outcome = conclude(role, limits, result, &state, &facts, [&stdout, &stderr]);
        let mut calls = state.calls;
        if let Some(source) = calls.audit_failure.take() {
            return Err(RunError::Audit { role, source });
        }
        let outcome = match (outcome, calls.store_failure.take()) {
            // A call the deadline cut ended the run, whatever the guest
            // made of the error it got back: the calls whose host
            // functions cannot trap (the secret store's) hand it one.
            (Ok(_) | Err(RunError::Guest { .. }), _) if calls.stopped_at_deadline => {
                Err(RunError::Limit {
                    role,
                    limit: LimitHit::WallClock {
                        limit_ms: limits.wall_ms,
                    },
                })
            }
            (Err(RunError::Guest { .. }), Some(message)) => {
                Err(RunError::StoreFailed { role, message })
            }
            (outcome, _) => outcome,
        };
        // A run ends with its records written, its own last.
        let record = run_record::event(&calls, &facts, outcome.as_ref().map(|_| ()));
        if let Err(source) = calls
            .sink
            .record_later(record)
            .and_then(|()| calls.sink.flush())
        {
            return Err(RunError::Audit { role, source });
        }
        outcome
    }
}

/// How a run ended, from what the engine returned and what the sandbox
/// saw: the first limit it hit, its guest error, or its report.
fn conclude(
    role: RoleName,
    limits: &Limits,
    result: wasmtime::Result<Result<Report, String>>,
    state: &RoleState,
    facts: &run_record::RunFacts,
    streams: [&CappedOutput; 2],
) -> Result<RunOutcome, RunError> {
    let calls = &state.calls;
    // A truncated stdout or stderr fails the run even if the guest
    // ignored the write error: output past the cap is lost output.
    for (stream, out) in ["stdout", "stderr"].into_iter().zip(streams) {
        if out.overflowed() {
            return Err(RunError::Limit {
                role,
                limit: LimitHit::Output {
                    stream,
                    limit_bytes: limits.output_bytes,
                },
            });
        }
    }
    let report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(message)) => {
            return Err(RunError::Guest {
                role,
                message: calls.scrub(&message),
            })
        }
        Err(e) => return Err(failure::classify(role, limits, &state.limiter, e, calls)),
    };
    if report.summary.len() + report.output.len() > limits.output_bytes {
        return Err(RunError::Limit {
            role,
            limit: LimitHit::Output {
                stream: "its report",
                limit_bytes: limits.output_bytes,
            },
        });
    }
    let text = |out: &CappedOutput| calls.scrub(&String::from_utf8_lossy(&out.contents()));
    Ok(RunOutcome {
        report: Report {
            summary: calls.scrub(&report.summary),
            output: calls.scrub(&report.output),
        },
        stdout: text(streams[0]),
        stderr: text(streams[1]),
        proposals: calls.proposals.clone(),
        docs_consulted: calls.docs.consulted.clone(),
        fuel_used: facts.fuel_used,
        duration: facts.duration,
        host_call_time: calls.host_time_by_interface(),
    })
}

/// Refuses an import the policy does not grant, with the edit that would.
fn check_import(
    policy: &Policy,
    role_policy: &RolePolicy,
    component: &str,
    import: &str,
) -> Result<(), RuntimeError> {
    let role = role_policy.role;
    let shared_types = crate::capabilities::interface_of(import).is_some_and(|(name, version)| {
        name == "types" && crate::capabilities::COMPATIBLE_VERSIONS.contains(&version)
    });
    if import.starts_with("wasi:") || shared_types {
        return Ok(());
    }
    let Some(capability) = Capability::from_import(import) else {
        // One of our interfaces at a version this host does not speak: say
        // which versions it does, not that the interface does not exist.
        let ours = crate::capabilities::interface_of(import)
            .and_then(|(name, _)| Some((name, crate::capabilities::versions_of(name)?)));
        if let Some((interface, provided)) = ours {
            return Err(RuntimeError::UnknownVersion {
                role,
                component: component.to_string(),
                import: import.to_string(),
                interface: interface.to_string(),
                provided,
            });
        }
        return Err(RuntimeError::UnknownImport {
            role,
            component: component.to_string(),
            import: import.to_string(),
        });
    };
    if role_policy.grants.contains(capability) {
        return Ok(());
    }
    let fix = if capability == Capability::SecretsWrite && role != WRITER_ROLE {
        format!(
            "only the {WRITER_ROLE} may hold secrets-write; remove the import from the component (use `handles` to work with a credential)"
        )
    } else {
        format!(
            "add `{}` under [roles.{role}.grants] (line {} of {}), or remove the import from the component",
            capability.example_grant(),
            role_policy.grants_line,
            policy.path.display()
        )
    };
    Err(RuntimeError::UngrantedImport {
        role,
        component: component.to_string(),
        import: import.to_string(),
        policy: policy.path.display().to_string(),
        fix,
    })
}
