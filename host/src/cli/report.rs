//! `--report FORMAT=FILE` on `rotate` and `resume`: what a CI system reads
//! after a (dry-run) rotation. JUnit XML, which every CI shows as tests
//! (one suite per secret, one case for the rotation and one per check,
//! finding and health sample, failures carrying the reason); Markdown fit
//! for a step summary; and the JSON document `--json` prints. Every text
//! comes from the manifest, which holds no secret value.

use super::Failure;
use agentward::orchestrator::manifest::{ItemState, Manifest};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Junit,
    Markdown,
    Json,
}

/// One `--report FORMAT=FILE`.
#[derive(Clone, Debug)]
pub(crate) struct ReportSpec {
    format: Format,
    file: PathBuf,
}

impl std::str::FromStr for ReportSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let usage = || {
            format!("`{spec}`: write FORMAT=FILE with FORMAT junit, markdown or json, e.g. junit=reports/rotation.xml")
        };
        let (format, file) = spec.split_once('=').ok_or_else(usage)?;
        let format = match format {
            "junit" => Format::Junit,
            "markdown" => Format::Markdown,
            "json" => Format::Json,
            _ => return Err(usage()),
        };
        if file.is_empty() {
            return Err(usage());
        }
        Ok(ReportSpec {
            format,
            file: PathBuf::from(file),
        })
    }
}

/// What the reports are made from.
pub(crate) struct Outcome<'a> {
    /// `None`: nothing was due.
    pub manifest: Option<&'a Manifest>,
    pub waiting: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The document `--json` prints.
    pub doc: &'a serde_json::Value,
    pub wall_secs: f64,
}

/// Writes every report asked for (before the command's exit code is
/// decided, so a failed rotation still leaves its reports).
pub(crate) fn write_all(specs: &[ReportSpec], outcome: &Outcome) -> Result<(), Failure> {
    for spec in specs {
        let text = match spec.format {
            Format::Junit => junit(outcome),
            Format::Markdown => markdown(outcome),
            Format::Json => serde_json::to_string_pretty(outcome.doc).expect("json") + "\n",
        };
        if let Some(dir) = spec.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {} for --report", dir.display()))?;
        }
        std::fs::write(&spec.file, text)
            .with_context(|| format!("writing the report {}", spec.file.display()))?;
    }
    Ok(())
}

/// `text` safe inside XML 1.0 attributes and elements: characters XML
/// cannot carry dropped, markup escaped.
fn xml(text: &str) -> String {
    let carried: String = text
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || !((c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}')
        })
        .collect();
    agentward::audit::timeline::escape_markup(&carried)
}

/// One JUnit test case.
struct Case {
    name: String,
    /// `Err((type, message))` for a failure.
    result: Result<(), (String, String)>,
    skipped: Option<String>,
}

fn cases(item: &agentward::orchestrator::manifest::Item, waiting: Option<&str>) -> Vec<Case> {
    let mut cases = Vec::new();
    let reason = item.reason.clone().unwrap_or_default();
    let rotation = match item.state {
        ItemState::Done => Ok(()),
        state @ (ItemState::Aborted | ItemState::RolledBack) => {
            Err((state.as_str().to_string(), reason.clone()))
        }
        state => Err((
            state.as_str().to_string(),
            format!("the change stopped at {state}: {reason} (resume it)"),
        )),
    };
    let skipped = waiting.filter(|_| item.state == ItemState::Planned);
    cases.push(Case {
        name: "rotation".into(),
        result: if skipped.is_some() { Ok(()) } else { rotation },
        skipped: skipped.map(str::to_string),
    });
    if item.changes.is_some() || !item.findings.is_empty() {
        cases.push(Case {
            name: "review".into(),
            result: if item.findings.is_empty() {
                Ok(())
            } else {
                let findings: Vec<String> = item.findings.iter().map(ToString::to_string).collect();
                Err(("finding".into(), findings.join("; ")))
            },
            skipped: None,
        });
    }
    for (kind, checks) in [("check", &item.checks), ("health", &item.health)] {
        // Health samples repeat the same checks: number each name's runs.
        let mut runs: std::collections::HashMap<&str, usize> = Default::default();
        for check in checks {
            let run = runs.entry(check.name.as_str()).or_default();
            *run += 1;
            cases.push(Case {
                name: if kind == "health" {
                    format!("health: {} (sample {run})", check.name)
                } else {
                    format!("check: {}", check.name)
                },
                result: if check.passed {
                    Ok(())
                } else {
                    Err(("check failed".into(), check.detail.clone()))
                },
                skipped: None,
            });
        }
    }
    cases
}

fn junit(o: &Outcome) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures) = (0, 0);
    for item in o.manifest.iter().flat_map(|m| &m.items) {
        let cases = cases(item, o.waiting);
        let failed = cases.iter().filter(|c| c.result.is_err()).count();
        let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
        tests += cases.len();
        failures += failed;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\">",
            xml(&item.path),
            cases.len()
        );
        for case in cases {
            let _ = write!(
                suites,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&item.path),
                xml(&case.name)
            );
            match (&case.result, &case.skipped) {
                (Err((kind, message)), _) => {
                    let _ = writeln!(
                        suites,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                        xml(kind),
                        xml(message),
                        xml(message)
                    );
                }
                (Ok(()), Some(why)) => {
                    let _ = writeln!(
                        suites,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml(why)
                    );
                }
                (Ok(()), None) => suites.push_str("/>\n"),
            }
        }
        suites.push_str("  </testsuite>\n");
    }
    let name = match o.manifest {
        Some(m) if m.dry_run => format!("agentward dry-run rotation {}", m.change_id),
        Some(m) => format!("agentward rotation {}", m.change_id),
        None => "agentward rotation (nothing due)".to_string(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        xml(&name),
        o.wall_secs
    )
}

/// `text` safe in one Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A model's text as one Markdown code span, so that whatever it says
/// renders as text: no link, image, heading or HTML of its making. The
/// fence is one backtick longer than the longest run inside.
fn inline_code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

fn markdown(o: &Outcome) -> String {
    let mut md = String::new();
    let Some(m) = o.manifest else {
        return "## agentward rotation\n\nNothing is due for rotation.\n".to_string();
    };
    let kind = if m.dry_run { "dry run" } else { "live" };
    let _ = writeln!(md, "## agentward rotation `{}` ({kind})\n", m.change_id);
    let done = m
        .items
        .iter()
        .filter(|i| i.state == ItemState::Done)
        .count();
    let _ = writeln!(
        md,
        "**{done} of {} secrets done** · change {} · plan hash `{}`\n",
        m.items.len(),
        m.state.as_str(),
        m.plan_hash
    );
    if let Some(error) = o.error {
        let _ = writeln!(md, "> **Stopped:** {}\n", cell(error));
    }
    md.push_str("| Secret | From | To | State | Detail |\n|---|---|---|---|---|\n");
    let version = |v: Option<u32>| v.map_or("–".to_string(), |v| format!("v{v}"));
    for item in &m.items {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} |",
            cell(&item.path),
            version(item.expected_current),
            version(item.new_version()),
            item.state.as_str(),
            cell(&item.detail())
        );
    }
    let checks: Vec<String> = m
        .items
        .iter()
        .flat_map(|item| {
            item.checks
                .iter()
                .map(|c| ("check", c))
                .chain(item.health.iter().map(|c| ("health", c)))
                .map(move |(kind, c)| {
                    format!(
                        "- {} `{}` {kind} **{}**: {}",
                        if c.passed { "✅" } else { "❌" },
                        cell(&item.path),
                        cell(&c.name),
                        cell(&c.detail)
                    )
                })
        })
        .collect();
    if !checks.is_empty() {
        let _ = writeln!(md, "\n### Checks\n\n{}", checks.join("\n"));
    }
    let findings: Vec<String> = m
        .items
        .iter()
        .flat_map(|item| {
            item.findings.iter().map(move |f| {
                format!(
                    "- `{}` {}: {}",
                    cell(&item.path),
                    f.file.as_deref().unwrap_or("(change)"),
                    cell(&f.message)
                )
            })
        })
        .collect();
    if !findings.is_empty() {
        let _ = writeln!(md, "\n### Review findings\n\n{}", findings.join("\n"));
    }
    let advice: Vec<String> = m
        .briefing
        .summary
        .iter()
        .map(|a| ("the Researcher's summary".to_string(), a))
        .chain(m.items.iter().filter_map(|item| {
            let a = item.advice.as_ref()?;
            Some((format!("`{}` review", cell(&item.path)), a))
        }))
        .map(|(what, a)| {
            let by = a.model.as_deref().map_or("no model".into(), cell);
            format!("- {what} ({by}): {}", inline_code(&a.text))
        })
        .collect();
    if !advice.is_empty() {
        let _ = writeln!(
            md,
            "\n### Model advice (advisory: no check reads it)\n\n{}",
            advice.join("\n")
        );
    }
    md.push_str("\n### Approvals\n\n");
    match o.waiting {
        Some(waiting) => {
            let _ = writeln!(md, "Still needed: {}", cell(waiting));
        }
        None => md.push_str("None outstanding.\n"),
    }
    let _ = writeln!(
        md,
        "\n### Timeline\n\n```sh\nagentward audit timeline {} --format html --out timeline-{}.html\n```",
        m.change_id, m.change_id
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_the_form() {
        let spec: ReportSpec = "junit=reports/r.xml".parse().unwrap();
        assert_eq!(spec.format, Format::Junit);
        assert_eq!(spec.file, PathBuf::from("reports/r.xml"));
        for bad in ["junit", "xml=r.xml", "json="] {
            let err = bad.parse::<ReportSpec>().unwrap_err();
            assert!(err.contains("FORMAT=FILE"), "{err}");
        }
    }

    #[test]
    fn xml_escapes_markup_and_drops_what_xml_cannot_carry() {
        assert_eq!(xml("a<b>&\"'\u{1}c\n"), "a&lt;b&gt;&amp;&quot;&#39;c\n");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn model_text_renders_as_one_code_span() {
        assert_eq!(inline_code("[x](http://e/)\n# h"), "` [x](http://e/) # h `");
        assert_eq!(inline_code("a `b` ``c"), "``` a `b` ``c ```");
    }
}
