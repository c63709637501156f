//! Planner: decides which secrets a change rotates, and when.
//!
//! Input: a [`PlanTask`]; output: a [`Plan`]. A secret is due when its
//! current version is older than its cadence (the `cadence_days` custom
//! attribute, else the workflow's) or it expires within the lead time. A
//! breach plan holds exactly the suspected path and never waits for the
//! window. A cadence plan starts inside the workflow's window and outside
//! the CI schedules the Researcher's briefing found in the docs (`HH:MM-HH:MM`
//! UTC blocks), so a rotation never lands mid-build. Each item lists the
//! repository files the Domain specialist mapped to its secret. The Planner
//! sees metadata only (`secrets-meta`) and the briefing.

use agentward_handoff::{Briefing, DailyWindow, Plan, PlanItem, PlanTask, Trigger};
use agentward_sdk::{export_role, secrets_meta, Report, Role, Task};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};

fn parse_ts(text: &str, what: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("{what} {text:?} is not RFC 3339: {e}"))
}

fn format_ts(ts: OffsetDateTime) -> String {
    ts.format(&Rfc3339).unwrap_or_default()
}

fn parse_hhmm(text: &str) -> Result<Time, String> {
    let bad = || format!("window time {text:?} is not HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    Time::from_hms(
        h.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        0,
    )
    .map_err(|_| bad())
}

fn in_window(t: OffsetDateTime, window: &DailyWindow) -> Result<bool, String> {
    let (start, end) = (parse_hhmm(&window.start)?, parse_hhmm(&window.end)?);
    let t = t.time();
    Ok(if start <= end {
        t >= start && t < end
    } else {
        t >= start || t < end
    })
}

/// Daily UTC blocks (`HH:MM-HH:MM`) when CI runs, from the briefing's
/// documents on CI schedules: a rotation must not start inside one.
fn ci_blocks(briefing: &Briefing) -> Vec<DailyWindow> {
    let mut blocks = Vec::new();
    for doc in briefing.documents.iter().filter(|d| {
        let about = format!("{} {}", d.topic, d.title).to_lowercase();
        about.contains("ci ") || about.contains("ci-") || about.contains("schedule")
    }) {
        for word in doc
            .excerpt
            .split(|c: char| c.is_whitespace() || c == '|' || c == ',')
        {
            if let Some((start, end)) = word.split_once('-') {
                if parse_hhmm(start).is_ok() && parse_hhmm(end).is_ok() {
                    blocks.push(DailyWindow {
                        start: start.into(),
                        end: end.into(),
                    });
                }
            }
        }
    }
    blocks
}

const SEARCH_STEP_MINUTES: i64 = 1;
const SEARCH_DAYS: i64 = 2;

/// The first time from `now` that is inside the workflow's window (if it
/// has one) and outside every CI block; `None` if that is `now` itself.
fn start_time(
    now: OffsetDateTime,
    window: Option<&DailyWindow>,
    busy: &[DailyWindow],
) -> Result<Option<OffsetDateTime>, String> {
    let mut t = now;
    while t < now + Duration::days(SEARCH_DAYS) {
        let open = match window {
            Some(w) => in_window(t, w)?,
            None => true,
        };
        let mut clear = true;
        for block in busy {
            clear &= !in_window(t, block)?;
        }
        if open && clear {
            return Ok((t != now).then_some(t));
        }
        // Whole-minute steps: a window's start or a block's end is hit exactly.
        let next = t + Duration::minutes(SEARCH_STEP_MINUTES);
        t = next
            .replace_second(0)
            .unwrap_or(next)
            .replace_nanosecond(0)
            .unwrap_or(next);
    }
    Err(format!(
        "no time in the next {SEARCH_DAYS} days is inside the window and outside the CI schedules ({} blocks)",
        busy.len()
    ))
}

struct Candidate {
    path: String,
    current: Option<u32>,
    reason: Option<String>,
    cadence_days: u32,
    scopes: Vec<String>,
}

fn assess(task: &PlanTask, now: OffsetDateTime, path: &str) -> Result<Candidate, String> {
    let info =
        secrets_meta::describe(path).map_err(|e| format!("describe {path}: {}", e.message()))?;
    let current = info
        .versions
        .iter()
        .find(|v| v.labels.iter().any(|l| l == "current"));
    let cadence_days = match info.custom.iter().find(|(k, _)| k == "cadence_days") {
        None => task.cadence_days,
        Some((_, v)) => v.parse().map_err(|_| {
            format!("{path}: its cadence_days attribute {v:?} is not a whole number of days")
        })?,
    };
    let horizon = now + Duration::days(task.lead_days.into());
    let mut reason = None;
    if let Some(expires) = &info.expires {
        if parse_ts(expires, "expiry")? <= horizon {
            reason = Some(format!("expires {expires}, within {} days", task.lead_days));
        }
    }
    match current {
        None => reason = Some("has no current version".into()),
        Some(v) if reason.is_none() => {
            let due = parse_ts(&v.created, "creation time")? + Duration::days(cadence_days.into());
            if due <= horizon {
                reason = Some(format!(
                    "version {} was created {}, older than its {cadence_days}-day cadence",
                    v.version, v.created
                ));
            }
        }
        Some(_) => {}
    }
    Ok(Candidate {
        path: path.to_string(),
        current: current.map(|v| v.version),
        reason,
        cadence_days,
        scopes: info.scopes,
    })
}

struct Planner;

impl Role for Planner {
    fn run(task: Task) -> Result<Report, String> {
        let plan_task: PlanTask =
            serde_json::from_str(&task.input).map_err(|e| format!("planner input: {e}"))?;
        let now = parse_ts(&plan_task.now, "now")?;
        let mut items = Vec::new();
        let mut notes = Vec::new();
        let mut not_due = 0;
        let paths = match (&plan_task.trigger, &plan_task.breach) {
            (Trigger::Breach, Some(path)) => vec![path.clone()],
            (Trigger::Breach, None) => return Err("a breach plan needs the suspected path".into()),
            (Trigger::Cadence, _) => {
                let mut paths = Vec::new();
                for prefix in &plan_task.prefixes {
                    paths.extend(
                        secrets_meta::list_paths(prefix)
                            .map_err(|e| format!("list {prefix}: {}", e.message()))?,
                    );
                }
                paths
            }
        };
        for path in paths {
            let mut candidate = assess(&plan_task, now, &path)?;
            if plan_task.trigger == Trigger::Breach {
                candidate.reason = Some("suspected breach: rotate now".into());
            }
            let Some(reason) = candidate.reason else {
                not_due += 1;
                continue;
            };
            for failure in plan_task.failures.iter().filter(|f| f.path == path) {
                notes.push(format!(
                    "{path}: change {} ended {} ({}); planned again",
                    failure.change_id, failure.outcome, failure.reason
                ));
            }
            let files = plan_task
                .usages
                .iter()
                .filter(|u| u.secret == path)
                .map(|u| u.file.clone())
                .collect();
            items.push(PlanItem {
                path: candidate.path,
                current_version: candidate.current,
                reason,
                cadence_days: candidate.cadence_days,
                scopes: candidate.scopes,
                files,
            });
        }
        let busy = ci_blocks(&plan_task.briefing);
        let not_before = match plan_task.trigger {
            Trigger::Cadence if !items.is_empty() => {
                start_time(now, plan_task.window.as_ref(), &busy)?.map(format_ts)
            }
            _ => None,
        };
        if !busy.is_empty() && plan_task.trigger == Trigger::Cadence {
            notes.push(format!("avoiding {} CI blocks from the docs", busy.len()));
        }
        agentward_sdk::info(&format!("{} due, {not_due} not due", items.len()));
        let summary = match &not_before {
            Some(t) => format!("{} secrets due; rotation starts at {t}", items.len()),
            None => format!("{} secrets due, {not_due} not due", items.len()),
        };
        let plan = Plan {
            items,
            not_before,
            notes,
        };
        Ok(Report {
            summary,
            output: serde_json::to_string(&plan).map_err(|e| e.to_string())?,
        })
    }
}

export_role!(Planner);
