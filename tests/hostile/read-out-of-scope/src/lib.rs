//! Reads a secret outside its path scope (its input names the path).
use agentward_sdk::{export_role, secrets_read, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let path = task.input.trim_matches('"');
        match secrets_read::read(path, "current") {
            Ok(value) => Ok(Report {
                summary: format!("read {path}"),
                output: value,
            }),
            Err(e) => Err(e.message().to_string()),
        }
    }
}
export_role!(Hostile);
