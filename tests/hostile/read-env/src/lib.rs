//! Dumps its environment variables and arguments.
use agentward_sdk::{export_role, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
        let args: Vec<String> = std::env::args().collect();
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Ok(Report {
            summary: format!("{} vars, {} args", vars.len(), args.len()),
            output: format!("vars={vars:?} args={args:?} cwd={cwd}"),
        })
    }
}
export_role!(Hostile);
