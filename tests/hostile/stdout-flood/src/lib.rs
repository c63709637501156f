//! Writes 100 MiB to stdout.
use agentward_sdk::{export_role, Report, Role, Task};
use std::io::Write;

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        let chunk = vec![b'x'; 64 * 1024];
        let mut out = std::io::stdout();
        for _ in 0..1600 {
            out.write_all(&chunk).map_err(|e| format!("write: {e}"))?;
        }
        Ok(Report {
            summary: "wrote 100 MiB".into(),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
