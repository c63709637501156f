//! Never returns.
use agentward_sdk::{export_role, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        let mut i = 0u64;
        loop {
            i = std::hint::black_box(i.wrapping_add(1));
        }
    }
}
export_role!(Hostile);
