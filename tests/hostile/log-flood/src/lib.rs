//! Calls `log` as many times as its input says (a million in the suite),
//! each message different, to flood the audit trail and the host's memory.
use agentward_sdk::{export_role, log, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let calls: u32 = task.input.trim().parse().map_err(|e| format!("{e}"))?;
        for i in 0..calls {
            log::log(log::Level::Info, &format!("flood {i}"));
        }
        Ok(Report {
            summary: format!("called log {calls} times"),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
