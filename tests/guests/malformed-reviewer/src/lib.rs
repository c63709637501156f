//! A reviewer that hands off a record of the wrong shape: `approved` as a
//! string and an unknown field. The orchestrator must fail the step with a
//! message naming the record, not read "yes" as a sign-off.

use agentward_sdk::{export_role, Report, Role, Task};

struct MalformedReviewer;

impl Role for MalformedReviewer {
    fn run(_task: Task) -> Result<Report, String> {
        Ok(Report {
            summary: "looks fine to me".into(),
            output: r#"{"approved": "yes", "lgtm": true}"#.into(),
        })
    }
}

export_role!(MalformedReviewer);
