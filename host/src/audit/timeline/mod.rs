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
use super::{INTENT, RUN_CALL};
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
        Format::Terminal { colour } => terminal::terminal(&changes, change_id, colour),
        Format::Markdown => markdown::markdown(&changes, change_id),
        Format::Html => html::html(&changes, change_id),
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
    } else if call.starts_with("model.") {
        // Which model each role consulted, where, and what it cost: a
        // change of model is a policy edit, and this row shows it took.
        pin_first = true;
        main = format!(
            "model {} at {}",
            text("served_model")
                .or_else(|| text("model"))
                .unwrap_or_default(),
            text("endpoint").unwrap_or_default()
        );
        if let (Some(tokens_in), Some(tokens_out)) = (text("tokens_in"), text("tokens_out")) {
            detail.push(format!("{tokens_in} → {tokens_out} tokens"));
        }
        if let Some(ms) = text("latency_ms") {
            detail.push(format!("{ms} ms"));
        }
        if let Some(finish) = text("finish_reason") {
            detail.push(format!("finish={finish}"));
        }
        if let Some(bytes) = text("prompt_bytes") {
            detail.push(format!("{bytes} B prompt"));
        }
    } else if call == RUN_CALL {
        // A run's own record: what it used, and what stopped it.
        pin_first = true;
        main = format!(
            "fuel {} of {}",
            text("fuel_used").unwrap_or_default(),
            text("fuel_limit").unwrap_or_default()
        );
        if let Some(limit) = text("limit") {
            detail.push(format!("stopped by {limit}"));
        }
        if let Some(denied) = args.get("denied").and_then(Value::as_object) {
            let total: u64 = denied.values().filter_map(Value::as_u64).sum();
            let unrecorded = text("denials_unrecorded").unwrap_or_default();
            detail.push(format!("{total} denied ({unrecorded} unrecorded)"));
        }
    } else if let Some(sandboxed) = call.strip_prefix("wasi.") {
        // What the role tried that its sandbox has no way to do.
        main = match (text("name"), text("family")) {
            (Some(name), _) => format!("look up {name}"),
            (None, Some(family)) => format!("{family} socket"),
            (None, None) => sandboxed.replace('.', " "),
        };
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

mod html;
mod markdown;
pub use html::escape_markup;
mod terminal;
#[cfg(test)]
mod tests;
