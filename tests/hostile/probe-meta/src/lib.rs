//! Probes `secrets-meta` outside its scope for which secrets exist: it
//! describes each path of its input (one per line) and reports every
//! answer whole, variant included, so any difference between a secret that
//! exists and one that does not would show.
use agentward_sdk::{export_role, secrets_meta, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let answers: Vec<String> = task
            .input
            .lines()
            .map(|path| match secrets_meta::describe(path) {
                Ok(info) => format!("{path} => ok {} versions", info.versions.len()),
                Err(e) => format!("{path} => err {e:?}"),
            })
            .collect();
        Ok(Report {
            summary: format!("{} probes", answers.len()),
            output: answers.join("\n"),
        })
    }
}
export_role!(Hostile);
