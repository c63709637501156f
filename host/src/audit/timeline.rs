//! A readable timeline of audit records, for incident review.
//!
//! Answers "who did what, when, on which secret path and version, allowed or
//! denied, and how long it took" for one change or for every change in a
//! log. Records are grouped by change id (in order of first appearance) and
//! shown one row per host call: an effectful call's `intent` record and the
//! outcome record that follows it become a single row (`intent → ok`).
//!
//! Every string in a record may have been written by a guest, so all of it
//! is treated as hostile: control characters (terminal escapes, newlines)
//! and bidi overrides are shown escaped, HTML is entity-escaped, and
//! Markdown metacharacters are backslash-escaped. Values are already
//! redacted to `hmac-sha256:<hex>`; the timeline shortens those digests
//! (and handle tokens) to `hmac:3c81…0695` so rows stay readable while the
//! ends still let a reader match a digest against another record.

use super::record::AuditRecord;
use super::Decision;
use crate::capabilities::mediation::INTENT;
use serde_json::{Map, Value};
use std::fmt::Write;

/// How to render the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain-text columns; `colour` adds ANSI escapes.
    Terminal { colour: bool },
    /// A heading, a fact list and a GitHub-flavoured table per change.
    Markdown,
    /// One self-contained page: inline CSS, no script, no external resource.
    Html,
}

/// The red that marks denials in the HTML page (the DENY badge and the
/// row's left edge), as RGB.
pub const DENY_RED: [u8; 3] = [0xc6, 0x28, 0x28];

/// How the group of records without a change id is titled.
pub const NO_CHANGE: &str = "(no change)";

/// The timeline of `records` (in log order). `change_id: None` shows every
/// change; `Some(id)` only that one (`Some("")` the records outside any
/// change).
pub fn render(records: &[AuditRecord], change_id: Option<&str>, format: Format) -> String {
    let changes = changes(records, change_id);
    match format {
        Format::Terminal { colour } => terminal(&changes, change_id, colour),
        Format::Markdown => markdown(&changes, change_id),
        Format::Html => html(&changes, change_id),
    }
}

// ---------------------------------------------------------------------------
// The model: changes, rows, and what each row shows.
// ---------------------------------------------------------------------------

struct Change<'a> {
    /// As recorded: empty outside a change.
    id: &'a str,
    records: Vec<&'a AuditRecord>,
    rows: Vec<Row<'a>>,
}

impl Change<'_> {
    fn title(&self) -> String {
        if self.id.is_empty() {
            NO_CHANGE.to_string()
        } else {
            clean(self.id)
        }
    }

    /// The heading as plain text: `Change <id>`, or the group of calls
    /// made outside any change.
    fn heading(&self) -> String {
        if self.id.is_empty() {
            format!("{NO_CHANGE}: calls outside any change")
        } else {
            format!("Change {}", clean(self.id))
        }
    }

    /// How long the change ran, first record to last, when both
    /// timestamps parse and fall on the same day.
    fn span(&self) -> Option<String> {
        let (first, last) = (self.records.first()?, self.records.last()?);
        if self.records.len() < 2 {
            return None;
        }
        let (day_a, a) = instant(&first.body.event.ts)?;
        let (day_b, b) = instant(&last.body.event.ts)?;
        (day_a == day_b && b >= a).then(|| duration(b - a))
    }

    /// `first → last (span)`.
    fn when(&self) -> String {
        let mut when = format!("{} → {}", self.first_ts(), self.last_ts());
        if let Some(span) = self.span() {
            let _ = write!(when, " ({span})");
        }
        when
    }

    fn first_ts(&self) -> String {
        self.records
            .first()
            .map_or_else(String::new, |r| clean(&r.body.event.ts))
    }

    fn last_ts(&self) -> String {
        self.records
            .last()
            .map_or_else(String::new, |r| clean(&r.body.event.ts))
    }

    fn count(&self, status: Status) -> usize {
        self.rows.iter().filter(|r| r.status() == status).count()
    }

    /// Each role once, in order of first call, with the components it ran
    /// as (normally one).
    fn roles(&self) -> Vec<(String, Vec<String>)> {
        let mut roles: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.records {
            let role = clean(&r.body.event.role);
            let component = short_digest(&r.body.event.component);
            match roles.iter_mut().find(|(name, _)| *name == role) {
                Some((_, components)) => {
                    if !components.contains(&component) {
                        components.push(component);
                    }
                }
                None => roles.push((role, vec![component])),
            }
        }
        roles
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// One record.
    Single,
    /// An intent record and the outcome record of the same call.
    Collapsed,
    /// An intent with no outcome after it: the effect may or may not have
    /// happened (the run died, or the log was cut).
    Orphan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    Denied,
    /// Allowed, but the call failed (not found, invalid, unavailable).
    Failed,
    /// An intent without an outcome.
    Unresolved,
}

struct Row<'a> {
    /// The intent, or the only record.
    first: &'a AuditRecord,
    /// The outcome record, or the only record.
    last: &'a AuditRecord,
    kind: Kind,
}

impl Row<'_> {
    fn status(&self) -> Status {
        if self.kind == Kind::Orphan {
            Status::Unresolved
        } else if self.last.body.event.decision == Decision::Deny {
            Status::Denied
        } else if self.last.body.event.outcome == "ok" {
            Status::Ok
        } else {
            Status::Failed
        }
    }

    fn time(&self) -> String {
        clock(&self.first.body.event.ts)
    }

    fn seq(&self) -> String {
        if self.kind == Kind::Collapsed {
            format!("{}–{}", self.first.body.seq, self.last.body.seq)
        } else {
            self.first.body.seq.to_string()
        }
    }

    fn role(&self) -> String {
        clean(&self.first.body.event.role)
    }

    fn call(&self) -> String {
        clean(&self.first.body.event.call)
    }

    fn decision(&self) -> &'static str {
        match self.last.body.event.decision {
            Decision::Allow => "allow",
            Decision::Deny => "DENY",
        }
    }

    fn duration(&self) -> String {
        match self.kind {
            Kind::Orphan => "—".to_string(),
            _ => duration(self.last.body.event.duration_us),
        }
    }

    /// The outcome, shortened to `max` characters unless it is a denial:
    /// a denial names the policy line to change, so it is shown whole.
    fn outcome(&self, max: usize) -> String {
        let outcome = display(&self.last.body.event.outcome);
        let shown = match self.status() {
            Status::Denied => outcome,
            _ => truncate(&outcome, max),
        };
        match self.kind {
            Kind::Single => shown,
            Kind::Collapsed => format!("{INTENT} → {shown}"),
            Kind::Orphan => format!("{INTENT} → (no outcome recorded)"),
        }
    }

    /// The full outcome text, for a tooltip.
    fn outcome_full(&self) -> String {
        display(&self.last.body.event.outcome)
    }

    fn subject(&self) -> Subject {
        // The outcome record holds everything the intent did, plus what the
        // effect added (a version, a status).
        subject(&self.last.body.event.call, &self.last.body.event.args)
    }
}

fn is_intent(record: &AuditRecord) -> bool {
    record.body.event.decision == Decision::Allow && record.body.event.outcome == INTENT
}

fn changes<'a>(records: &'a [AuditRecord], only: Option<&str>) -> Vec<Change<'a>> {
    let mut changes: Vec<Change<'a>> = Vec::new();
    for record in records {
        let id = record.body.event.change_id.as_str();
        if only.is_some_and(|want| want != id) {
            continue;
        }
        match changes.iter_mut().find(|c| c.id == id) {
            Some(change) => change.records.push(record),
            None => changes.push(Change {
                id,
                records: vec![record],
                rows: Vec::new(),
            }),
        }
    }
    for change in &mut changes {
        change.rows = rows(&change.records);
    }
    changes
}

/// One row per call. An intent is paired with the next record of the same
/// role and component (a role's calls are sequential, so that record is
/// its outcome) when it is for the same call and is not itself an intent.
fn rows<'a>(records: &[&'a AuditRecord]) -> Vec<Row<'a>> {
    let mut paired = vec![false; records.len()];
    let mut rows = Vec::with_capacity(records.len());
    for (i, &record) in records.iter().enumerate() {
        if paired[i] {
            continue;
        }
        if !is_intent(record) {
            rows.push(Row {
                first: record,
                last: record,
                kind: Kind::Single,
            });
            continue;
        }
        let next = (i + 1..records.len()).find(|&j| {
            !paired[j]
                && records[j].body.event.role == record.body.event.role
                && records[j].body.event.component == record.body.event.component
        });
        match next {
            Some(j)
                if records[j].body.event.call == record.body.event.call
                    && !is_intent(records[j]) =>
            {
                paired[j] = true;
                rows.push(Row {
                    first: record,
                    last: records[j],
                    kind: Kind::Collapsed,
                });
            }
            _ => rows.push(Row {
                first: record,
                last: record,
                kind: Kind::Orphan,
            }),
        }
    }
    rows
}

/// What a call was about: the main thing (a secret path, a URL, a file, a
/// log message) and the details beside it (version, label, value digest,
/// status, sizes).
struct Subject {
    main: String,
    details: Vec<String>,
    /// The first detail matters as much as the main text (a secret's
    /// version, an HTTP status): a narrow column shortens the main text
    /// rather than drop it.
    pin_first: bool,
}

const DETAIL_SEP: &str = " · ";

impl Subject {
    fn detail(&self) -> String {
        self.details.join(DETAIL_SEP)
    }

    /// Width of `main  detail`, as the terminal shows it.
    fn width(&self) -> usize {
        let detail = width(&self.detail());
        width(&self.main) + if detail == 0 { 0 } else { 2 + detail }
    }

    /// The main text and the details that fit in `room` columns beside
    /// it. Details are dropped whole, never cut; a pinned first detail
    /// keeps its place by shortening a long main text.
    fn fit(&self, room: usize) -> (String, String) {
        let first = self.details.first().map_or(0, |d| width(d));
        let main_room = if self.details.is_empty() || width(&self.main) + 2 + first <= room {
            room
        } else if self.pin_first && first <= 20 && room >= 2 + first + 24 {
            room - 2 - first
        } else {
            room
        };
        let main = truncate(&self.main, main_room);
        let mut left = room.saturating_sub(width(&main) + 2);
        let mut shown: Vec<&str> = Vec::new();
        for part in &self.details {
            let need = width(part)
                + if shown.is_empty() {
                    0
                } else {
                    width(DETAIL_SEP)
                };
            if need > left {
                break;
            }
            left -= need;
            shown.push(part);
        }
        (main, shown.join(DETAIL_SEP))
    }
}

fn subject(call: &str, args: &Map<String, Value>) -> Subject {
    let text = |key: &str| args.get(key).map(value_text);
    let mut detail: Vec<String> = Vec::new();
    let main;
    let mut pin_first = false;
    if call.starts_with("workspace.") || args.contains_key("root") {
        main = format!(
            "{}:{}",
            text("root").unwrap_or_default(),
            text("path").unwrap_or_default()
        );
        if let Some(n) = text("bytes") {
            detail.push(format!("{n} bytes proposed"));
        }
        if let Some(n) = text("returned_bytes") {
            detail.push(format!("{n} bytes read"));
        }
    } else if let Some(path) = text("path") {
        main = path;
        pin_first = true;
        if let Some(v) = text("version") {
            detail.push(format!("v{v}"));
        }
        if let Some(label) = text("label") {
            detail.push(format!("label={label}"));
        }
        if let Some(n) = text("versions") {
            detail.push(format!("{n} versions"));
        }
        if let Some(value) = text("value") {
            detail.push(format!("value={value}"));
        }
        if let Some(handle) = text("handle") {
            detail.push(format!("→ {handle}"));
        }
        // The orchestrator's steps: the state moved and the versions involved.
        if let (Some(from), Some(to)) = (text("from"), text("to")) {
            detail.push(format!("{from} → {to}"));
        }
        match (text("old_version"), text("new_version")) {
            (Some(old), Some(new)) => detail.push(format!("v{old} → v{new}")),
            (None, Some(new)) => detail.push(format!("new v{new}")),
            _ => {}
        }
        if text("trigger").as_deref() == Some("breach") {
            detail.push("BREACH".to_string());
        }
    } else if let Some(url) = text("url") {
        pin_first = true;
        main = match text("method") {
            Some(method) => format!("{method} {url}"),
            None => url,
        };
        if let Some(status) = text("status") {
            detail.push(format!("→ {status}"));
        }
        if let Some(headers) = text("headers").filter(|h| !h.is_empty()) {
            detail.push(format!("headers: {headers}"));
        }
        match (text("body_bytes"), text("response_bytes")) {
            (Some(out), Some(back)) => detail.push(format!("{out} B sent, {back} B received")),
            (Some(out), None) if out != "0" => detail.push(format!("{out} B sent")),
            _ => {}
        }
    } else if let Some(statement) = text("statement") {
        // `sql`: the statement is what was done; who, where and what came
        // back follow.
        pin_first = true;
        main = format!("`{statement}`");
        if let Some(user) = text("user") {
            detail.push(format!("as {user}"));
        }
        if let Some(endpoint) = text("endpoint") {
            detail.push(format!("on {endpoint}"));
        }
        if let Some(params) = text("params").filter(|p| !p.is_empty()) {
            detail.push(format!("params: {params}"));
        }
        if let Some(rows) = text("rows") {
            detail.push(format!("{rows} rows"));
        }
    } else if let Some(message) = text("message") {
        main = message;
        if let Some(level) = text("level") {
            detail.push(format!("level={level}"));
        }
    } else if let Some(prefix) = text("prefix") {
        main = if prefix.is_empty() {
            "(all paths)".to_string()
        } else {
            format!("{prefix}*")
        };
        if let Some(n) = text("returned") {
            detail.push(format!("{n} returned"));
        }
    } else if let Some(handle) = text("handle") {
        main = handle;
    } else {
        main = args
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k), value_text(v)))
            .collect::<Vec<_>>()
            .join(" ");
    }
    Subject {
        main,
        details: detail,
        pin_first,
    }
}

/// An argument value as shown: strings cleaned and shortened, lists joined.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => display(s),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => display(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Text helpers.
// ---------------------------------------------------------------------------

/// `text` with control characters and bidi controls escaped, so guest text
/// can neither drive a terminal nor reorder or break a line.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`clean`], then digests and handle tokens shortened.
fn display(text: &str) -> String {
    shorten_tokens(&clean(text))
}

const DIGEST_PREFIX: &str = "hmac-sha256:";
const HANDLE_PREFIX: &str = "{{agentward:handle:";

/// `hmac-sha256:<64 hex>` → `hmac:3c81…0695`, and
/// `{{agentward:handle:<hex>}}` → `handle:9f3a…c2d1`, wherever they occur.
fn shorten_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let digest = rest.find(DIGEST_PREFIX);
        let handle = rest.find(HANDLE_PREFIX);
        let (at, prefix, label, suffix) = match (digest, handle) {
            (Some(d), Some(h)) if h < d => (h, HANDLE_PREFIX, "handle:", "}}"),
            (Some(d), _) => (d, DIGEST_PREFIX, "hmac:", ""),
            (None, Some(h)) => (h, HANDLE_PREFIX, "handle:", "}}"),
            (None, None) => break,
        };
        out.push_str(&rest[..at]);
        let after = &rest[at + prefix.len()..];
        let hex_len = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        let hex = &after[..hex_len];
        let tail = &after[hex_len..];
        if hex_len >= 12 && tail.starts_with(suffix) {
            let _ = write!(out, "{label}{}…{}", &hex[..4], &hex[hex_len - 4..]);
            rest = &tail[suffix.len()..];
        } else {
            out.push_str(prefix);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A component digest (sha256 hex) as `3c81…0695`.
fn short_digest(hex: &str) -> String {
    let hex = clean(hex);
    let chars: Vec<char> = hex.chars().collect();
    if chars.len() <= 12 {
        return hex;
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// At most `max` characters, the last one `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// `2026-11-25T10:03:07.123456789Z` → `10:03:07.123`.
fn clock(ts: &str) -> String {
    let parsed = ts.split_once('T').and_then(|(_, time)| {
        let hms = time.get(..8)?;
        let ok = hms.bytes().enumerate().all(|(i, b)| match i {
            2 | 5 => b == b':',
            _ => b.is_ascii_digit(),
        });
        if !ok {
            return None;
        }
        let mut millis: String = match time[8..].strip_prefix('.') {
            Some(frac) => frac
                .chars()
                .take_while(char::is_ascii_digit)
                .take(3)
                .collect(),
            None => String::new(),
        };
        while millis.len() < 3 {
            millis.push('0');
        }
        Some(format!("{hms}.{millis}"))
    });
    parsed.unwrap_or_else(|| truncate(&clean(ts), 12))
}

fn duration(us: u64) -> String {
    let secs = us / 1_000_000;
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else if secs < 60 {
        format!("{:.2}s", us as f64 / 1e6)
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, secs / 60 % 60)
    }
}

/// `2026-11-25T10:03:07.123456Z` → (`2026-11-25`, microseconds into the day).
fn instant(ts: &str) -> Option<(&str, u64)> {
    let (day, time) = ts.split_once('T')?;
    let field = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = time.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (h, m, s) = (field(0..2)?, field(3..5)?, field(6..8)?);
    let frac: String = time
        .get(8..)?
        .strip_prefix('.')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .chain(std::iter::repeat('0'))
        .take(6)
        .collect();
    let micros: u64 = frac.parse().ok()?;
    Some((day, ((h * 60 + m) * 60 + s) * 1_000_000 + micros))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "12 calls · 2 denied · 1 failed", the counts that are not zero.
fn counts(change: &Change) -> (String, usize, usize, usize) {
    let denied = change.count(Status::Denied);
    let failed = change.count(Status::Failed);
    let unresolved = change.count(Status::Unresolved);
    (
        plural(change.rows.len(), "call", "calls"),
        denied,
        failed,
        unresolved,
    )
}

fn roles_text(change: &Change) -> String {
    change
        .roles()
        .into_iter()
        .map(|(role, components)| format!("{role} (component {})", components.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn title(only: Option<&str>) -> String {
    match only {
        Some("") => format!("Audit timeline: {NO_CHANGE}"),
        Some(id) => format!("Audit timeline: change {}", clean(id)),
        None => "Audit timeline".to_string(),
    }
}

fn empty_text(only: Option<&str>) -> String {
    match only {
        Some(id) if !id.is_empty() => format!("No audit records for change {}.", clean(id)),
        Some(_) => "No audit records outside a change.".to_string(),
        None => "No audit records.".to_string(),
    }
}

// ---------------------------------------------------------------------------
// Terminal.
// ---------------------------------------------------------------------------

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const BOLD_RED: &str = "\x1b[1;31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";

/// The widest the subject column gets; longer subjects are cut with `…`.
const TERMINAL_SUBJECT: usize = 64;
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

fn terminal(changes: &[Change], only: Option<&str>, colour: bool) -> String {
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

// ---------------------------------------------------------------------------
// Markdown.
// ---------------------------------------------------------------------------

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

fn markdown(changes: &[Change], only: Option<&str>) -> String {
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

// ---------------------------------------------------------------------------
// HTML.
// ---------------------------------------------------------------------------

/// Subjects and non-denial outcomes longer than this are cut, the whole
/// text kept in the cell's tooltip.
const HTML_CELL: usize = 160;

/// Escapes text for an HTML element or a quoted attribute value.
fn h(text: &str) -> String {
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
"#;

fn html(changes: &[Change], only: Option<&str>) -> String {
    let title = title(only);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        h(&title),
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
            let _ = writeln!(
                out,
                "<tr class=\"{class}\"><td class=\"when\">{}<span class=\"seq\">#{}</span></td>\
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{RecordBody, GENESIS};
    use crate::audit::CallEvent;
    use serde_json::json;

    const DIGEST: &str =
        "hmac-sha256:3c81aa0000000000000000000000000000000000000000000000000000000695";

    fn record(seq: u64, change: &str, role: &str, call: &str, args: Value) -> AuditRecord {
        let event = CallEvent {
            ts: format!("2026-11-25T10:03:{:02}.{:03}456Z", seq % 60, seq * 7),
            change_id: change.into(),
            role: role.into(),
            component: "ab".repeat(32),
            call: call.into(),
            args: args.as_object().cloned().unwrap_or_default(),
            decision: Decision::Allow,
            outcome: "ok".into(),
            duration_us: 40 + seq,
        };
        AuditRecord {
            body: RecordBody::new(GENESIS.into(), seq, &event),
            hash: "00".repeat(32),
        }
    }

    fn with(mut r: AuditRecord, decision: Decision, outcome: &str) -> AuditRecord {
        r.body.event.decision = decision;
        r.body.event.outcome = outcome.into();
        r
    }

    fn log(seq: u64, change: &str, message: &str) -> AuditRecord {
        record(
            seq,
            change,
            "planner",
            "log.log",
            json!({"level": "info", "message": message}),
        )
    }

    fn plain() -> Format {
        Format::Terminal { colour: false }
    }

    #[test]
    fn groups_by_change_in_order_of_first_appearance() {
        let records = vec![
            log(0, "chg-b", "first-b"),
            log(1, "", "outside"),
            log(2, "chg-a", "first-a"),
            log(3, "chg-b", "second-b"),
        ];
        let changes = changes(&records, None);
        let ids: Vec<&str> = changes.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["chg-b", "", "chg-a"]);
        assert_eq!(changes[0].records.len(), 2);

        let text = render(&records, None, plain());
        let b = text.find("Change chg-b").unwrap();
        let none = text.find("(no change): calls outside any change").unwrap();
        let a = text.find("Change chg-a").unwrap();
        assert!(b < none && none < a, "{text}");

        let only = render(&records, Some("chg-a"), plain());
        assert!(only.contains("first-a") && !only.contains("first-b") && !only.contains("outside"));
        let outside = render(&records, Some(""), plain());
        assert!(outside.contains("(no change)") && outside.contains("outside"));
        assert!(!outside.contains("second-b"));
        let missing = render(&records, Some("nope"), Format::Html);
        assert!(missing.contains("No audit records for change nope."));
    }

    #[test]
    fn header_counts_calls_denials_and_roles() {
        let records = vec![
            log(0, "c", "hello"),
            with(
                record(1, "c", "rotator", "secrets-read.read", json!({"path": "prod/db", "label": "current"})),
                Decision::Deny,
                "denied: role rotator may not read secret `prod/db` (current); to allow it, change line 7 of policy.toml to: read = [\"staging/*\", \"prod/db\"]",
            ),
            record(2, "c", "rotator", "secrets-read.read", json!({"path": "staging/db", "label": "current", "value": DIGEST})),
        ];
        let text = render(&records, None, plain());
        assert!(text.contains("3 calls"), "{text}");
        assert!(text.contains("1 denial"), "{text}");
        assert!(
            text.contains("roles: planner (component abab…abab), rotator"),
            "{text}"
        );
        assert!(text.contains("2026-11-25T10:03:00.000456Z → 2026-11-25T10:03:02.014456Z (2.01s)"));
        // A denial's outcome is shown whole: it names the line to fix.
        assert!(
            text.contains("change line 7 of policy.toml to: read = [\"staging/*\", \"prod/db\"]")
        );
        assert!(text.contains("DENY"));
        // The secret's path, label and the shortened digest.
        assert!(
            text.contains("staging/db  label=current · value=hmac:3c81…0695"),
            "{text}"
        );
        assert!(!text.contains(DIGEST));
    }

    #[test]
    fn intent_and_outcome_collapse_into_one_row() {
        let args = json!({"path": "npm/token", "value": DIGEST});
        let mut done = args.clone();
        done["version"] = json!(4);
        let records = vec![
            with(
                record(5, "c", "rotator", "secrets-write.put-pending", args),
                Decision::Allow,
                INTENT,
            ),
            log(6, "c", "meanwhile, another role logs"),
            record(7, "c", "rotator", "secrets-write.put-pending", done),
        ];
        let changes = changes(&records, None);
        let rows = &changes[0].rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].kind, Kind::Collapsed);
        assert_eq!(rows[0].seq(), "5–7");
        assert_eq!(rows[0].outcome(80), "intent → ok");
        assert_eq!(rows[0].time(), "10:03:05.035");
        assert_eq!(rows[0].duration(), "47µs");
        let subject = rows[0].subject();
        assert_eq!(subject.main, "npm/token");
        assert_eq!(subject.detail(), "v4 · value=hmac:3c81…0695");

        let text = render(&records, None, plain());
        assert!(text.contains("2 calls"), "{text}");
        assert_eq!(
            text.matches("secrets-write.put-pending").count(),
            1,
            "{text}"
        );
        assert!(text.contains("intent → ok"));
    }

    #[test]
    fn intent_without_outcome_stays_visible() {
        let http = json!({"method": "POST", "url": "https://registry.example/-/token", "headers": ["authorization"], "body_bytes": 12});
        let records = vec![
            with(
                record(0, "c", "publisher", "http.send", http.clone()),
                Decision::Allow,
                INTENT,
            ),
            // The next record of that role is a different call: no pairing.
            with(
                record(1, "c", "publisher", "http.send", http),
                Decision::Allow,
                INTENT,
            ),
            with(
                record(2, "c", "publisher", "log.log", json!({"message": "x"})),
                Decision::Allow,
                "ok",
            ),
        ];
        let changes = changes(&records, None);
        let kinds: Vec<Kind> = changes[0].rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [Kind::Orphan, Kind::Orphan, Kind::Single]);
        let text = render(&records, None, plain());
        assert!(text.contains("intent → (no outcome recorded)"));
        assert!(text.contains("2 without outcome"));
        assert!(text.contains("POST https://registry.example/-/token"));
    }

    #[test]
    fn failed_intent_pairs_with_its_error() {
        let args = json!({"root": "repo", "path": "src/lib.rs", "bytes": 120});
        let records = vec![
            with(
                record(0, "c", "coder", "workspace.propose-change", args.clone()),
                Decision::Allow,
                INTENT,
            ),
            with(
                record(1, "c", "coder", "workspace.propose-change", args),
                Decision::Allow,
                "invalid: too large",
            ),
        ];
        let changes = changes(&records, None);
        let row = &changes[0].rows[0];
        assert_eq!(row.status(), Status::Failed);
        assert_eq!(row.outcome(80), "intent → invalid: too large");
        assert_eq!(row.subject().main, "repo:src/lib.rs");
    }

    #[test]
    fn html_escapes_hostile_text() {
        let records = vec![
            log(
                0,
                "c<img src=x>",
                "<script>alert('pwned')</script> & \"quotes\"",
            ),
            record(
                1,
                "c<img src=x>",
                "role\"><b>",
                "http.send",
                json!({"method": "GET", "url": "https://x.test/?a=<b>&c"}),
            ),
        ];
        let page = render(&records, None, Format::Html);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("role\"><b>"), "{page}");
        assert!(page.contains(
            "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"
        ));
        assert!(page.contains("Change <code>c&lt;img src=x&gt;</code>"));
        assert!(page.contains("role&quot;&gt;&lt;b&gt;"));
        assert!(page.contains("https://x.test/?a=&lt;b&gt;&amp;c"));
        // Self-contained: no script, no external resource.
        assert!(!page.to_lowercase().contains("<script"));
        assert!(!page.contains("src=\"") && !page.contains("href="));
        assert!(!page.contains("<link"));
        assert!(!page.contains("http://") && !page.contains("@import"));
    }

    #[test]
    fn html_marks_denials_in_red() {
        let records = vec![with(
            record(
                0,
                "c",
                "r",
                "secrets-read.read",
                json!({"path": "prod/x", "label": "current"}),
            ),
            Decision::Deny,
            "denied: no",
        )];
        let page = render(&records, None, Format::Html);
        let red = format!("#{:02x}{:02x}{:02x}", DENY_RED[0], DENY_RED[1], DENY_RED[2]);
        assert!(page.contains(&format!(".badge.deny{{color:#fff;background:{red}}}")));
        assert!(page.contains("<tr class=\"deny\">"));
        assert!(page.contains("<span class=\"badge deny\">DENY</span>"));
    }

    #[test]
    fn markdown_escapes_cells() {
        let records = vec![
            log(
                0,
                "c|d",
                "a | b <script>x</script> [link](http://e) *em* `code`",
            ),
            with(
                record(
                    1,
                    "c|d",
                    "r",
                    "secrets-read.read",
                    json!({"path": "a|b", "label": "current"}),
                ),
                Decision::Deny,
                "denied: use | carefully",
            ),
        ];
        let text = render(&records, None, Format::Markdown);
        assert!(text.contains("## Change c\\|d"), "{text}");
        assert!(
            text.contains(
                "a \\| b \\<script\\>x\\</script\\> \\[link\\](http://e) \\*em\\* \\`code\\`"
            ),
            "{text}"
        );
        assert!(text.contains("| a\\|b · label=current |"), "{text}");
        assert!(text.contains("| **DENY** |"));
        assert!(text.contains("denied: use \\| carefully |"));
        // Every table line has exactly the 9 unescaped pipes of 8 columns.
        for line in text.lines().filter(|l| l.starts_with('|')) {
            let unescaped = line
                .char_indices()
                .filter(|&(i, c)| c == '|' && (i == 0 || line.as_bytes()[i - 1] != b'\\'))
                .count();
            assert_eq!(unescaped, 9, "{line}");
        }
    }

    #[test]
    fn terminal_colour_is_opt_in_and_guest_escapes_are_neutralised() {
        let records = vec![
            log(
                0,
                "c",
                "clear screen \x1b[2J and\nnew line \u{202e}reversed",
            ),
            with(
                record(
                    1,
                    "c",
                    "r",
                    "secrets-read.read",
                    json!({"path": "prod/x", "label": "current"}),
                ),
                Decision::Deny,
                "denied: no",
            ),
        ];
        let plain = render(&records, None, plain());
        assert!(!plain.contains('\x1b'), "{plain:?}");
        assert!(
            plain.contains("clear screen \\u{1b}[2J and\\nnew line \\u{202e}reversed"),
            "{plain}"
        );
        let colour = render(&records, None, Format::Terminal { colour: true });
        assert!(colour.contains("\x1b[1;31mDENY\x1b[0m"), "{colour:?}");
        // The only escapes are ours.
        assert!(!colour.contains("\x1b[2J"));
        assert_eq!(colour.lines().filter(|l| l.contains("log.log")).count(), 1);
    }

    #[test]
    fn terminal_columns_align() {
        let records = vec![
            log(0, "c", "short"),
            record(
                1,
                "c",
                "rotator",
                "secrets-read.read",
                json!({"path": "staging/db", "label": "current", "value": DIGEST}),
            ),
            record(
                2,
                "c",
                "planner",
                "log.log",
                json!({"level": "warn", "message": "x".repeat(300)}),
            ),
        ];
        let text = render(&records, None, plain());
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("allow") || l.contains("DECISION"))
            .collect();
        assert_eq!(rows.len(), 4, "{text}");
        let at: Vec<usize> = rows
            .iter()
            .map(|l| {
                let byte = l.find("allow").or_else(|| l.find("DECISION")).unwrap();
                l[..byte].chars().count()
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] == w[1]), "{at:?}\n{text}");
        assert!(text.contains(&format!("{}…", "x".repeat(20))));
        assert!(!text.contains(&"x".repeat(TERMINAL_SUBJECT + 1)));
    }

    #[test]
    fn tokens_and_timestamps_are_shortened() {
        assert_eq!(
            shorten_tokens(&format!("got {DIGEST}.")),
            "got hmac:3c81…0695."
        );
        assert_eq!(
            shorten_tokens("{{agentward:handle:9f3a00000000000000c2d1}} x"),
            "handle:9f3a…c2d1 x"
        );
        assert_eq!(shorten_tokens("hmac-sha256:abc"), "hmac-sha256:abc");
        assert_eq!(clock("2026-11-25T10:03:07Z"), "10:03:07.000");
        assert_eq!(clock("2026-11-25T10:03:07.1Z"), "10:03:07.100");
        assert_eq!(clock("2026-11-25T10:03:07.123456789Z"), "10:03:07.123");
        assert_eq!(clock("garbage"), "garbage");
        assert_eq!(duration(999), "999µs");
        assert_eq!(duration(12_345), "12.3ms");
        assert_eq!(duration(2_500_000), "2.50s");
        assert_eq!(duration(75_000_000), "1m 15s");
        assert_eq!(duration(3_725_000_000), "1h 02m");
        assert_eq!(
            instant("2026-11-25T01:02:03.5Z"),
            Some(("2026-11-25", 3_723_500_000))
        );
        assert_eq!(
            instant("2026-11-25T01:02:03.123456789Z"),
            Some(("2026-11-25", 3_723_123_456))
        );
        assert_eq!(
            instant("2026-11-25T01:02:03Z"),
            Some(("2026-11-25", 3_723_000_000))
        );
        assert_eq!(instant("2026-11-25 01:02:03Z"), None);
        assert_eq!(instant("2026-11-25T01:x2:03Z"), None);
    }
}
