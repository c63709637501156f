//! The timeline as Markdown: a heading, a fact list and a GFM table per
//! change, every guest-written text backslash-escaped.

use super::*;

/// Non-denial outcomes and subjects are cut to this in Markdown.
const MARKDOWN_CELL: usize = 100;

/// Backslash-escapes what Markdown (CommonMark and GFM tables) would
/// otherwise read as markup: a guest's text cannot add a column (`|`),
/// inline HTML (`<`), a link, emphasis or an entity.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '$' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn markdown(changes: &[Change], only: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md(&title(only)));
    if changes.is_empty() {
        let _ = writeln!(out, "{}", md(&empty_text(only)));
        return out;
    }
    for change in changes {
        let (calls, denied, failed, unresolved) = counts(change);
        let _ = writeln!(out, "## {}\n", md(&change.heading()));
        let _ = writeln!(out, "- **When:** {}", md(&change.when()));
        let mut tally = vec![calls];
        tally.push(if denied > 0 {
            format!("**{}**", plural(denied, "denial", "denials"))
        } else {
            "0 denials".to_string()
        });
        if failed > 0 {
            tally.push(format!("{failed} failed"));
        }
        if unresolved > 0 {
            tally.push(format!("{unresolved} without outcome"));
        }
        let _ = writeln!(out, "- **Calls:** {}", tally.join(", "));
        let _ = writeln!(out, "- **Roles:** {}\n", md(&roles_text(change)));
        out.push_str("| Time | Seq | Role | Call | Subject | Decision | Duration | Outcome |\n");
        out.push_str("|---|--:|---|---|---|---|--:|---|\n");
        for row in &change.rows {
            let subject = row.subject();
            let mut subject_text = md(&truncate(&subject.main, MARKDOWN_CELL));
            if !subject.details.is_empty() {
                let _ = write!(subject_text, "{DETAIL_SEP}{}", md(&subject.detail()));
            }
            let decision = match row.status() {
                Status::Denied => "**DENY**".to_string(),
                _ => row.decision().to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&row.time()),
                md(&row.seq()),
                md(&row.role()),
                md(&row.call()),
                subject_text,
                decision,
                md(&row.duration()),
                md(&row.outcome(MARKDOWN_CELL)),
            );
        }
        out.push('\n');
    }
    out
}
