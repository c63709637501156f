//! The workflow parser on arbitrary text: a workflow or an error naming a
//! line, never a panic; a workflow it accepts has every required stage and
//! answers the questions the orchestrator asks of it.
#![no_main]

use agentward::orchestrator::workflow::{Stage, Workflow};
use agentward::policy::{Policy, PolicyError};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

/// The shipped default policy, to check workflows against.
fn policy() -> &'static Policy {
    static POLICY: OnceLock<(tempfile::TempDir, Policy)> = OnceLock::new();
    &POLICY
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let text = include_str!("../../policies/default.toml");
            let policy = Policy::parse(Path::new("policies/default.toml"), text, dir.path())
                .expect("the default policy parses");
            (dir, policy)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Workflow::parse(Path::new("policies/fuzz-workflow.toml"), text) {
        Err(error) => {
            let message = error.to_string();
            if let PolicyError::Invalid { line, column, .. } = error {
                assert!(line >= 1 && column >= 1, "{message}");
                assert!(line <= text.split('\n').count(), "line {line}: {message}");
            }
        }
        Ok(workflow) => {
            for stage in Stage::ALL {
                let step = workflow.optional_step(stage);
                assert!(step.is_some() || !stage.is_required(), "{stage:?} missing");
            }
            let _ = workflow.step(Stage::Implement);
            let _ = workflow.provider();
            let _ = workflow.check_against(policy());
            let paths: Vec<String> = workflow.secrets.prefixes();
            let _ = workflow.rules_for(&paths).count();
            for prefix in &paths {
                let _ = workflow.secrets.allows(prefix);
            }
            if let Some(schedule) = &workflow.schedule {
                let _ = schedule.start_for("2026-11-25T10:03:07Z", None);
                let _ = schedule.start_for("2026-11-25T10:03:07Z", Some("2026-12-31T23:59:59Z"));
            }
        }
    }
});
