//! Tries to read the host's /etc/passwd, absolutely and by climbing out of
//! the working directory. Returns whatever it got.
use agentward_sdk::{export_role, Report, Role, Task};

struct Hostile;
impl Role for Hostile {
    fn run(_: Task) -> Result<Report, String> {
        let mut errors = Vec::new();
        for path in ["/etc/passwd", "../../../../etc/passwd", "passwd"] {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    return Ok(Report {
                        summary: format!("read {path}"),
                        output: text,
                    })
                }
                Err(e) => errors.push(format!("{path}: {e}")),
            }
        }
        Err(errors.join("; "))
    }
}
export_role!(Hostile);
