//! Sleeps for an hour inside a WASI call (`std::thread::sleep`: a
//! `monotonic-clock.subscribe-duration`, then `poll`), where no epoch
//! interruption reaches.
use agentward_sdk::{export_role, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Err("woke up after an hour".into())
    }
}
export_role!(Hostile);
