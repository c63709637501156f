//! Policy errors that name the file, the line and the fix.

use super::{line_of, RoleName};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "cannot read policy {}: {source}\n  fix: pass an existing file with --policy, or create a project with `agentward init DIR`",
        path.display()
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}\n  fix: {fix}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        fix: String,
    },
    #[error(
        "{} has no [roles.{role}] table\n  fix: add [roles.{role}] with `component = \"{role}\"` and the grants it needs",
        path.display()
    )]
    NoSuchRole { path: PathBuf, role: RoleName },
}

/// Grant validators put their own fix after this marker, so the fix for a
/// bad glob can show a good glob.
const FIX_MARKER: &str = "\nfix: ";

/// A validation message for a grant's `try_from`, carrying its own fix.
pub(crate) fn error_fix(message: String, fix: &str) -> String {
    format!("{message}{FIX_MARKER}{fix}")
}

impl PolicyError {
    pub(crate) fn at(
        path: &Path,
        text: &str,
        offset: usize,
        message: String,
        fix: String,
    ) -> PolicyError {
        let line = line_of(text, offset);
        let line_start = text[..offset.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        PolicyError::Invalid {
            path: path.to_path_buf(),
            line,
            column: offset.saturating_sub(line_start) + 1,
            message,
            fix,
        }
    }

    pub(crate) fn from_toml(path: &Path, text: &str, error: &toml::de::Error) -> PolicyError {
        let offset = error.span().map_or(0, |s| s.start);
        PolicyError::with_fix(path, text, offset, error.message())
    }

    /// An error at `offset` whose message may carry its own fix (see [`error_fix`]).
    pub(crate) fn with_fix(path: &Path, text: &str, offset: usize, message: &str) -> PolicyError {
        let message = message.trim();
        let (message, fix) = match message.split_once(FIX_MARKER) {
            Some((message, fix)) => (message.to_string(), fix.to_string()),
            None => (message.to_string(), fix_for(message)),
        };
        PolicyError::at(path, text, offset, message, fix)
    }
}

/// A fix for serde's own messages: the closest valid name for a typo, the
/// key to add for a missing field.
fn fix_for(message: &str) -> String {
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        let Some((given, expected)) = ticked.split_first() else {
            return "check the spelling against docs/policy.md".into();
        };
        let closest = expected
            .iter()
            .map(|e| (strsim::damerau_levenshtein(given, e), *e))
            .min();
        let valid = expected.join(", ");
        return match closest {
            Some((distance, name)) if distance <= 3 => {
                format!("did you mean `{name}`? (valid here: {valid})")
            }
            _ => format!("use one of: {valid}"),
        };
    }
    if message.starts_with("missing field") {
        if let Some(field) = ticked.first() {
            return format!("add `{field} = …` here (see docs/policy.md)");
        }
    }
    "see docs/policy.md for the policy format".into()
}
