//! Recurses without end through a frame whose buffer's address escapes, so
//! each call takes 4 KiB of Rust's shadow stack in linear memory: that stack
//! (sized when the component is built) runs out long before the engine's.
use agentward_sdk::{export_role, Report, Role, Task};
use std::hint::black_box;

fn deeper(n: u64) -> u64 {
    let mut frame = [0u8; 4096];
    frame[(n % 4096) as usize] = n as u8;
    black_box(&mut frame);
    if n == 0 {
        return 1;
    }
    deeper(n - 1).wrapping_add(frame[(n % 4096) as usize] as u64)
}

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let depth = (task.input.len() as u64 + 1) * 1_000_000_000;
        Ok(Report {
            summary: format!("{}", deeper(depth)),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
