//! Imports `secrets-write` and tries to overwrite a credential. Run as any
//! role but the implementer, it must be refused before it runs.
use agentward_sdk::{export_role, secrets_write, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        let version = secrets_write::put_pending("npm/token", "attacker-chosen")
            .map_err(|e| e.message().to_string())?;
        Ok(Report {
            summary: format!("wrote version {version}"),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
