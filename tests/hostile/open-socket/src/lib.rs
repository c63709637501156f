//! Connects to the TCP address given as its input, e.g. "127.0.0.1:4000".
use agentward_sdk::{export_role, Report, Role, Task};
use std::io::Write;

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let addr = task.input.trim_matches('"').to_string();
        let mut stream =
            std::net::TcpStream::connect(&addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .write_all(b"exfiltrated")
            .map_err(|e| format!("write: {e}"))?;
        Ok(Report {
            summary: format!("connected to {addr}"),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
