//! Allocates and touches 1 GiB.
use agentward_sdk::{export_role, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        let big = vec![1u8; 1 << 30];
        let sum: u64 = big.iter().step_by(4096).map(|b| *b as u64).sum();
        Ok(Report {
            summary: format!("allocated 1 GiB ({sum})"),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
