//! Benchmark guest: sends N `GET URL` requests through `http`, the task
//! input being `N URL`, and fails unless each answers 200. Running it with
//! N and with 0 gives the per-request cost of a mediated HTTPS request
//! without the instantiation around it (see host/benches/tls.rs).
use agentward_sdk::{export_role, http, Report, Role, Task};

struct HttpLoop;

impl Role for HttpLoop {
    fn run(task: Task) -> Result<Report, String> {
        let (n, url) = task
            .input
            .trim()
            .split_once(' ')
            .ok_or("bench-http-loop: input is `N URL`")?;
        let n: u64 = n.parse().map_err(|e| format!("bench-http-loop: N: {e}"))?;
        for _ in 0..n {
            let response = http::send(&http::Request {
                method: "GET".into(),
                url: url.into(),
                headers: Vec::new(),
                body: None,
            })
            .map_err(|e| e.message().to_string())?;
            if response.status != 200 {
                return Err(format!("{url} answered {}", response.status));
            }
        }
        Ok(Report {
            summary: format!("{n} requests"),
            output: n.to_string(),
        })
    }
}

export_role!(HttpLoop);
