//! The same role written in Rust, Python and JavaScript:
//! `cargo bench --bench languages`.
//!
//! The Rust reviewer against the Python reviewer (plugins/python/reviewer,
//! built by scripts/build-python-roles.sh) on the same `ReviewTask`, and the
//! Rust planner against the JavaScript planner (plugins/js/planner, built by
//! scripts/build-js-roles.sh) on the same `PlanTask` and store. For each:
//! component size; first compile (`Host::load` on a host with an empty
//! precompile cache: Cranelift, then the cache file written); and
//! instantiate + run (`Host::run` of the role prepared once from a warm
//! cache, median of interleaved runs). A build script that fails is reported
//! as such in its row; no figure is made up. About 30 s.
//! With `AGENTWARD_BENCH_OUT` set, the rows go to scripts/bench.sh's report.

mod report;

use agentward::audit::{MemorySink, Redactor};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{artifacts, Host, HostConfig};
use agentward::store::{MemoryStore, SecretAttributes, SecretValue};
use agentward_handoff::{Changes, PlanTask, ReviewTask, StagedFile, Trigger};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AREA: &str = "7 guest languages";
const RUNS: usize = 21;
const NOW: &str = "2026-11-25T03:00:00Z";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs a build script for one role; the component path, or why not.
fn build(script: &str, world: &str) -> Result<PathBuf, String> {
    let out = Command::new("bash")
        .arg(repo().join("scripts").join(script))
        .arg(world)
        .output()
        .map_err(|e| format!("cannot run scripts/{script}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        eprintln!("scripts/{script} {world} failed:\n{stderr}");
        return Err(format!(
            "scripts/{script} failed ({}): {}",
            out.status,
            last.replace('|', "/")
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = PathBuf::from(stdout.lines().last().unwrap_or_default());
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("scripts/{script} printed no component path"))
    }
}

struct Project {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    store: Arc<MemoryStore>,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path().join("repos/app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(
            app.join(".npmrc"),
            "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        let store = Arc::new(MemoryStore::new());
        for i in 0..20 {
            store.insert_current(
                &format!("npm/service-{i:02}"),
                SecretValue::new("npm_bench_value"),
                SecretAttributes {
                    owner: Some("platform".into()),
                    expires: Some(if i % 2 == 0 {
                        "2026-11-28T00:00:00Z".into()
                    } else {
                        "2027-06-01T00:00:00Z".into()
                    }),
                    scopes: vec!["ci".into()],
                    ..Default::default()
                },
            );
        }
        Project {
            dir,
            cache: tempfile::tempdir().expect("cache dir"),
            store,
        }
    }

    /// A host on this project; `cache`: the precompile cache to use.
    fn host(&self, cache: &Path) -> Host {
        let mut config = HostConfig::new(self.dir.path());
        config.cache_dir = Some(cache.to_path_buf());
        Host::new(
            config,
            Arc::new(MemorySink::new()),
            self.store.clone(),
            Arc::new(Redactor::new([42; 32])),
        )
        .expect("host")
    }
}

fn policy(role: RoleName, component: &str, grants: &str) -> Policy {
    Policy::parse(
        Path::new("bench.toml"),
        &format!(
            "[roles.{role}]\ncomponent = \"{component}\"\n\n[roles.{role}.grants]\n{grants}\n"
        ),
        Path::new("."),
    )
    .expect("bench policy")
}

struct Measured {
    size: u64,
    compile: Duration,
    run: Vec<Duration>,
    summary: String,
}

/// One language's side: size, first compile, then prepared runs.
struct Side {
    component: PathBuf,
    policy: Policy,
    host: Host,
    prepared: agentward::runtime::PreparedRole,
    compile: Duration,
}

fn side(project: &Project, role: RoleName, component: PathBuf, grants: &str) -> Side {
    let name = component.to_str().unwrap().to_string();
    let policy = policy(role, &name, grants);
    // First compile: a fresh host, an empty cache.
    let empty = tempfile::tempdir().expect("cache dir");
    let fresh = project.host(empty.path());
    let started = Instant::now();
    fresh.load(&component).expect("component compiles");
    let compile = started.elapsed();
    drop(fresh);
    let host = project.host(project.cache.path());
    host.load(&component).expect("component loads");
    let prepared = host.prepare(&policy, role).expect("role prepares");
    Side {
        component,
        policy,
        host,
        prepared,
        compile,
    }
}

fn run_once(side: &Side, input: &str) -> (Duration, String) {
    let task = Task {
        change_id: "01JBENCHLANG00000000000000".into(),
        input: input.into(),
    };
    let started = Instant::now();
    let outcome = side.host.run(&side.prepared, &task);
    let elapsed = started.elapsed();
    let outcome = outcome.unwrap_or_else(|e| {
        panic!(
            "{} ({}) did not run: {e}",
            side.policy.role(side.prepared.role()).unwrap().component,
            side.component.display()
        )
    });
    (elapsed, outcome.report.summary)
}

/// Both sides, runs interleaved; (rust, other).
fn compare(
    project: &Project,
    role: RoleName,
    rust: PathBuf,
    other: PathBuf,
    grants: &str,
    input: &str,
) -> (Measured, Measured) {
    let sides = [
        side(project, role, rust, grants),
        side(project, role, other, grants),
    ];
    let mut measured: Vec<Measured> = sides
        .iter()
        .map(|s| Measured {
            size: std::fs::metadata(&s.component).unwrap().len(),
            compile: s.compile,
            run: Vec::new(),
            summary: run_once(s, input).1, // warm-up
        })
        .collect();
    for _ in 0..RUNS {
        for (s, m) in sides.iter().zip(measured.iter_mut()) {
            m.run.push(run_once(s, input).0);
        }
    }
    let other = measured.pop().unwrap();
    (measured.pop().unwrap(), other)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn fmt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.1} µs", ms * 1e3)
    } else {
        format!("{ms:.2} ms")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1 << 20) as f64)
}

fn report_pair(label: &str, lang: &str, rust: &mut Measured, other: &mut Measured) {
    let (r, o) = (median(&mut rust.run), median(&mut other.run));
    let x = |a: f64, b: f64| format!("{:.1}×", a / b);
    report::row(
        AREA,
        &format!("{label}: {lang} vs Rust, instantiate + run (`Host::run`, warm precompile cache)"),
        &fmt(o),
        &fmt(r),
        &x(o.as_secs_f64(), r.as_secs_f64()),
    );
    report::row(
        AREA,
        &format!("  {label}: {lang} vs Rust, first compile (`Host::load`, empty cache)"),
        &fmt(other.compile),
        &fmt(rust.compile),
        &x(other.compile.as_secs_f64(), rust.compile.as_secs_f64()),
    );
    report::row(
        AREA,
        &format!("  {label}: {lang} vs Rust, component size"),
        &mib(other.size),
        &mib(rust.size),
        &x(other.size as f64, rust.size as f64),
    );
    let same = if rust.summary == other.summary {
        format!("both answered \"{}\"", rust.summary)
    } else {
        format!(
            "**the answers differ**: Rust \"{}\", {lang} \"{}\"",
            rust.summary, other.summary
        )
    };
    report::detail(
        AREA,
        &format!("- {label}: median of {RUNS} interleaved runs each; {same}."),
    );
}

fn not_built(label: &str, lang: &str, why: &str) {
    report::row(
        AREA,
        &format!("{label}: {lang} vs Rust"),
        "not measured",
        "—",
        &format!("not run: {why}"),
    );
}

fn review_input() -> String {
    let staged = StagedFile {
        root: "repos".into(),
        file: "app/.npmrc".into(),
    };
    serde_json::to_string(&ReviewTask {
        path: "npm/service-00".into(),
        version: 2,
        changes: Changes {
            path: "npm/service-00".into(),
            version: 2,
            credential_id: None,
            expires: None,
            staged: vec![staged],
            validation: Vec::new(),
        },
        proposed: vec![
            "registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n".into(),
        ],
        config: serde_json::Value::Null,
    })
    .unwrap()
}

fn plan_input() -> String {
    serde_json::to_string(&PlanTask {
        now: NOW.into(),
        trigger: Trigger::Cadence,
        breach: None,
        prefixes: vec!["npm/".into()],
        cadence_days: 90,
        lead_days: 14,
        window: None,
        failures: Vec::new(),
        briefing: Default::default(),
        usages: Vec::new(),
        config: serde_json::Value::Null,
    })
    .unwrap()
}

fn main() {
    let project = Project::new();
    match build("build-python-roles.sh", "reviewer") {
        Ok(python) => {
            let (mut rust, mut py) = compare(
                &project,
                RoleName::Reviewer,
                artifacts::built_component("reviewer"),
                python,
                "log = {}\nworkspace = { roots = [\"repos\"], mode = \"read\" }\nmodel = {}",
                &review_input(),
            );
            report_pair("reviewer", "Python", &mut rust, &mut py);
        }
        Err(why) => not_built("reviewer", "Python", &why),
    }
    match build("build-js-roles.sh", "planner") {
        Ok(js) => {
            let (mut rust, mut js) = compare(
                &project,
                RoleName::Planner,
                artifacts::built_component("planner"),
                js,
                "log = {}\nsecrets-meta = { paths = [\"npm/**\"] }",
                &plan_input(),
            );
            report_pair("planner", "JavaScript", &mut rust, &mut js);
        }
        Err(why) => not_built("planner", "JavaScript", &why),
    }
}
