//! Recurses without end. The recursion uses only wasm locals (no address is
//! taken, so nothing lands on Rust's shadow stack in linear memory): it is
//! the engine's own stack limit that must stop it.
use agentward_sdk::{export_role, Report, Role, Task};

/// Two operations after the call keep LLVM from turning it into a loop;
/// a depth from the input keeps it from being folded away.
fn deeper(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    deeper(n - 1).wrapping_mul(3).wrapping_add(n)
}

struct Hostile;
impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let depth = (task.input.len() as u64 + 1) * 1_000_000_000_000;
        Ok(Report {
            summary: format!("{}", deeper(depth)),
            output: "{}".into(),
        })
    }
}
export_role!(Hostile);
