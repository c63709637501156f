//! The grant shape shared by the secret capabilities: a list of path globs.
//!
//! `*` stays within one path segment and `**` crosses segments, so
//! `npm/*` grants `npm/token` but not `npm/team/token`.

use super::bindings::agentward::host::types::Error;
use super::mediation::RoleBinding;
use super::Capability;
use crate::policy::error_fix;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawPathScope")]
pub struct PathScope {
    patterns: Vec<String>,
    set: GlobSet,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPathScope {
    paths: Vec<String>,
}

impl TryFrom<RawPathScope> for PathScope {
    type Error = String;

    fn try_from(raw: RawPathScope) -> Result<Self, String> {
        PathScope::new(raw.paths)
    }
}

fn compile(pattern: &str) -> Result<Glob, String> {
    let invalid = |reason: String| {
        error_fix(
            format!("invalid secret path glob `{pattern}`: {reason}"),
            "write a glob such as \"npm/**\" (`*` matches within a segment, `**` across segments)",
        )
    };
    if pattern.is_empty() || pattern.starts_with('/') {
        return Err(invalid("paths are relative and non-empty".into()));
    }
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| invalid(e.kind().to_string()))
}

impl PathScope {
    /// Compiles `patterns`; an error carries its own fix (see [`error_fix`]).
    pub fn new(patterns: Vec<String>) -> Result<PathScope, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &patterns {
            builder.add(compile(pattern)?);
        }
        let set = builder.build().map_err(|e| e.to_string())?;
        Ok(PathScope { patterns, set })
    }

    /// The literal part of each pattern before its first wildcard: what to
    /// list to find every path the scope could allow.
    pub fn prefixes(&self) -> Vec<String> {
        let mut prefixes: Vec<String> = self
            .patterns
            .iter()
            .map(|p| {
                let end = p.find(['*', '?', '[', '{']).unwrap_or(p.len());
                p[..p[..end].rfind('/').map_or(0, |i| i + 1)].to_string()
            })
            .collect();
        prefixes.sort();
        prefixes.dedup();
        // A prefix inside another lists nothing new.
        let all = prefixes.clone();
        prefixes.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q.as_str())));
        prefixes
    }

    pub fn allows(&self, path: &str) -> bool {
        is_clean_path(path) && is_canonical(path) && self.set.is_match(path)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The grant as it would read with `path` added: the fix in a denial.
    pub fn with_added(&self, name: &str, path: &str) -> String {
        let mut paths: Vec<&str> = self.patterns.iter().map(String::as_str).collect();
        paths.push(path);
        format!("{name} = {{ paths = {} }}", toml_list(&paths))
    }
}

/// Allows a call on `path` if `capability`'s globs match it; otherwise a
/// denial whose fix is the grant with `path` added.
pub(crate) fn check_path(
    binding: &RoleBinding,
    capability: Capability,
    path: &str,
    request: impl FnOnce() -> String,
) -> Result<(), Error> {
    let grant = binding.path_grant(capability);
    if grant.get_ref().allows(path) {
        return Ok(());
    }
    Err(binding.deny(
        grant,
        request(),
        grant.get_ref().with_added(capability.name(), path),
    ))
}

/// Paths with empty, `.` or `..` segments are never granted: a glob must not
/// be escapable by a path that a backend would normalise differently.
pub(crate) fn is_clean_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// Whether `path` means the same to every backend and every reader: no
/// `%` (a percent-decoding store or proxy would read `..%2F` as `../`), no
/// `\` (a separator elsewhere), no control character (a C string ends at
/// NUL), and nothing NFKC changes (U+FF0F fullwidth solidus is `/`, U+2024
/// one-dot leader is `.` to a normalising backend, and both look like them
/// to a person reading the audit log). The glob only ever sees the one form.
fn is_canonical(path: &str) -> bool {
    use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
    if path.contains(['%', '\\']) || path.chars().any(char::is_control) {
        return false;
    }
    path.is_ascii()
        || match is_nfkc_quick(path.chars()) {
            IsNormalized::Yes => true,
            IsNormalized::No => false,
            IsNormalized::Maybe => path.nfkc().eq(path.chars()),
        }
}

/// A TOML array of strings, as an operator would type it.
pub(crate) fn toml_list(items: &[&str]) -> String {
    toml::Value::Array(
        items
            .iter()
            .map(|s| toml::Value::String(s.to_string()))
            .collect(),
    )
    .to_string()
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(paths: &[&str]) -> PathScope {
        PathScope::try_from(RawPathScope {
            paths: paths.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn star_stays_within_a_segment() {
        let s = scope(&["npm/*"]);
        assert!(s.allows("npm/token"));
        assert!(!s.allows("npm/team/token"));
        assert!(!s.allows("npmx/token"));
    }

    #[test]
    fn double_star_crosses_segments() {
        let s = scope(&["npm/**"]);
        assert!(s.allows("npm/team/token"));
        assert!(!s.allows("prod/db"));
    }

    #[test]
    fn dot_segments_are_never_granted() {
        let s = scope(&["npm/**"]);
        assert!(!s.allows("npm/../prod/db"));
        assert!(!s.allows("npm//token"));
        assert!(!s.allows("npm/./token"));
    }

    // Regressions from `properties`: each of these was admitted before the
    // scope refused what a backend could read as another path.

    fn refuses(globs: &[&str], paths: &[&str]) {
        let s = scope(globs);
        for path in paths {
            assert!(!s.allows(path), "{globs:?} admits {path:?}");
        }
    }

    #[test]
    fn a_fullwidth_solidus_is_never_a_separator() {
        refuses(&["prod/*"], &["prod/npm\u{FF0F}npm"]);
        refuses(&["npm/*"], &["npm/x\u{FF0F}..\u{FF0F}..\u{FF0F}prod"]);
    }

    #[test]
    fn a_one_dot_leader_is_never_a_dot() {
        refuses(
            &["npm/**"],
            &["npm/\u{2024}\u{2024}/prod", "npm/\u{FF0E}\u{FF0E}/prod"],
        );
    }

    #[test]
    fn percent_encoded_dot_dot_and_slash_are_never_granted() {
        refuses(&["npm/*"], &["npm/..%2Fprod%2Fdb", "npm/%2e%2e%2fprod"]);
    }

    #[test]
    fn a_nul_never_ends_a_granted_path() {
        refuses(&["npm/*-ro"], &["npm/x\0-ro"]);
        refuses(&["npm/**"], &["npm/..\\..\\prod"]);
    }

    #[test]
    fn case_and_plain_unicode_are_kept_as_they_are() {
        let s = scope(&["npm/*"]);
        assert!(!s.allows("NPM/token"));
        assert!(s.allows("npm/Token"));
        assert!(s.allows("npm/caf\u{e9}"));
        // The same name decomposed is another string: refused, not folded.
        assert!(!s.allows("npm/cafe\u{301}"));
        assert!(!s.allows("npm/token/"));
    }

    #[test]
    fn bad_glob_is_an_error_with_a_fix() {
        let err = PathScope::try_from(RawPathScope {
            paths: vec!["npm/[abc".into()],
        })
        .unwrap_err();
        assert!(err.contains("invalid secret path glob `npm/[abc`"), "{err}");
        assert!(err.contains("fix: "), "{err}");
    }

    #[test]
    fn fix_line_adds_the_path() {
        assert_eq!(
            scope(&["npm/**"]).with_added("secrets-read", "prod/db"),
            r#"secrets-read = { paths = ["npm/**", "prod/db"] }"#
        );
    }
}
