//! The policy file: which component each role runs, what it may call, and
//! within which limits.
//!
//! Parsing is strict (`deny_unknown_fields` everywhere) because a typo in a
//! security policy must never silently widen or narrow a grant. Every error
//! names the file, the line and the edit that fixes it.

pub mod diff;
mod error;

pub(crate) use error::error_fix;
pub use error::PolicyError;

use crate::capabilities::{Capability, Grants};
use crate::runtime::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The roles agentward knows. A fixed set: an unknown role in a policy is a
/// typo, not a new role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RoleName {
    Planner,
    Implementer,
    Reviewer,
    Tester,
    Researcher,
    DomainSpecialist,
}

impl RoleName {
    pub const ALL: [RoleName; 6] = [
        RoleName::Planner,
        RoleName::Implementer,
        RoleName::Reviewer,
        RoleName::Tester,
        RoleName::Researcher,
        RoleName::DomainSpecialist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Planner => "planner",
            RoleName::Implementer => "implementer",
            RoleName::Reviewer => "reviewer",
            RoleName::Tester => "tester",
            RoleName::Researcher => "researcher",
            RoleName::DomainSpecialist => "domain-specialist",
        }
    }

    pub fn parse(text: &str) -> Option<RoleName> {
        RoleName::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The only role that may hold `secrets-write`: the design's invariant that
/// a Planner, Reviewer or Tester can never change a secret, whatever a
/// policy author writes.
pub const WRITER_ROLE: RoleName = RoleName::Implementer;

/// One role's section of the policy.
#[derive(Debug)]
pub struct RolePolicy {
    pub role: RoleName,
    /// An artifact name (`planner`) or a path to a `.wasm` file, relative
    /// to the project directory.
    pub component: String,
    /// `component = { name = "…", sha256 = "…" }`: the only component this
    /// role may run, refused before compiling when the file differs.
    pub sha256: Option<String>,
    /// Where the `component` value is in the policy's text (what
    /// `agentward policy pin` rewrites).
    pub component_span: std::ops::Range<usize>,
    pub grants: Grants,
    pub limits: Limits,
    /// Line of the role's `grants` table, or of its header when it has none:
    /// where an operator adds a grant.
    pub grants_line: usize,
}

/// A loaded, validated policy.
#[derive(Debug)]
pub struct Policy {
    /// The file as the operator named it; used in every message.
    pub path: PathBuf,
    /// The file's text, to turn grant spans into line numbers for denials.
    pub source: std::sync::Arc<str>,
    pub roles: BTreeMap<RoleName, RolePolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    roles: BTreeMap<RoleName, Spanned<RawRole>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    component: Spanned<RawComponent>,
    #[serde(default)]
    grants: Option<Spanned<Grants>>,
    #[serde(default)]
    limits: Limits,
}

/// `component = "planner"`, or pinned: `{ name = "planner", sha256 = "…" }`.
struct RawComponent {
    name: String,
    sha256: Option<String>,
}

impl<'de> Deserialize<'de> for RawComponent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Pinned {
            name: String,
            sha256: String,
        }
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = RawComponent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a component name, or { name = \"…\", sha256 = \"…\" }")
            }
            fn visit_str<E>(self, name: &str) -> Result<RawComponent, E> {
                Ok(RawComponent {
                    name: name.to_string(),
                    sha256: None,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawComponent, A::Error> {
                let pinned =
                    Pinned::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RawComponent {
                    name: pinned.name,
                    sha256: Some(pinned.sha256),
                })
            }
        }
        d.deserialize_any(Either)
    }
}

impl Policy {
    /// Loads the policy at `path` for the project in `project`, the base of
    /// the relative paths its grants name (CA files are read now, so a bad
    /// one is an error here, not at the first request).
    pub fn load(path: &Path, project: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(path, &text, project)
    }

    /// Parses `text` as the contents of `path` (which is only used in
    /// messages), with relative paths under `project`.
    pub fn parse(path: &Path, text: &str, project: &Path) -> Result<Policy, PolicyError> {
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| PolicyError::from_toml(path, text, &e))?;
        let mut roles = BTreeMap::new();
        for (role, spanned) in raw.roles {
            let role_start = spanned.span().start;
            let raw_role = spanned.into_inner();
            let (mut grants, grants_line) = match raw_role.grants {
                Some(g) => (g.get_ref().clone(), line_of(text, g.span().start)),
                None => (Grants::default(), line_of(text, role_start)),
            };
            grants
                .load_files(project)
                .map_err(|(offset, message)| PolicyError::with_fix(path, text, offset, &message))?;
            if role != WRITER_ROLE && grants.secrets_write.is_some() {
                return Err(PolicyError::at(
                    path,
                    text,
                    grants.secrets_write.as_ref().map_or(role_start, |g| g.span().start),
                    format!(
                        "role {role} is granted {}, which only the {WRITER_ROLE} may hold",
                        Capability::SecretsWrite.name()
                    ),
                    format!(
                        "remove `{}` from [roles.{role}.grants]; roles that need a credential use `handles`",
                        Capability::SecretsWrite.name()
                    ),
                ));
            }
            let component_span = raw_role.component.span();
            let component = raw_role.component.into_inner();
            if let Some(digest) = &component.sha256 {
                let hex = digest.len() == 64
                    && digest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !hex {
                    return Err(PolicyError::at(
                        path,
                        text,
                        component_span.start,
                        format!("the sha256 pinned for role {role}'s component is not 64 lower-case hex digits"),
                        "run `agentward policy pin` to write the digests of the components the policy names".into(),
                    ));
                }
            }
            roles.insert(
                role,
                RolePolicy {
                    role,
                    component: component.name,
                    sha256: component.sha256,
                    component_span,
                    grants,
                    limits: raw_role.limits,
                    grants_line,
                },
            );
        }
        if roles.is_empty() {
            return Err(PolicyError::at(
                path,
                text,
                0,
                "the policy defines no roles".into(),
                "add a [roles.planner] table with `component = \"planner\"` (see policies/default.toml)".into(),
            ));
        }
        Ok(Policy {
            path: path.to_path_buf(),
            source: text.into(),
            roles,
        })
    }

    /// `sha256:<hex>` of the policy's text: what approvals of a policy sign
    /// and what every role run's record names.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(self.source.as_bytes()))
        )
    }

    pub fn role(&self, role: RoleName) -> Result<&RolePolicy, PolicyError> {
        self.roles
            .get(&role)
            .ok_or_else(|| PolicyError::NoSuchRole {
                path: self.path.clone(),
                role,
            })
    }
}

/// 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests;
