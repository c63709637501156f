use super::terminal::TERMINAL_SUBJECT;
use super::*;
use crate::audit::record::{RecordBody, GENESIS};
use crate::audit::CallEvent;
use serde_json::json;

const DIGEST: &str = "hmac-sha256:3c81aa0000000000000000000000000000000000000000000000000000000695";

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
    assert!(text.contains("change line 7 of policy.toml to: read = [\"staging/*\", \"prod/db\"]"));
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
    assert!(page
        .contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(page.contains("Change <code>c&lt;img src=x&gt;</code>"));
    assert!(page.contains("role&quot;&gt;&lt;b&gt;"));
    assert!(page.contains("https://x.test/?a=&lt;b&gt;&amp;c"));
    // Self-contained: no script, no external resource.
    assert!(!page.to_lowercase().contains("<script"));
    assert!(!page.contains("src=\""));
    // Links only to fragments of the page itself (the filters).
    assert!(
        page.split("href=")
            .skip(1)
            .all(|rest| rest.starts_with("\"#")),
        "{page}"
    );
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
    assert!(page.contains("<tr class=\"deny r-0\">"));
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

#[test]
fn a_model_call_names_the_model_and_endpoint_it_reached() {
    let records = vec![
        record(
            0,
            "chg",
            "reviewer",
            "model.complete",
            json!({"model": "risks", "served_model": "risks-v2", "endpoint": "http://127.0.0.1:8081/v1",
                   "tokens_in": 120, "tokens_out": 40, "latency_ms": 812.5, "finish_reason": "stop",
                   "prompt_bytes": 400}),
        ),
        record(
            1,
            "chg",
            "researcher",
            "model.complete",
            json!({"model": "summaries", "endpoint": "http://127.0.0.1:8082/v1", "prompt_bytes": 90}),
        ),
    ];
    let text = render(&records, None, Format::Markdown);
    assert!(
        text.contains("model risks-v2 at http://127.0.0.1:8081/v1"),
        "{text}"
    );
    assert!(
        text.contains("120 → 40 tokens · 812.5 ms · finish=stop"),
        "{text}"
    );
    // A call that never reached the server still names the grant's model.
    assert!(
        text.contains("model summaries at http://127.0.0.1:8082/v1"),
        "{text}"
    );
}
