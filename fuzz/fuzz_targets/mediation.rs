//! The mediation point with arbitrary arguments: a run's worth of host
//! calls (log, secrets-meta, secrets-read, secrets-write, handles,
//! workspace, docs) made straight on a call context, as a hostile guest
//! would make them. Every call returns (a value or an error, never a
//! panic) and leaves its record: one, or an intent and an outcome, unless
//! it is a denial past the per-call cap. No record ever holds a secret's
//! value once the run has touched it, nor a value the guest never had.
#![no_main]

use agentward::audit::{CallEvent, Decision, MemorySink, Redactor};
use agentward::capabilities::bindings::agentward::host::{
    docs, handles, log, secrets_meta, secrets_read, secrets_write, types::Error, workspace,
};
use agentward::capabilities::{CallContext, RoleBinding, DENIALS_RECORDED_PER_CALL};
use agentward::net::egress::Resolve;
use agentward::policy::{Policy, RoleName};
use agentward::store::{MemoryStore, SecretAttributes, SecretValue};
use agentward_fuzz::scratch;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// In the store: one secret inside the role's scopes, one outside.
const CANARY: &str = "npm_CANARY_5a1f0c77e2d94b1f";
const OUTSIDE: &str = "prod_CANARY_93b1d0a6c4e27f58";

const POLICY: &str = r#"
[roles.implementer]
component = "implementer"
[roles.implementer.grants]
log = { max_messages = 64 }
secrets-meta = { paths = ["npm/**"] }
secrets-read = { paths = ["npm/**"] }
secrets-write = { paths = ["npm/**"] }
handles = { paths = ["npm/**"] }
workspace = { roots = ["repos"], mode = "propose" }
docs = { dir = "docs" }
"#;

const PATHS: &[&str] = &[
    "npm/token",
    "prod/db",
    "npm/new",
    "npm/",
    "",
    "npm/../prod/db",
];

/// Names resolve to nothing: no grant here reaches the network.
#[derive(Debug)]
struct NoNetwork;

impl Resolve for NoNetwork {
    fn lookup(&self, _host: &str, _port: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
        Err(std::io::Error::other("no network in the fuzz target"))
    }
}

#[derive(Arbitrary, Debug)]
enum Text {
    Path(u8),
    Label(u8),
    /// A handle this run was given, by its position.
    Handle(u8),
    Free(String),
}

#[derive(Arbitrary, Debug)]
enum Call {
    Log(u8, Text),
    ListPaths(Text),
    Describe(Text),
    Read(Text, Text),
    PutPending(Text, Text),
    Generate(Text, u32, Text, Text, Text),
    Acquire(Text, Text),
    Release(Text),
    ReadFile(Text, Text),
    ListDir(Text, Text),
    Propose(Text, Text, Text),
    Search(Text, u32),
    ReadDoc(Text),
}

struct Project {
    dir: PathBuf,
    binding: Arc<RoleBinding>,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = scratch().join("mediation");
        std::fs::create_dir_all(dir.join("repos/app")).unwrap();
        std::fs::write(
            dir.join("repos/app/.npmrc"),
            "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(
            dir.join("docs/npm.md"),
            "# npm tokens\nRotate granular access tokens before they expire.\n",
        )
        .unwrap();
        let policy = Policy::parse(Path::new("fuzz.toml"), POLICY, &dir).expect("the policy");
        let role = policy.role(RoleName::Implementer).expect("the role");
        let binding = Arc::new(RoleBinding {
            role: RoleName::Implementer,
            policy_path: policy.path.clone(),
            policy_source: policy.source.clone(),
            policy_hash: policy.hash(),
            grants: role.grants.clone(),
            grants_line: role.grants_line,
            component_digest: "ab".repeat(32),
            project_dir: dir.clone(),
            resolver: Arc::new(NoNetwork),
        });
        Project { dir, binding }
    })
}

/// What every secret in a record is replaced by.
const DIGEST_PREFIX: &str = "hmac-sha256:";

/// The parts of a record a guest's text reaches: the arguments' values
/// and the outcome (names and the host's own fields are fixed).
fn guest_text(event: &CallEvent) -> String {
    fn strings(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::String(s) => {
                out.push('\n');
                out.push_str(s);
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut text = event.outcome.clone();
    event.args.values().for_each(|v| strings(v, &mut text));
    text
}

fn run(calls: &[Call], input_has_canary: bool) {
    let project = project();
    let sink = Arc::new(MemorySink::new());
    let store = Arc::new(MemoryStore::new());
    store.insert_current(
        "npm/token",
        SecretValue::new(CANARY),
        SecretAttributes::default(),
    );
    store.insert_current(
        "prod/db",
        SecretValue::new(OUTSIDE),
        SecretAttributes::default(),
    );
    let mut ctx = CallContext::new(
        project.binding.clone(),
        "01JFUZZCHANGE0000000000000".into(),
        sink.clone(),
        store,
        Arc::new(Redactor::new([7; 32])),
    );
    let mut handles_given: Vec<String> = Vec::new();
    // Values this run has held or written: never in a record from then on.
    let mut touched: Vec<String> = Vec::new();
    let mut recorded = 0;
    for call in calls.iter().take(32) {
        let text = |t: &Text| match t {
            Text::Path(n) => PATHS[*n as usize % PATHS.len()].to_string(),
            Text::Label(n) => ["current", "pending", "previous", "Current"][*n as usize % 4].into(),
            Text::Handle(n) if !handles_given.is_empty() => {
                handles_given[*n as usize % handles_given.len()].clone()
            }
            Text::Handle(_) => String::new(),
            Text::Free(s) => s.clone(),
        };
        // Ok(returned value, if a secret's), or the error; `log` and
        // `release` return nothing to tell one from the other.
        let mut silent = false;
        let result: Result<Option<String>, Error> = match call {
            Call::Log(level, message) => {
                let levels = [
                    log::Level::Trace,
                    log::Level::Debug,
                    log::Level::Info,
                    log::Level::Warn,
                    log::Level::Error,
                ];
                log::Host::log(&mut ctx, levels[*level as usize % 5], text(message));
                silent = true;
                Ok(None)
            }
            Call::ListPaths(prefix) => {
                secrets_meta::Host::list_paths(&mut ctx, text(prefix)).map(|_| None)
            }
            Call::Describe(path) => {
                secrets_meta::Host::describe(&mut ctx, text(path)).map(|_| None)
            }
            Call::Read(path, label) => {
                secrets_read::Host::read(&mut ctx, text(path), text(label)).map(Some)
            }
            Call::PutPending(path, value) => {
                touched.push(text(value));
                secrets_write::Host::put_pending(&mut ctx, text(path), text(value)).map(|_| None)
            }
            Call::Generate(path, length, alphabet, prefix, suffix) => {
                let spec = secrets_write::GenerateSpec {
                    length: *length % 256,
                    alphabet: text(alphabet),
                    prefix: text(prefix),
                    suffix: text(suffix),
                };
                secrets_write::Host::generate(&mut ctx, text(path), spec).map(|generated| {
                    handles_given.push(generated.handle);
                    None
                })
            }
            Call::Acquire(path, label) => handles::Host::acquire(&mut ctx, text(path), text(label))
                .map(|handle| {
                    handles_given.push(handle);
                    None
                }),
            Call::Release(handle) => {
                handles::Host::release(&mut ctx, text(handle));
                silent = true;
                Ok(None)
            }
            Call::ReadFile(root, path) => {
                workspace::Host::read_file(&mut ctx, text(root), text(path)).map(|_| None)
            }
            Call::ListDir(root, path) => {
                workspace::Host::list_dir(&mut ctx, text(root), text(path)).map(|_| None)
            }
            Call::Propose(root, path, contents) => {
                let contents = text(contents).into_bytes();
                workspace::Host::propose_change(&mut ctx, text(root), text(path), contents)
                    .map(|()| None)
            }
            Call::Search(query, limit) => {
                docs::Host::search(&mut ctx, text(query), *limit % 64).map(|_| None)
            }
            Call::ReadDoc(path) => docs::Host::read(&mut ctx, text(path)).map(|_| None),
        };
        if let Ok(Some(value)) = &result {
            touched.push(value.clone());
        }
        let events = sink.events();
        let new: &[CallEvent] = &events[recorded..];
        recorded = events.len();
        assert!(new.len() <= 2, "{} records for {call:?}", new.len());
        match &result {
            _ if silent => {}
            Err(Error::Denied(_)) => {
                assert!(new.iter().all(|e| e.decision == Decision::Deny), "{new:?}");
            }
            Ok(_) => {
                assert!(!new.is_empty(), "no record for {call:?}");
                assert!(new.iter().all(|e| e.decision == Decision::Allow), "{new:?}");
            }
            // Refused before it was performed (a malformed argument: a
            // denial, one record, none past the per-call cap) or failed
            // while performed (allowed, its outcome the error).
            Err(_) => {
                if let Some(last) = new.last() {
                    assert_ne!(last.outcome, "ok", "{new:?}");
                    if last.decision == Decision::Deny {
                        assert_eq!(new.len(), 1, "a refused call has no intent: {new:?}");
                    }
                } else {
                    let denied = events.iter().filter(|e| e.decision == Decision::Deny);
                    assert!(
                        denied.count() as u64 >= DENIALS_RECORDED_PER_CALL,
                        "no record for {call:?}"
                    );
                }
            }
        }
        for event in new {
            let written = guest_text(event);
            let secret = |v: &&String| v.len() >= 8 && !DIGEST_PREFIX.contains(v.as_str());
            for value in touched.iter().filter(secret) {
                assert!(!written.contains(value.as_str()), "{value:?} in {event:?}");
            }
            if !input_has_canary {
                assert!(
                    !written.contains(CANARY) && !written.contains(OUTSIDE),
                    "{event:?}"
                );
            }
        }
    }
    // Nothing outside the project changed: proposals stay in the context.
    let npmrc = std::fs::read_to_string(project.dir.join("repos/app/.npmrc")).unwrap();
    assert_eq!(npmrc, "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n");
}

fuzz_target!(|data: &[u8]| {
    let has = |needle: &str| data.windows(needle.len()).any(|w| w == needle.as_bytes());
    let input_has_canary = has(CANARY) || has(OUTSIDE);
    let Ok(calls) = Vec::<Call>::arbitrary_take_rest(arbitrary::Unstructured::new(data)) else {
        return;
    };
    run(&calls, input_has_canary);
});
