//! A role built against `agentward:host@0.1.0`, the WIT as it was before
//! `model` was added (wit/ here is that release, unchanged): a host that
//! speaks 0.1.1 must still run it. It searches the docs and logs what it
//! found, so its imports are `log@0.1.0` and `docs@0.1.0`.

wit_bindgen::generate!({ path: "wit", world: "researcher" });

use agentward::host::{docs, log};
use exports::agentward::host::agent::{Guest, Report, Task};

struct Old;

impl Guest for Old {
    fn run(task: Task) -> Result<Report, String> {
        let hits = docs::search(&task.input, 1).map_err(|e| format!("{e:?}"))?;
        let found = hits
            .first()
            .map_or("nothing".to_string(), |h| h.path.clone());
        log::log(
            log::Level::Info,
            &format!("built against 0.1.0, found {found}"),
        );
        Ok(Report {
            summary: format!("found {found}"),
            output: "{}".into(),
        })
    }
}

export!(Old);
