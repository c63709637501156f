//! Benchmark guest: calls `log.log(info, "x")` N times, N being the task
//! input (a bare integer, e.g. `100000`), and reports the count. Running it
//! with N and with 0 gives the per-call cost of a host call without the
//! instantiation around it (see host/benches/).
use agentward_sdk::{export_role, log, Report, Role, Task};

struct CallLoop;

impl Role for CallLoop {
    fn run(task: Task) -> Result<Report, String> {
        let n: u64 = task
            .input
            .trim()
            .parse()
            .map_err(|e| format!("bench-call-loop: input must be a call count: {e}"))?;
        for _ in 0..n {
            log::log(log::Level::Info, "x");
        }
        Ok(Report {
            summary: format!("{n} calls"),
            output: n.to_string(),
        })
    }
}

export_role!(CallLoop);
