//! A role built against `agentward:host@0.9.0`, a version of the WIT this
//! host does not know: it imports `log@0.9.0` and exports `agent@0.9.0`.
//! The host cannot know what 0.9.0's `log` means, so it must refuse it by
//! name rather than guess.

wit_bindgen::generate!({ path: "wit", world: "researcher" });

use agentward::host::log;
use exports::agentward::host::agent::{Guest, Report, Task};

struct Future;

impl Guest for Future {
    fn run(_task: Task) -> Result<Report, String> {
        log::log(log::Level::Info, "built against 0.9.0");
        Ok(Report {
            summary: "ran".into(),
            output: "{}".into(),
        })
    }
}

export!(Future);
