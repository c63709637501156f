//! Tries to open a socket as many times as its input says, e.g. "10000":
//! a flood of refused WASI calls, which must not become a flood of audit
//! records.
use agentward_sdk::{export_role, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let tries: u32 = task
            .input
            .trim_matches('"')
            .parse()
            .map_err(|e| format!("input: {e}"))?;
        let refused = (0..tries)
            .filter(|_| std::net::TcpStream::connect("127.0.0.1:9").is_err())
            .count();
        Ok(Report {
            summary: format!("{refused} of {tries} refused"),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
