//! The timeline as aligned plain-text columns, ANSI colour optional.

use super::*;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const BOLD_RED: &str = "\x1b[1;31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";

/// The widest the subject column gets; longer subjects are cut with `…`.
pub(super) const TERMINAL_SUBJECT: usize = 64;
/// Non-denial outcomes are cut to this.
const TERMINAL_OUTCOME: usize = 80;

struct Painter {
    colour: bool,
}

impl Painter {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.colour && !style.is_empty() && !text.is_empty() {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// `text` painted and padded to `width` columns (padding unpainted).
    fn cell(&self, style: &str, text: &str, width: usize, right: bool) -> String {
        let pad = " ".repeat(width.saturating_sub(self::width(text)));
        let painted = self.paint(style, text);
        if right {
            format!("{pad}{painted}")
        } else {
            format!("{painted}{pad}")
        }
    }
}

pub(super) fn terminal(changes: &[Change], only: Option<&str>, colour: bool) -> String {
    let p = Painter { colour };
    let mut out = String::new();
    if changes.is_empty() {
        let _ = writeln!(out, "{}", empty_text(only));
        return out;
    }
    let all_rows = || changes.iter().flat_map(|c| c.rows.iter());
    let col = |name: &str, f: &dyn Fn(&Row) -> usize| {
        all_rows().map(f).max().unwrap_or(0).max(width(name))
    };
    let w_time = 12;
    let w_seq = col("SEQ", &|r| width(&r.seq()));
    let w_role = col("ROLE", &|r| width(&r.role()));
    let w_call = col("CALL", &|r| width(&r.call()));
    let w_subject = col("SUBJECT", &|r| r.subject().width()).min(TERMINAL_SUBJECT);
    let w_decision = 8;
    let w_duration = col("DURATION", &|r| width(&r.duration()));

    for (n, change) in changes.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let (calls, denied, failed, unresolved) = counts(change);
        let _ = writeln!(out, "{}", p.paint(BOLD, &change.heading()));
        let mut facts = vec![change.when(), calls];
        facts.push(if denied > 0 {
            p.paint(BOLD_RED, &plural(denied, "denial", "denials"))
        } else {
            "0 denials".to_string()
        });
        if failed > 0 {
            facts.push(p.paint(YELLOW, &format!("{failed} failed")));
        }
        if unresolved > 0 {
            facts.push(p.paint(YELLOW, &format!("{unresolved} without outcome")));
        }
        let _ = writeln!(out, "  {}", facts.join(" · "));
        let _ = writeln!(out, "  roles: {}", roles_text(change));
        out.push('\n');

        let header = [
            p.cell(DIM, "TIME", w_time, false),
            p.cell(DIM, "SEQ", w_seq, true),
            p.cell(DIM, "ROLE", w_role, false),
            p.cell(DIM, "CALL", w_call, false),
            p.cell(DIM, "SUBJECT", w_subject, false),
            p.cell(DIM, "DECISION", w_decision, false),
            p.cell(DIM, "DURATION", w_duration, true),
            p.paint(DIM, "OUTCOME"),
        ];
        let _ = writeln!(out, "  {}", header.join("  "));

        for row in &change.rows {
            let status = row.status();
            let subject = row.subject();
            let (main, detail) = subject.fit(w_subject);
            let subject_cell = if detail.is_empty() {
                p.cell("", &main, w_subject, false)
            } else {
                let used = width(&main) + 2 + width(&detail);
                format!(
                    "{main}  {}{}",
                    p.paint(DIM, &detail),
                    " ".repeat(w_subject - used)
                )
            };
            let (decision_style, outcome_style) = match status {
                Status::Denied => (BOLD_RED, RED),
                Status::Failed | Status::Unresolved => ("", YELLOW),
                Status::Ok => ("", GREEN),
            };
            let cells = [
                p.cell(DIM, &row.time(), w_time, false),
                p.cell(DIM, &row.seq(), w_seq, true),
                p.cell("", &row.role(), w_role, false),
                p.cell("", &row.call(), w_call, false),
                subject_cell,
                p.cell(decision_style, row.decision(), w_decision, false),
                p.cell("", &row.duration(), w_duration, true),
                p.paint(outcome_style, &row.outcome(TERMINAL_OUTCOME)),
            ];
            let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
        }
    }
    out
}
