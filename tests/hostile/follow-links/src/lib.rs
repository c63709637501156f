//! Tries to read past its granted directories through links someone left
//! in them: a symlink to a file outside, a symlink to a directory outside,
//! and a hard link of a file outside. Each input line is one attempt:
//! `docs PATH`, `search QUERY`, `read ROOT PATH`, `list ROOT PATH` or
//! `propose ROOT PATH`; the report's output holds what each one returned.
use agentward_sdk::{docs, export_role, workspace, Error, Report, Role, Task};

struct Hostile;

fn shown(result: Result<String, Error>) -> String {
    match result {
        // Debug-quoted, so every answer is one line of the report.
        Ok(text) => format!("ok {text:?}"),
        Err(e) => format!("err {e:?}"),
    }
}

fn attempt(line: &str) -> String {
    let mut words = line.splitn(3, ' ');
    let (verb, a, b) = (
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
    );
    let utf8 = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    shown(match verb {
        "docs" => docs::read(a).map(|d| d.text),
        "search" => docs::search(a, 50).map(|hits| {
            let paths: Vec<String> = hits.into_iter().map(|h| h.path).collect();
            paths.join(",")
        }),
        "read" => workspace::read_file(a, b).map(utf8),
        "list" => workspace::list_dir(a, b).map(|names| names.join(",")),
        "propose" => workspace::propose_change(a, b, b"owned").map(|()| String::new()),
        other => Ok(format!("unknown attempt `{other}`")),
    })
}

impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let lines: Vec<String> = task
            .input
            .lines()
            .map(|line| format!("{line} => {}", attempt(line)))
            .collect();
        Ok(Report {
            summary: format!("{} attempts", lines.len()),
            output: lines.join("\n"),
        })
    }
}
export_role!(Hostile);
