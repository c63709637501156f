//! The capabilities a role can be granted: one module per WIT interface.
//!
//! Each module owns three things for its interface: the grant it reads from
//! the policy, the scope check a call must pass, and the audit fields a call
//! leaves behind. All of them meet in [`mediation::mediate`], the one
//! function every host call passes through.

mod ca_files;
pub(crate) mod deadline;
pub mod docs;
pub mod handles;
pub mod http;
pub mod log;
pub(crate) mod mediation;
pub mod model;
pub mod path_scope;
mod rooted;
pub mod secrets_meta;
pub mod secrets_read;
pub mod secrets_write;
pub mod sql;
pub mod workspace;

#[doc(hidden)]
pub use mediation::RoleBinding;
pub use mediation::{CallContext, DENIALS_RECORDED_PER_CALL, INTENT};

use serde::Deserialize;
use std::fmt;
use toml::Spanned;
use wasmtime::component::{HasSelf, Linker};

// Public for the fuzz targets (fuzz/), which call the host functions
// directly; not part of the API.
#[doc(hidden)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "full",
        // The calls that wait on the network may end the run: at its
        // deadline they trap (see `deadline`).
        imports: {
            "agentward:host/http.send": trappable,
            "agentward:host/sql.execute": trappable,
            "agentward:host/model.complete": trappable,
        },
    });
}

use bindings::agentward::host as wit;
pub use bindings::exports::agentward::host::agent::{Report, Task};

/// The WIT package every capability belongs to.
pub const PACKAGE: &str = "agentward:host";
pub const PACKAGE_VERSION: &str = "0.1.1";
/// The versions a component may have been built against: every one this
/// host's WIT is a strict addition to.
pub const COMPATIBLE_VERSIONS: [&str; 2] = ["0.1.0", "0.1.1"];

/// `agentward:host/NAME@VERSION` as (NAME, VERSION).
pub(crate) fn interface_of(import: &str) -> Option<(&str, &str)> {
    let rest = import.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    rest.split_once('@')
}

/// The versions of the package's interface `name` (a capability or the
/// shared `types`) this host provides; `None` if the package has no such
/// interface.
pub(crate) fn versions_of(name: &str) -> Option<Vec<&'static str>> {
    let since = match Capability::ALL.into_iter().find(|c| c.name() == name) {
        Some(capability) => capability.since(),
        None if name == "types" => COMPATIBLE_VERSIONS[0],
        None => return None,
    };
    Some(
        COMPATIBLE_VERSIONS
            .into_iter()
            .filter(|v| *v >= since)
            .collect(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    Log,
    SecretsMeta,
    SecretsRead,
    SecretsWrite,
    Handles,
    Http,
    Sql,
    Workspace,
    Docs,
    Model,
}

impl Capability {
    pub const ALL: [Capability; 10] = [
        Capability::Log,
        Capability::SecretsMeta,
        Capability::SecretsRead,
        Capability::SecretsWrite,
        Capability::Handles,
        Capability::Http,
        Capability::Sql,
        Capability::Workspace,
        Capability::Docs,
        Capability::Model,
    ];

    /// The interface name, as in WIT and in the policy's `grants` table.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::SecretsMeta => "secrets-meta",
            Capability::SecretsRead => "secrets-read",
            Capability::SecretsWrite => "secrets-write",
            Capability::Handles => "handles",
            Capability::Http => "http",
            Capability::Sql => "sql",
            Capability::Workspace => "workspace",
            Capability::Docs => "docs",
            Capability::Model => "model",
        }
    }

    /// The fully qualified import name, e.g. `agentward:host/log@0.1.1`.
    pub fn import_name(self) -> String {
        format!("{PACKAGE}/{}@{PACKAGE_VERSION}", self.name())
    }

    /// The version of the package that added this interface.
    fn since(self) -> &'static str {
        match self {
            Capability::Model => "0.1.1",
            _ => "0.1.0",
        }
    }

    /// The capability a component import names, if it is one of ours: at
    /// this package version or an earlier one that already had it.
    pub fn from_import(import: &str) -> Option<Capability> {
        let (interface, version) = interface_of(import)?;
        Capability::ALL.into_iter().find(|c| {
            c.name() == interface
                && COMPATIBLE_VERSIONS[..].contains(&version)
                && version >= c.since()
        })
    }

    /// A grant an operator can paste into the policy to allow this
    /// capability, with the narrowest sensible scope.
    pub fn example_grant(self) -> &'static str {
        match self {
            Capability::Log => "log = {}",
            Capability::SecretsMeta => "secrets-meta = { paths = [\"npm/**\"] }",
            Capability::SecretsRead => "secrets-read = { paths = [\"npm/**\"] }",
            Capability::SecretsWrite => "secrets-write = { paths = [\"npm/**\"] }",
            Capability::Handles => "handles = { paths = [\"npm/**\"] }",
            Capability::Http => {
                "http = { origins = [\"http://127.0.0.1:4873\"], methods = [\"GET\"] }"
            }
            Capability::Sql => {
                "sql = { endpoints = [\"postgres://127.0.0.1:5432/app\"], statements = [\"SELECT 1\"] }"
            }
            Capability::Workspace => "workspace = { roots = [\"repos\"], mode = \"read\" }",
            Capability::Docs => "docs = { dir = \"docs\" }",
            Capability::Model => {
                "model = { endpoint = \"http://127.0.0.1:8081/v1\", model = \"smollm2-135m\" }"
            }
        }
    }

    /// Adds this interface's host functions to `linker`. A role's linker gets
    /// only the capabilities its policy grants, so an ungranted import
    /// cannot even be instantiated.
    pub(crate) fn add_to_linker<T: 'static>(
        self,
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut CallContext,
    ) -> wasmtime::Result<()> {
        type Ctx = HasSelf<CallContext>;
        match self {
            Capability::Log => wit::log::add_to_linker::<T, Ctx>(linker, get),
            Capability::SecretsMeta => wit::secrets_meta::add_to_linker::<T, Ctx>(linker, get),
            Capability::SecretsRead => wit::secrets_read::add_to_linker::<T, Ctx>(linker, get),
            Capability::SecretsWrite => wit::secrets_write::add_to_linker::<T, Ctx>(linker, get),
            Capability::Handles => wit::handles::add_to_linker::<T, Ctx>(linker, get),
            Capability::Http => wit::http::add_to_linker::<T, Ctx>(linker, get),
            Capability::Sql => wit::sql::add_to_linker::<T, Ctx>(linker, get),
            Capability::Workspace => wit::workspace::add_to_linker::<T, Ctx>(linker, get),
            Capability::Docs => wit::docs::add_to_linker::<T, Ctx>(linker, get),
            Capability::Model => wit::model::add_to_linker::<T, Ctx>(linker, get),
        }
    }

    /// The shared `types` interface carries no authority, only the error type.
    pub(crate) fn add_types_to_linker<T: 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut CallContext,
    ) -> wasmtime::Result<()> {
        wit::types::add_to_linker::<T, HasSelf<CallContext>>(linker, get)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a role is granted: one optional entry per capability. Spans are
/// kept so a denial can point at the exact line to edit.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Grants {
    pub log: Option<Spanned<log::LogGrant>>,
    pub secrets_meta: Option<Spanned<path_scope::PathScope>>,
    pub secrets_read: Option<Spanned<path_scope::PathScope>>,
    pub secrets_write: Option<Spanned<path_scope::PathScope>>,
    pub handles: Option<Spanned<path_scope::PathScope>>,
    pub http: Option<Spanned<http::HttpGrant>>,
    pub sql: Option<Spanned<sql::SqlGrant>>,
    pub workspace: Option<Spanned<workspace::WorkspaceGrant>>,
    pub docs: Option<Spanned<docs::DocsGrant>>,
    pub model: Option<Spanned<model::ModelGrant>>,
}

impl Grants {
    pub fn contains(&self, capability: Capability) -> bool {
        match capability {
            Capability::Log => self.log.is_some(),
            Capability::SecretsMeta => self.secrets_meta.is_some(),
            Capability::SecretsRead => self.secrets_read.is_some(),
            Capability::SecretsWrite => self.secrets_write.is_some(),
            Capability::Handles => self.handles.is_some(),
            Capability::Http => self.http.is_some(),
            Capability::Sql => self.sql.is_some(),
            Capability::Workspace => self.workspace.is_some(),
            Capability::Docs => self.docs.is_some(),
            Capability::Model => self.model.is_some(),
        }
    }

    /// Reads the files grants name (CA certificates), relative to
    /// `project`; on failure the byte offset of the bad entry and a message
    /// with its fix.
    pub(crate) fn load_files(&mut self, project: &std::path::Path) -> Result<(), (usize, String)> {
        if let Some(http) = self.http.as_mut() {
            http.get_mut().load_trust(project)?;
        }
        if let Some(sql) = self.sql.as_mut() {
            sql.get_mut().load_trust(project)?;
        }
        if let Some(model) = self.model.as_mut() {
            model.get_mut().load_trust(project)?;
        }
        Ok(())
    }

    pub fn granted(&self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| self.contains(*c))
            .collect()
    }
}

impl wit::types::Host for CallContext {}

/// An error as one line of text: `denied: …`, `not found: …`.
pub(crate) fn error_text(error: &wit::types::Error) -> String {
    use wit::types::Error::*;
    match error {
        Denied(m) => format!("denied: {m}"),
        NotFound(m) => format!("not found: {m}"),
        Invalid(m) => format!("invalid: {m}"),
        Unavailable(m) => format!("unavailable: {m}"),
    }
}

/// A store failure as the guest sees it. Store errors never carry values.
pub(crate) fn store_error(error: crate::store::StoreError) -> wit::types::Error {
    use crate::store::StoreError;
    match error {
        StoreError::NotFound { .. }
        | StoreError::NoSuchLabel { .. }
        | StoreError::NoSuchVersion { .. } => wit::types::Error::NotFound(error.to_string()),
        StoreError::CasConflict { .. } | StoreError::InvalidPath { .. } => {
            wit::types::Error::Invalid(error.to_string())
        }
        StoreError::Unavailable(_) => wit::types::Error::Unavailable(error.to_string()),
        // These name host files and keys: the operator reads them in the
        // log, the guest learns only that the store is unavailable.
        StoreError::Corrupt { .. } | StoreError::Kek { .. } | StoreError::Io { .. } => {
            tracing::error!("{error}");
            wit::types::Error::Unavailable("secret store unavailable: see the host log".into())
        }
    }
}

/// A label argument, parsed.
pub(crate) fn parse_label(text: &str) -> Result<crate::store::Label, wit::types::Error> {
    crate::store::Label::parse(text).ok_or_else(|| {
        wit::types::Error::Invalid(format!(
            "unknown label `{text}`: use \"current\", \"pending\" or \"previous\""
        ))
    })
}

impl Grants {
    /// The paths the store itself limits a role run to (OpenBao child
    /// tokens): `secrets-read` and `handles` read, `secrets-write`
    /// writes, `secrets-meta` sees metadata.
    pub fn store_scopes(&self) -> crate::store::RoleScopes {
        let patterns = |g: &Option<toml::Spanned<path_scope::PathScope>>| {
            g.as_ref()
                .map(|s| s.get_ref().patterns().to_vec())
                .unwrap_or_default()
        };
        // A handle is a value read by the host on the role's behalf, so
        // `handles` needs the same server-side read as `secrets-read`.
        let mut read = patterns(&self.secrets_read);
        read.extend(patterns(&self.handles));
        // The host reads a model endpoint's API key on the role's behalf.
        read.extend(
            self.model
                .as_ref()
                .and_then(|m| m.get_ref().api_key().map(str::to_string)),
        );
        crate::store::RoleScopes {
            read,
            write: patterns(&self.secrets_write),
            meta: patterns(&self.secrets_meta),
        }
    }
}
