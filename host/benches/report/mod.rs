//! How a bench hands its figures to `scripts/bench.sh`.
//!
//! With `AGENTWARD_BENCH_OUT` set to a directory, a bench appends Markdown
//! to files there: `rows-<area>.md` (lines of the one comparison table),
//! `targets-<area>.md` (lines of the targets table) and `detail-<area>.md`
//! (its own section). `scripts/bench.sh` assembles them into
//! docs/benchmarks.md. Without it, a bench only prints.

#![allow(dead_code)] // each bench target uses a different part

use std::io::Write;
use std::path::PathBuf;

fn out_dir() -> Option<PathBuf> {
    std::env::var_os("AGENTWARD_BENCH_OUT").map(PathBuf::from)
}

/// Appends `text` (plus a newline) to `file` in the output directory.
pub fn emit(file: &str, text: &str) {
    let Some(dir) = out_dir() else { return };
    std::fs::create_dir_all(&dir).expect("AGENTWARD_BENCH_OUT is creatable");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(file))
        .expect("AGENTWARD_BENCH_OUT is writable");
    writeln!(f, "{text}").expect("write bench output");
}

/// One line of the comparison table: `| area | comparison | subject | baseline | ratio |`.
pub fn row(area: &str, comparison: &str, subject: &str, baseline: &str, ratio: &str) {
    emit(
        &format!("rows-{}.md", slug(area)),
        &format!("| {area} | {comparison} | {subject} | {baseline} | {ratio} |"),
    );
}

/// One line of the targets table: `| target | measured | met |`.
pub fn target(area: &str, target: &str, measured: &str, met: bool) {
    emit(
        &format!("targets-{}.md", slug(area)),
        &format!(
            "| {target} | {measured} | {} |",
            if met { "met" } else { "**missed**" }
        ),
    );
}

/// Text of the area's detail section (printed too).
pub fn detail(area: &str, text: &str) {
    println!("{text}");
    emit(&format!("detail-{}.md", slug(area)), text);
}

fn slug(area: &str) -> String {
    area.chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
}

/// A rate (per second) with thin grouping: `12 345/s`.
pub fn rate(per_second: f64) -> String {
    let n = per_second.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    format!("{out}/s")
}
