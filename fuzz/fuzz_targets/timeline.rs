//! The timeline renderers on arbitrary audit records, every string in them
//! as a hostile guest would write it. The HTML page's only markup is the
//! renderer's own (every `<` opens one of its tags, so no `<script`), and
//! no renderer lets a control character or a bidi override through: the
//! terminal output's only escapes are its own colours.
#![no_main]

use agentward::audit::record::{AuditRecord, RecordBody};
use agentward::audit::timeline::{render, Format};
use agentward::audit::{CallEvent, Decision};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// Argument names and calls the timeline gives a meaning to.
const KEYS: &[&str] = &[
    "path",
    "version",
    "label",
    "versions",
    "value",
    "handle",
    "from",
    "to",
    "old_version",
    "new_version",
    "trigger",
    "root",
    "bytes",
    "returned_bytes",
    "url",
    "method",
    "status",
    "headers",
    "body_bytes",
    "response_bytes",
    "statement",
    "user",
    "endpoint",
    "params",
    "rows",
    "message",
    "level",
    "prefix",
    "returned",
    "model",
    "served_model",
    "tokens_in",
    "tokens_out",
    "latency_ms",
    "finish_reason",
    "prompt_bytes",
    "fuel_used",
    "fuel_limit",
    "limit",
    "denied",
    "denials_unrecorded",
    "name",
    "family",
];
const CALLS: &[&str] = &[
    "secrets-read.read",
    "secrets-meta.list-paths",
    "secrets-meta.describe",
    "secrets-write.put-pending",
    "secrets-write.generate",
    "handles.acquire",
    "workspace.read-file",
    "workspace.propose-change",
    "http.send",
    "sql.execute",
    "model.complete",
    "docs.search",
    "log.log",
    "role.run",
    "wasi.ip-name-lookup",
    "wasi.socket",
];
const WORDS: &[&str] = &[
    "ok",
    "intent",
    "breach",
    "hmac-sha256:",
    "{{agentward:handle:",
    "}}",
    "0123456789abcdef",
    "2026-11-25T10:03:07.123456Z",
    "2026-11-25T23:59:59Z",
    "01JTESTCHANGE0000000000000",
    "<script>alert(1)</script>",
    "\x1b[31m",
    "\u{202e}",
    "|",
    "`",
];

#[derive(Arbitrary, Debug)]
enum Text {
    Key(u8),
    Call(u8),
    Word(u8),
    Free(String),
    Joined(Vec<Text>),
}

impl Text {
    fn string(&self) -> String {
        let pick = |list: &[&str], n: u8| list[n as usize % list.len()].to_string();
        match self {
            Text::Key(n) => pick(KEYS, *n),
            Text::Call(n) => pick(CALLS, *n),
            Text::Word(n) => pick(WORDS, *n),
            Text::Free(s) => s.clone(),
            Text::Joined(parts) => parts.iter().map(Text::string).collect(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Arg {
    Text(Text),
    Number(u64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Text>),
    Counts(Vec<(Text, u64)>),
}

impl Arg {
    fn value(&self) -> Value {
        match self {
            Arg::Text(t) => Value::String(t.string()),
            Arg::Number(n) => Value::from(*n),
            Arg::Float(f) => serde_json::json!(f),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Null => Value::Null,
            Arg::List(items) => items.iter().map(|t| Value::String(t.string())).collect(),
            Arg::Counts(counts) => Value::Object(
                counts
                    .iter()
                    .map(|(k, n)| (k.string(), Value::from(*n)))
                    .collect(),
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Record {
    seq: u64,
    ts: Text,
    change_id: Text,
    role: Text,
    component: Text,
    call: Text,
    args: Vec<(Text, Arg)>,
    deny: bool,
    outcome: Text,
    duration_us: u64,
}

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<Record>,
    only: Option<Text>,
}

impl Record {
    fn audit_record(&self) -> AuditRecord {
        let args: Map<String, Value> = self
            .args
            .iter()
            .map(|(k, v)| (k.string(), v.value()))
            .collect();
        AuditRecord {
            body: RecordBody {
                prev: String::new(),
                seq: self.seq,
                event: CallEvent {
                    ts: self.ts.string(),
                    change_id: self.change_id.string(),
                    role: self.role.string(),
                    component: self.component.string(),
                    call: self.call.string(),
                    args,
                    decision: if self.deny {
                        Decision::Deny
                    } else {
                        Decision::Allow
                    },
                    outcome: self.outcome.string(),
                    duration_us: self.duration_us,
                },
            },
            hash: String::new(),
        }
    }
}

/// The elements the HTML renderer itself writes.
const TAGS: &[&str] = &[
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "i", "a",
    "nav", "section", "header", "code", "span", "dl", "div", "dt", "dd", "table", "colgroup",
    "col", "thead", "tbody", "tr", "th", "td",
];

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// No control character but a newline, and no bidi control.
fn assert_inert(what: &str, text: &str) {
    if let Some(c) = text
        .chars()
        .find(|&c| (c.is_control() && c != '\n') || is_bidi(c))
    {
        panic!("{what} output holds {c:?}:\n{text}");
    }
}

fn assert_own_markup(html: &str) {
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    for (at, _) in html.match_indices('<') {
        let rest = &html[at + 1..];
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        assert!(
            TAGS.contains(&name.as_str()),
            "markup <{name} at {at}:\n{html}"
        );
    }
}

/// The terminal renderer's own colours (SGR sequences), removed.
fn without_colours(text: &str) -> String {
    let mut out = text.to_string();
    for sgr in [
        "\x1b[0m",
        "\x1b[1m",
        "\x1b[2m",
        "\x1b[31m",
        "\x1b[1;31m",
        "\x1b[32m",
        "\x1b[33m",
    ] {
        out = out.replace(sgr, "");
    }
    out
}

/// A log as `audit timeline` reads it: one record per line, lines that
/// are not records skipped.
fn parse_log(bytes: &[u8]) -> Vec<AuditRecord> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // Input that starts like a record is a log (the seeds are real logs);
    // anything else is read as generated records.
    let (records, only) = if data.starts_with(b"{") {
        (parse_log(data), None)
    } else {
        let Ok(input) = Input::arbitrary_take_rest(arbitrary::Unstructured::new(data)) else {
            return;
        };
        let records = input.records.iter().map(Record::audit_record).collect();
        (records, input.only.as_ref().map(Text::string))
    };
    let only = only.as_deref();

    let html = render(&records, only, Format::Html);
    assert_own_markup(&html);
    assert_inert("HTML", &html);

    let plain = render(&records, only, Format::Terminal { colour: false });
    assert!(!plain.contains('\x1b'), "{plain}");
    assert_inert("terminal", &plain);

    let coloured = render(&records, only, Format::Terminal { colour: true });
    assert_inert("coloured terminal", &without_colours(&coloured));

    let markdown = render(&records, only, Format::Markdown);
    assert_inert("Markdown", &markdown);
});
