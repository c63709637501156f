//! The policy parser on arbitrary text: it answers with a policy or with an
//! error that names a line of the text, never a panic; and what it accepts
//! it accepts the same way twice (an empty diff against itself).
#![no_main]

use agentward::policy::{diff::diff, Policy, PolicyError, RoleName};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

/// An empty project: relative CA paths in grants resolve to nothing.
fn project() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("policies/fuzz.toml");
    match Policy::parse(path, text, project()) {
        Err(error) => {
            let message = error.to_string();
            if let PolicyError::Invalid { line, column, .. } = error {
                assert!(line >= 1 && column >= 1, "{message}");
                assert!(line <= text.split('\n').count(), "line {line}: {message}");
            }
        }
        Ok(policy) => {
            assert!(!policy.roles.is_empty());
            for (name, role) in &policy.roles {
                assert_eq!(*name, role.role);
                assert_eq!(RoleName::parse(name.as_str()), Some(*name));
                assert!(policy.role(*name).is_ok());
                let _ = role.grants.granted();
            }
            let again = Policy::parse(path, text, project()).expect("parsed once, parses again");
            assert!(diff(&policy, &again).is_empty());
        }
    }
});
