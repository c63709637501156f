//! The HTML audit timeline, rendered by a real browser.
//!
//! Builds a realistic, hash-chained audit log (a token rotation with an
//! intent/outcome pair, denials, a failed call and a hostile log message),
//! renders it as HTML, screenshots the page with headless Chromium and
//! checks the pixels: the page is not blank and the denial red is on it.
//!
//! Needs `/usr/bin/chromium`: run `scripts/install-chromium.sh` (as root).
//! The page and the screenshot are left in
//! `target/tmp/timeline/` for a human to look at.

use agentward::audit::record::{AuditRecord, RecordBody, GENESIS};
use agentward::audit::timeline::{render, Format, DENY_RED};
use agentward::audit::{CallEvent, Decision};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHANGE: &str = "01JDQ4M3ZK7W0RX9T2V5B8C6EA";
const FOLLOW_UP: &str = "01JDQ5A1HX2N8V0C3M6P9R4TQB";
const POLICY: &str = "policies/default.toml";

/// 32 bytes of made-up hash, as hex.
fn hex32(seed: u8) -> String {
    (0..32u8)
        .map(|i| {
            let x = i.wrapping_mul(151).wrapping_add(seed).rotate_left(3) ^ seed;
            format!("{x:02x}")
        })
        .collect()
}

fn digest(seed: u8) -> String {
    format!("hmac-sha256:{}", hex32(seed))
}

/// Appends events as a hash-chained log and reads every line back, the
/// way a reviewer's tool would.
struct Log {
    lines: Vec<u8>,
    prev: String,
    seq: u64,
    millis: u64,
}

impl Log {
    fn new() -> Self {
        Log {
            lines: Vec::new(),
            prev: GENESIS.to_string(),
            seq: 0,
            millis: 10 * 3_600_000 + 3 * 60_000 + 7_000,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        change: &str,
        role: &str,
        call: &str,
        args: Value,
        decision: Decision,
        outcome: &str,
        duration_us: u64,
        gap_ms: u64,
    ) {
        self.millis += gap_ms;
        let ms = self.millis;
        let ts = format!(
            "2026-11-25T{:02}:{:02}:{:02}.{:03}{:06}Z",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
            (self.seq * 7919) % 1_000_000
        );
        let component = hex32(role.bytes().fold(7u8, |a, b| a.wrapping_mul(31) ^ b));
        let event = CallEvent {
            ts,
            change_id: change.to_string(),
            role: role.to_string(),
            component,
            call: call.to_string(),
            args: args.as_object().cloned().expect("args are an object"),
            decision,
            outcome: outcome.to_string(),
            duration_us,
        };
        let body = RecordBody::new(std::mem::take(&mut self.prev), self.seq, &event);
        let (line, hash) = body.encode();
        self.lines.extend_from_slice(&line);
        self.prev = hash;
        self.seq += 1;
    }

    fn ok(&mut self, change: &str, role: &str, call: &str, args: Value, us: u64) {
        self.push(change, role, call, args, Decision::Allow, "ok", us, 180);
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.lines
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("a record parses back"))
            .collect()
    }
}

fn denial(role: &str, request: &str, line: u32, fix: &str) -> String {
    format!("denied: role {role} may not {request}; to allow it, change line {line} of {POLICY} to: {fix}")
}

fn incident() -> Vec<AuditRecord> {
    use Decision::{Allow, Deny};
    let mut log = Log::new();
    log.ok(
        "",
        "planner",
        "log.log",
        json!({"level": "info", "message": "host started; policy policies/default.toml loaded"}),
        18,
    );
    log.ok(
        CHANGE,
        "planner",
        "log.log",
        json!({"level": "info", "message": "plan: rotate npm/publish-token, update .npmrc, verify publish"}),
        21,
    );
    log.ok(
        CHANGE,
        "planner",
        "secrets-meta.list-paths",
        json!({"prefix": "npm/", "returned": 2}),
        143,
    );
    log.ok(
        CHANGE,
        "planner",
        "secrets-meta.describe",
        json!({"path": "npm/publish-token", "versions": 3}),
        97,
    );
    log.push(
        CHANGE,
        "implementer",
        "secrets-read.read",
        json!({"path": "prod/db/password", "label": "current"}),
        Deny,
        &denial(
            "implementer",
            "read secret `prod/db/password` (current)",
            25,
            "secrets-read = { paths = [\"npm/**\", \"prod/db/password\"] }",
        ),
        12,
        2_340,
    );
    let token = digest(0x3c);
    log.push(
        CHANGE,
        "implementer",
        "secrets-write.put-pending",
        json!({"path": "npm/publish-token", "value": token}),
        Allow,
        "intent",
        9,
        1_150,
    );
    log.push(
        CHANGE,
        "implementer",
        "secrets-write.put-pending",
        json!({"path": "npm/publish-token", "value": token, "version": 4}),
        Allow,
        "ok",
        1_840,
        2,
    );
    log.ok(
        CHANGE,
        "implementer",
        "handles.acquire",
        json!({
            "path": "npm/publish-token",
            "label": "pending",
            "handle": "{{agentward:handle:5be0c3a19d7f2e4468b1a0f9}}",
            "value": token,
        }),
        211,
    );
    let http = json!({
        "method": "PUT",
        "url": "http://127.0.0.1:4873/-/user/token/npm-publish",
        "headers": ["authorization", "content-type"],
        "body_bytes": 58,
    });
    log.push(
        CHANGE,
        "implementer",
        "http.send",
        http.clone(),
        Allow,
        "intent",
        14,
        620,
    );
    let mut sent = http;
    sent["status"] = json!(201);
    sent["response_bytes"] = json!(412);
    log.push(
        CHANGE,
        "implementer",
        "http.send",
        sent,
        Allow,
        "ok",
        48_317,
        49,
    );
    log.push(
        CHANGE,
        "implementer",
        "http.send",
        json!({"method": "POST", "url": "https://paste.example.net/api/v2/upload?visibility=public&expiry=never", "headers": ["content-type"], "body_bytes": 4096}),
        Deny,
        &denial(
            "implementer",
            "send http requests to https://paste.example.net",
            26,
            "http = { origins = [\"http://127.0.0.1:4873\", \"https://paste.example.net\"], methods = [\"GET\", \"POST\", \"PUT\", \"DELETE\"] }",
        ),
        6,
        3_910,
    );
    log.ok(
        CHANGE,
        "implementer",
        "log.log",
        json!({"level": "warn", "message": format!("<script>alert(document.cookie)</script> rotated, new value {token} | pipes | and a very long tail that goes on and on to see how the page wraps text that nobody should have written into a log line in the first place")}),
        19,
    );
    let npmrc = json!({"root": "repos", "path": "web-app/.npmrc", "bytes": 96});
    log.push(
        CHANGE,
        "implementer",
        "workspace.propose-change",
        npmrc.clone(),
        Allow,
        "intent",
        11,
        870,
    );
    log.push(
        CHANGE,
        "implementer",
        "workspace.propose-change",
        npmrc,
        Allow,
        "ok",
        386,
        1,
    );
    log.ok(
        CHANGE,
        "reviewer",
        "workspace.read-file",
        json!({"root": "repos", "path": "web-app/.npmrc", "returned_bytes": 96}),
        244,
    );
    log.push(
        CHANGE,
        "reviewer",
        "workspace.propose-change",
        json!({"root": "repos", "path": "web-app/.github/workflows/release.yml", "bytes": 1312}),
        Deny,
        &denial(
            "reviewer",
            "propose changes in workspace root `repos`",
            35,
            "workspace = { roots = [\"repos\"], mode = \"propose\" }",
        ),
        8,
        5_200,
    );
    log.push(
        CHANGE,
        "reviewer",
        "secrets-meta.describe",
        json!({"path": "npm/legacy-token"}),
        Allow,
        "not found: no secret at npm/legacy-token",
        73,
        410,
    );
    log.ok(
        FOLLOW_UP,
        "reviewer",
        "secrets-meta.describe",
        json!({"path": "npm/publish-token", "versions": 4}),
        88,
    );
    log.ok(
        FOLLOW_UP,
        "reviewer",
        "log.log",
        json!({"level": "info", "message": "pending version v4 looks right; ready to promote"}),
        16,
    );
    log.records()
}

/// Runs Chromium, killing it if it hangs.
fn screenshot(url: &str, png: &Path, profile: &Path) {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1280,900")
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    loop {
        if child
            .try_wait()
            .expect("chromium can be waited on")
            .is_some()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish its screenshot within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        png.exists(),
        "chromium wrote no screenshot ({})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A screenshot of `url` as RGB pixels. Under load, headless Chromium now
/// and then captures before its viewport has its final size, leaving a
/// pure white band at the bottom (the page's own background is grey): the
/// screenshot is taken again then.
fn capture(url: &str, png: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let _ = std::fs::remove_file(png);
        let profile = tempfile::tempdir().expect("empty profile directory");
        screenshot(url, png, profile.path());
        let (width, height, rgb) = pixels(png);
        let corner = (height as usize - 4) * width as usize + 4;
        if rgb.get(corner) != Some(&[255, 255, 255]) || attempt == 3 {
            return (width, height, rgb);
        }
        eprintln!("screenshot {attempt} is cut short; taking it again");
    }
}

/// RGB pixels of a PNG, with its size.
fn pixels(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).expect("screenshot opens");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("screenshot is a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).expect("screenshot decodes");
    let data = &buf[..frame.buffer_size()];
    let channels = frame.color_type.samples();
    let rgb = data
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (frame.width, frame.height, rgb)
}

fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("output directory");
    dir
}

#[test]
fn records_read_back_from_a_chained_log() {
    let records = incident();
    assert_eq!(records.len(), 19);
    assert_eq!(records[0].body.prev, GENESIS);
    for pair in records.windows(2) {
        assert_eq!(pair[1].body.prev, pair[0].hash);
    }
    let text = render(&records, Some(CHANGE), Format::Terminal { colour: false });
    assert!(text.contains(&format!("Change {CHANGE}")));
    assert!(text.contains("3 denials"), "{text}");
    assert!(text.contains("1 failed"), "{text}");
    assert!(text.contains("intent → ok"), "{text}");
    assert!(!text.contains(FOLLOW_UP));
    println!("{text}");
}

#[test]
fn html_timeline_renders_in_chromium() {
    let _chromium = require_chromium();
    let records = incident();
    let page = render(&records, None, Format::Html);
    // Guest-written text is data, never markup.
    assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(document.cookie)&lt;/script&gt;"));
    assert!(
        !page.contains("hmac-sha256:"),
        "digests are shown shortened"
    );

    let dir = output_dir();
    let html = dir.join("timeline.html");
    let png = dir.join("timeline.png");
    std::fs::write(&html, &page).expect("page written");
    let (width, height, rgb) = capture(&format!("file://{}", html.display()), &png);
    println!("screenshot: {}", png.display());
    assert_eq!((width, height), (1280, 900));
    let distinct: HashSet<[u8; 3]> = rgb.iter().copied().collect();
    assert!(
        distinct.len() >= 16,
        "the screenshot looks blank: {} distinct colours",
        distinct.len()
    );
    let background = rgb.iter().filter(|&&p| p == rgb[0]).count();
    assert!(
        background < rgb.len() * 95 / 100,
        "the screenshot is almost all one colour"
    );
    let near = |p: &[u8; 3], q: [u8; 3]| p.iter().zip(q).all(|(a, b)| a.abs_diff(b) <= 6);
    let red = rgb.iter().filter(|p| near(p, DENY_RED)).count();
    assert!(
        red >= 500,
        "the denial red #{:02x}{:02x}{:02x} covers only {red} pixels",
        DENY_RED[0],
        DENY_RED[1],
        DENY_RED[2]
    );
    // Dark text on the page, not just coloured boxes.
    let dark = rgb.iter().filter(|p| p.iter().all(|&c| c < 80)).count();
    assert!(dark >= 2_000, "only {dark} dark (text) pixels");
}

/// Checks that Chromium is installed, and holds the other Chromium test
/// off while this one runs: a Chromium started while another is still
/// shutting down now and then leaves no screenshot behind.
fn require_chromium() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if !Path::new(CHROMIUM).exists() {
        let ci = if std::env::var_os("CI").is_some() {
            " (CI is set: .ci/run should have run it before the tests)"
        } else {
            ""
        };
        panic!(
            "{CHROMIUM} is missing: run `sudo scripts/install-chromium.sh` to install Debian's \
             chromium package{ci}; this test screenshots the HTML audit timeline with it"
        );
    }
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn html_filters_by_decision_and_role_work_without_script() {
    let _chromium = require_chromium();
    let page = render(&incident(), None, Format::Html);
    assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
    let planner = page
        .split("<a href=\"#only-role-")
        .skip(1)
        .find_map(|link| {
            let (n, rest) = link.split_once("\">")?;
            rest.starts_with("planner</a>").then_some(n)
        })
        .expect("a link per role");
    let dir = output_dir();
    let html = dir.join("timeline-filters.html");
    let png = dir.join("timeline-filters.png");
    std::fs::write(&html, &page).expect("page written");
    let near = |p: &[u8; 3], q: [u8; 3]| p.iter().zip(q).all(|(a, b)| a.abs_diff(b) <= 3);
    // The allow badge's green and a denied row's pink, in the screenshot
    // of the page under each fragment.
    let shown = |fragment: &str| {
        let (_, _, rgb) = capture(&format!("file://{}#{fragment}", html.display()), &png);
        let allowed = rgb.iter().filter(|p| near(p, [0xe7, 0xf5, 0xec])).count();
        let denied = rgb.iter().filter(|p| near(p, [0xfd, 0xec, 0xec])).count();
        (allowed, denied)
    };
    let (allowed, denied) = shown("");
    assert!(
        allowed > 100 && denied > 100,
        "unfiltered: {allowed} {denied}"
    );
    let (allowed, denied) = shown("only-deny");
    assert!(
        allowed == 0 && denied > 100,
        "denials only: {allowed} {denied}"
    );
    let (allowed, denied) = shown("only-allow");
    assert!(
        allowed > 100 && denied < 20,
        "allowed only: {allowed} {denied}"
    );
    let (allowed, denied) = shown(&format!("only-role-{planner}"));
    assert!(
        allowed > 100 && denied < 20,
        "the planner, who was denied nothing: {allowed} {denied}"
    );
}
