//! Hands the host one 64 MiB string: as a `log` message, a `docs` query or
//! a `secrets-meta` path, as its input says. The host copies an argument
//! out of guest memory before any check of its own can run.
use agentward_sdk::{docs, export_role, log, secrets_meta, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let huge = "A".repeat(64 << 20);
        let answer = match task.input.trim() {
            "log" => {
                log::log(log::Level::Info, &huge);
                "logged".to_string()
            }
            "docs" => match docs::search(&huge, 1) {
                Ok(hits) => format!("{} hits", hits.len()),
                Err(e) => format!("{e:?}"),
            },
            "secrets-meta" => match secrets_meta::describe(&huge) {
                Ok(_) => "described".to_string(),
                Err(e) => format!("{e:?}"),
            },
            other => return Err(format!("unknown target `{other}`")),
        };
        // The report stays small: the run's output cap is not what is tested.
        Ok(Report {
            summary: answer.chars().take(300).collect(),
            output: format!("{}", answer.len()),
        })
    }
}
export_role!(Hostile);
