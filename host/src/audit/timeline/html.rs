//! The timeline as one self-contained HTML page: inline CSS, no script,
//! no external resource; every guest-written text entity-escaped.

use super::*;

/// Subjects and non-denial outcomes longer than this are cut, the whole
/// text kept in the cell's tooltip.
const HTML_CELL: usize = 160;

/// Escapes text for an HTML or XML element or a quoted attribute value.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn h(text: &str) -> String {
    escape_markup(text)
}

const CSS: &str = r#"
*{box-sizing:border-box}
html{color-scheme:light}
body{margin:0;padding:16px 20px;background:#f3f4f6;color:#1f2328;
 font:14px/1.45 "DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:20px;margin:0 0 2px}
.summary{margin:0 0 12px;color:#4b5563}
.summary b{color:#1f2328}
.summary .denied{color:#c62828}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 16px;overflow:hidden}
section.has-denials{border-color:#e3a0a0}
section>header{padding:9px 14px;background:#f8fafc;border-bottom:1px solid #d0d7de}
h2{font-size:16px;margin:0 0 5px;font-weight:600}
h2 code{font:600 15px "DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;
 background:#eef1f4;padding:1px 6px;border-radius:4px}
dl{display:flex;flex-wrap:wrap;gap:2px 24px;margin:0;font-size:13px}
dl div{display:flex;gap:6px}
dt{color:#57606a}
dd{margin:0;font-weight:600}
dd.none{font-weight:400;color:#57606a}
.pill{display:inline-block;padding:0 7px;border-radius:9px;font-weight:700}
.pill.deny{background:#c62828;color:#fff}
.pill.warn{background:#fde68a;color:#713f12}
table{width:100%;border-collapse:collapse;table-layout:fixed;
 font:12px/1.4 "DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace}
col.time{width:104px}col.role{width:100px}col.call{width:200px}
col.decision{width:70px}col.dur{width:74px}col.outcome{width:28%}
th{text-align:left;font:600 11px "DejaVu Sans",system-ui,sans-serif;text-transform:uppercase;
 letter-spacing:.04em;color:#57606a;padding:6px 8px;border-bottom:1px solid #d0d7de;background:#fff}
th .seq{display:inline;text-transform:none}
td{padding:4px 8px;border-bottom:1px solid #eef0f2;vertical-align:top;
 overflow-wrap:anywhere;word-break:break-word}
tr:last-child td{border-bottom:0}
tbody tr:nth-child(even) td{background:#fafbfc}
td.when,td.decision,td.dur{white-space:nowrap;overflow-wrap:normal;word-break:normal}
td.when{color:#4b5563}
.seq{display:block;color:#8b949e;font-size:11px}
td.role{font-weight:700}
.num{text-align:right}
.detail{display:block;color:#6b7280;font-size:11px}
tr.deny td{background:#fdecec !important}
tr.deny td:first-child{box-shadow:inset 5px 0 0 #c62828}
tr.deny .outcome{color:#a11d1d}
tr.failed .outcome,tr.unresolved .outcome{color:#92400e}
tr.failed td:first-child,tr.unresolved td:first-child{box-shadow:inset 5px 0 0 #f59e0b}
.ok{color:#1a7f37}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-weight:700}
.badge.allow{color:#1a7f37;background:#e7f5ec}
.badge.deny{color:#fff;background:#c62828}
.empty{color:#57606a}
.quiet{font-weight:400;color:#57606a;font-size:14px}
nav.filters{margin:0 0 12px;color:#57606a;font-size:13px}
nav.filters a{display:inline-block;padding:0 7px;border:1px solid #d0d7de;border-radius:9px;
 color:#0969da;text-decoration:none;background:#fff}
"#;

/// Filters by role and by decision that work without script: each is an
/// empty element whose id a link targets, and a rule hides the rows it
/// does not show while it is the URL's fragment (`page.html#only-deny`).
/// The anchors precede the sections, so `:target ~ section` reaches every
/// row. Roles get numbered classes: their names never reach a selector.
fn roles_of(changes: &[Change]) -> Vec<String> {
    let mut roles: Vec<String> = changes
        .iter()
        .flat_map(|c| c.rows.iter().map(|r| r.role()))
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The rules of the filters for `roles` roles.
fn filter_css(roles: usize) -> String {
    let active = "{background:#ddf4ff;border-color:#54aeff}";
    let mut css = format!(
        "#only-deny:target~section tbody tr:not(.deny),\
         #only-allow:target~section tbody tr.deny{{display:none}}\n\
         #only-deny:target~nav a[href=\"#only-deny\"],\
         #only-allow:target~nav a[href=\"#only-allow\"]{active}\n"
    );
    for n in 0..roles {
        let _ = writeln!(
            css,
            "#only-role-{n}:target~section tbody tr:not(.r-{n}){{display:none}}\
             #only-role-{n}:target~nav a[href=\"#only-role-{n}\"]{active}"
        );
    }
    css
}

/// The filters' anchors and links.
fn filter_bar(roles: &[String]) -> String {
    let mut anchors = String::from("<i id=\"only-deny\"></i><i id=\"only-allow\"></i>");
    let mut links = String::from(
        "<a href=\"#\">all</a> <a href=\"#only-deny\">denials</a> <a href=\"#only-allow\">allowed</a> · role:",
    );
    for (n, role) in roles.iter().enumerate() {
        let _ = write!(anchors, "<i id=\"only-role-{n}\"></i>");
        let _ = write!(links, " <a href=\"#only-role-{n}\">{}</a>", h(role));
    }
    format!("{anchors}\n<nav class=\"filters\">Show: {links}</nav>\n")
}

pub(super) fn html(changes: &[Change], only: Option<&str>) -> String {
    let title = title(only);
    let roles = roles_of(changes);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        h(&title),
        filter_css(roles.len()),
        h(&title)
    );
    if changes.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"empty\">{}</p>\n</body>\n</html>",
            h(&empty_text(only))
        );
        return out;
    }

    let records: usize = changes.iter().map(|c| c.records.len()).sum();
    let calls: usize = changes.iter().map(|c| c.rows.len()).sum();
    let denied: usize = changes.iter().map(|c| c.count(Status::Denied)).sum();
    let named = changes.iter().filter(|c| !c.id.is_empty()).count();
    let outside = if named < changes.len() {
        " + calls outside any change"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<p class=\"summary\"><b>{}</b>{outside} · <b>{}</b> ({}) · {}</p>",
        plural(named, "change", "changes"),
        plural(calls, "call", "calls"),
        plural(records, "record", "records"),
        if denied > 0 {
            format!(
                "<b class=\"denied\">{}</b>",
                plural(denied, "denial", "denials")
            )
        } else {
            "no denials".to_string()
        }
    );
    out.push_str(&filter_bar(&roles));

    for change in changes {
        let (calls, denied, failed, unresolved) = counts(change);
        let class = if denied > 0 {
            " class=\"has-denials\""
        } else {
            ""
        };
        let _ = writeln!(out, "<section{class}>\n<header>");
        if change.id.is_empty() {
            let _ = writeln!(
                out,
                "<h2><code>{NO_CHANGE}</code> <span class=\"quiet\">calls outside any change</span></h2>\n<dl>"
            );
        } else {
            let _ = writeln!(
                out,
                "<h2>Change <code>{}</code></h2>\n<dl>",
                h(&change.title())
            );
        }
        let fact = |out: &mut String, name: &str, value: &str| {
            let _ = writeln!(out, "<div><dt>{name}</dt><dd>{value}</dd></div>");
        };
        fact(&mut out, "First", &h(&change.first_ts()));
        fact(&mut out, "Last", &h(&change.last_ts()));
        if let Some(span) = change.span() {
            fact(&mut out, "Span", &h(&span));
        }
        fact(&mut out, "Calls", &h(&calls));
        if denied > 0 {
            let text = format!("<span class=\"pill deny\">{denied}</span>");
            fact(&mut out, "Denials", &text);
        } else {
            let _ = writeln!(out, "<div><dt>Denials</dt><dd class=\"none\">0</dd></div>");
        }
        if failed > 0 {
            fact(
                &mut out,
                "Failed",
                &format!("<span class=\"pill warn\">{failed}</span>"),
            );
        }
        if unresolved > 0 {
            let text = format!("<span class=\"pill warn\">{unresolved}</span>");
            fact(&mut out, "Without outcome", &text);
        }
        fact(&mut out, "Roles", &h(&roles_text(change)));
        out.push_str("</dl>\n</header>\n");

        out.push_str(
            "<table>\n<colgroup><col class=\"time\"><col class=\"role\">\
             <col class=\"call\"><col class=\"subject\"><col class=\"decision\"><col class=\"dur\">\
             <col class=\"outcome\"></colgroup>\n<thead><tr><th>Time <span class=\"seq\">#seq</span></th>\
             <th>Role</th><th>Call</th><th>Subject</th><th>Decision</th>\
             <th class=\"num\">Duration</th><th>Outcome</th></tr></thead>\n<tbody>\n",
        );
        for row in &change.rows {
            let status = row.status();
            let class = match status {
                Status::Ok => "ok-row",
                Status::Denied => "deny",
                Status::Failed => "failed",
                Status::Unresolved => "unresolved",
            };
            let subject = row.subject();
            let main = truncate(&subject.main, HTML_CELL);
            let subject_title = if main != subject.main {
                format!(" title=\"{}\"", h(&subject.main))
            } else {
                String::new()
            };
            let detail = if subject.details.is_empty() {
                String::new()
            } else {
                format!("<span class=\"detail\">{}</span>", h(&subject.detail()))
            };
            let decision = match row.last.body.event.decision {
                Decision::Allow => "<span class=\"badge allow\">allow</span>",
                Decision::Deny => "<span class=\"badge deny\">DENY</span>",
            };
            let outcome = row.outcome(HTML_CELL);
            let outcome_title =
                if status != Status::Denied && width(&row.outcome_full()) > HTML_CELL {
                    format!(" title=\"{}\"", h(&row.outcome_full()))
                } else {
                    String::new()
                };
            let outcome_html = if status == Status::Ok {
                format!("<span class=\"ok\">{}</span>", h(&outcome))
            } else {
                h(&outcome)
            };
            let role_class = roles
                .iter()
                .position(|r| *r == row.role())
                .map_or(String::new(), |n| format!(" r-{n}"));
            let _ = writeln!(
                out,
                "<tr class=\"{class}{role_class}\"><td class=\"when\">{}<span class=\"seq\">#{}</span></td>\
                 <td class=\"role\">{}</td><td>{}</td><td{subject_title}>{}{detail}</td><td class=\"decision\">{decision}</td>\
                 <td class=\"num dur\">{}</td><td class=\"outcome\"{outcome_title}>{outcome_html}</td></tr>",
                h(&row.time()),
                h(&row.seq()),
                h(&row.role()),
                h(&row.call()),
                h(&main),
                h(&row.duration()),
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}
