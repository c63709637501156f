//! A project rotating a real npm token against a real Verdaccio: the
//! setup the rotation tests and the other-language role tests share, and
//! the invariants every change must leave.

use super::verdaccio::Verdaccio;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Inside the planner's horizon for the seeded expiry, outside nothing.
pub const NOW: &str = "2026-11-25T03:00:00Z";
pub const EXIT_WAITING: i32 = 3;

/// A registry user whose token a test rotates.
pub struct Bot {
    pub name: String,
    pub password: String,
    pub token: String,
    pub key: String,
}

impl Bot {
    pub fn token_path(&self) -> String {
        format!("npm/{}-token", self.name)
    }
}

pub const PUBLISHER_PASSWORD: &str = "publisher-pw-1";

/// A Verdaccio with the private package published.
pub fn registry() -> Verdaccio {
    let v = Verdaccio::new();
    let login = v.add_user("publisher", PUBLISHER_PASSWORD);
    let published = v.publish(&login);
    assert!(published.status < 300, "{published:?}");
    v
}

/// Unpublishes the private package, as a maintainer might by mistake:
/// from then on, installing it fails with 404.
pub fn unpublish_private_package(v: &Verdaccio) {
    let publisher = v.login("publisher", PUBLISHER_PASSWORD);
    let packument = v.get("/@agentward%2fprivate-pkg", Some(&publisher)).json();
    let rev = packument["_rev"].as_str().expect("a _rev");
    let gone = v.request(
        "DELETE",
        &format!("/@agentward%2fprivate-pkg/-rev/{rev}"),
        Some(&publisher),
        None,
    );
    assert!(gone.status < 300, "{gone:?}");
    assert_eq!(
        v.get("/@agentward%2fprivate-pkg", Some(&publisher)).status,
        404
    );
}

pub fn bot(v: &Verdaccio, name: &str) -> Bot {
    let password = format!("pw-{name}-{}", std::process::id());
    let login = v.add_user(name, &password);
    let created = v.create_token(&login, &password, false).json();
    Bot {
        name: name.to_string(),
        password,
        token: created["token"].as_str().unwrap().to_string(),
        key: created["key"].as_str().unwrap().to_string(),
    }
}

pub struct Project {
    pub dir: tempfile::TempDir,
}

/// Compiled components are cached across the tests of this binary.
pub fn cache_dir() -> PathBuf {
    std::env::temp_dir().join(format!("agentward-rotation-cache-{}", std::process::id()))
}

pub fn agentward(project: &Path, args: &[&str], failpoint: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentward"));
    command
        .arg("--project")
        .arg(project)
        .args(args)
        .env("AGENTWARD_CACHE_DIR", cache_dir())
        .env_remove(agentward::orchestrator::failpoint::VARIABLE);
    if let Some(point) = failpoint {
        command.env(agentward::orchestrator::failpoint::VARIABLE, point);
    }
    command.output().expect("agentward runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Where a project keeps the registry's CA certificate, as its policy's
/// `ca_files` names it (relative to the project).
pub const REGISTRY_CA: &str = "certs/registry-ca.pem";

pub fn policy(url: &str, setup: &Setup<'_>) -> String {
    let (planner, reviewer) = (setup.planner, setup.reviewer);
    format!(
        r#"
[roles.planner]
component = "{planner}"
[roles.planner.grants]
log = {{}}
secrets-meta = {{ paths = ["npm/**"] }}

[roles.implementer]
component = "implementer"
[roles.implementer.grants]
log = {{}}
secrets-meta = {{ paths = ["npm/**"] }}
secrets-write = {{ paths = ["npm/**"] }}
handles = {{ paths = ["npm/**", "registry/**"] }}
http = {{ origins = ["{url}"], methods = ["GET", "POST", "DELETE"], ca_files = ["{REGISTRY_CA}"], handle_body = true }}
sql = {{}}
workspace = {{ roots = ["repos"], mode = "propose" }}

[roles.reviewer]
component = "{reviewer}"
[roles.reviewer.grants]
log = {{}}
workspace = {{ roots = ["repos"], mode = "read" }}
model = {{}}

[roles.tester]
component = "tester"
[roles.tester.grants]
log = {{}}
secrets-meta = {{ paths = ["npm/**"] }}
handles = {{ paths = ["npm/**"] }}
http = {{ origins = ["{url}"], methods = ["GET"], ca_files = ["{REGISTRY_CA}"] }}
sql = {{}}
"#
    )
}

/// Settings a test varies.
pub struct Setup<'a> {
    /// Extra keys for [rotation] (a window, a notify target).
    pub rotation: &'a str,
    /// What the post-promotion health check fetches.
    pub health_path: &'a str,
    /// Appended to the workflow ([approvals]).
    pub extra: &'a str,
    /// The planner's and reviewer's components: artifact names or paths.
    pub planner: &'a str,
    pub reviewer: &'a str,
    /// Whether the imported token's registry key is recorded.
    pub record_key: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            rotation: "",
            health_path: "/@agentward%2fprivate-pkg",
            extra: "",
            planner: "planner",
            reviewer: "reviewer",
            record_key: true,
        }
    }
}

pub fn workflow(url: &str, bot: &Bot, setup: &Setup<'_>) -> String {
    let name = &bot.name;
    format!(
        r#"
[rotation]
secrets = ["npm/**"]
cadence_days = 30
lead_days = 7
{rotation}

[[steps]]
stage = "plan"
role = "planner"

[[steps]]
stage = "implement"
role = "implementer"
input = {{ issuer = {{ kind = "npm-registry", registry = "{url}", password = "registry/{name}-password" }} }}

[[steps]]
stage = "review"
role = "reviewer"

[[steps]]
stage = "test"
role = "tester"
min_checks = 2
input = {{ checks = [ {{ name = "auth", url = "{url}/-/whoami", expect_json = {{ username = "{name}" }} }}, {{ name = "install", url = "{url}/@agentward%2fprivate-pkg" }} ] }}

[health]
role = "tester"
samples = 2
max_failures = 0
input = {{ checks = [ {{ name = "install", url = "{url}{health}" }} ] }}
{extra}
"#,
        rotation = setup.rotation,
        health = setup.health_path,
        extra = setup.extra,
    )
}

pub fn project(v: &Verdaccio, bot: &Bot, setup: &Setup<'_>) -> Project {
    let seeds = vec![(
        format!("registry/{}-password", bot.name),
        serde_json::json!({ "value": bot.password, "origins": [v.url()] }),
    )];
    project_of(v, &[bot], seeds, &workflow(&v.url(), bot, setup), setup)
}

/// A project rotating the tokens of many registry users in one change,
/// `concurrency` at a time: one workflow, each token minted with its own
/// user's password (`registry/{name}-password`, `{name}` the token's
/// last path segment).
pub fn crowd(v: &Verdaccio, bots: &[Bot], concurrency: usize) -> Project {
    let setup = Setup::default();
    let first = &bots[0].name;
    let text = workflow(&v.url(), &bots[0], &setup)
        .replace(
            &format!("registry/{first}-password"),
            "registry/{name}-password",
        )
        .replace(&format!(", expect_json = {{ username = \"{first}\" }}"), "")
        .replace(
            "lead_days = 7",
            &format!("lead_days = 7\nconcurrency = {concurrency}"),
        );
    let seeds = bots
        .iter()
        .map(|bot| {
            (
                format!("registry/{}-token-password", bot.name),
                serde_json::json!({ "value": bot.password, "origins": [v.url()] }),
            )
        })
        .collect();
    let bots: Vec<&Bot> = bots.iter().collect();
    project_of(v, &bots, seeds, &text, &setup)
}

fn project_of(
    v: &Verdaccio,
    bots: &[&Bot],
    mut seeds: Vec<(String, Value)>,
    workflow: &str,
    setup: &Setup<'_>,
) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let out = agentward(dir.path(), &["init", dir.path().to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let p = dir.path();
    std::fs::create_dir_all(p.join("repos")).unwrap();
    v.write_ca(&p.join(REGISTRY_CA));
    std::fs::write(p.join("policies/default.toml"), policy(&v.url(), setup)).unwrap();
    std::fs::write(p.join("policies/workflow.toml"), workflow).unwrap();
    for bot in bots {
        let custom = if setup.record_key {
            serde_json::json!([["credential_id", bot.key]])
        } else {
            serde_json::json!([])
        };
        seeds.push((
            bot.token_path(),
            serde_json::json!({
                "value": bot.token,
                "expires": "2026-11-28T00:00:00Z",
                "origins": [v.url()],
                "custom": custom,
            }),
        ));
    }
    let seed: serde_json::Map<String, Value> = seeds.into_iter().collect();
    std::fs::write(p.join("seed.json"), Value::Object(seed).to_string()).unwrap();
    let seed_file = p.join("seed.json");
    let out = agentward(p, &["secrets", "import", seed_file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_file(p.join("seed.json")).unwrap();
    Project { dir }
}

impl Project {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        agentward(self.path(), args, None)
    }

    /// The one change of this project.
    pub fn change_id(&self) -> String {
        let ids: Vec<String> = std::fs::read_dir(self.path().join("manifests"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids[0].clone()
    }

    /// The change's manifest as `show` reads it: the snapshot with the
    /// journal of the steps since replayed over it.
    pub fn manifest(&self, change: &str) -> Value {
        let m = agentward::orchestrator::manifest::Manifest::load(
            &self.path().join("manifests"),
            change,
        )
        .unwrap();
        serde_json::to_value(m).unwrap()
    }

    pub fn store(&self) -> agentward::store::EmbeddedStore {
        agentward::store::EmbeddedStore::open(
            &self.path().join("secrets"),
            &self.path().join("keys/store-kek.key"),
        )
        .unwrap()
    }

    pub fn current_token(&self, bot: &Bot) -> String {
        use agentward::store::{Label, SecretStore};
        self.store()
            .read(&bot.token_path(), Label::Current)
            .unwrap()
            .expose()
            .to_string()
    }

    pub fn timeline(&self, change: &str) -> String {
        let out = self.run(&["audit", "timeline", change, "--format", "markdown"]);
        assert!(out.status.success(), "{}", text(&out));
        // Markdown escapes the underscores of state names.
        String::from_utf8_lossy(&out.stdout).replace("\\_", "_")
    }
}

pub fn live_keys(v: &Verdaccio, token: &str) -> Vec<String> {
    let listed = v.list_tokens(token);
    assert_eq!(listed.status, 200, "{listed:?}");
    listed.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_string())
        .collect()
}

/// The invariants every change must leave, whatever happened to it.
pub fn assert_invariants(p: &Project, v: &Verdaccio, bot: &Bot, change: &str) -> String {
    let manifest = p.manifest(change);
    let item = &manifest["items"][0];
    let state = item["state"].as_str().unwrap().to_string();
    assert!(
        ["DONE", "ABORTED", "ROLLED_BACK"].contains(&state.as_str()),
        "{state}: {manifest:#}"
    );
    assert_eq!(manifest["state"], "CLOSED");

    // Exactly one current credential, and it works.
    let current = p.current_token(bot);
    assert_eq!(v.whoami(&current), (200, Some(bot.name.clone())), "{state}");

    // No live credential without a record, and only one live at all.
    let mut recorded = vec![bot.key.clone()];
    if let Some(key) = item["changes"]["credential_id"].as_str() {
        recorded.push(key.to_string());
    }
    let live = live_keys(v, &current);
    assert_eq!(live.len(), 1, "{state}: live tokens {live:?}");
    assert!(
        recorded.contains(&live[0]),
        "{state}: {live:?} not in {recorded:?}"
    );

    // The old token is revoked if and only if the change reached DONE.
    let old = v.whoami(&bot.token);
    if state == "DONE" {
        assert_eq!(old.0, 403, "the old token still works after DONE");
        assert_ne!(current, bot.token);
    } else {
        assert_eq!(old, (200, Some(bot.name.clone())), "{state}");
        assert_eq!(current, bot.token);
    }

    // The log verifies, and no value is anywhere on disk but the store.
    let out = p.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let on_disk = super::all_text_under(&p.path().join("manifests"))
        + &super::all_text_under(&p.path().join("logs"));
    for value in [&bot.token, &current, &bot.password] {
        assert!(
            !on_disk.contains(value.as_str()),
            "{state}: a secret value is on disk"
        );
    }
    state
}

/// The invariants of a change that rotated every bot's token: all DONE,
/// exactly one live token per user (the one the store holds as current,
/// the one the manifest records), the old tokens revoked, the log
/// verifying, no value on disk. Moves each bot on to its new token.
pub fn assert_all_rotated(p: &Project, v: &Verdaccio, bots: &mut [Bot], change: &str) {
    let manifest = p.manifest(change);
    assert_eq!(manifest["state"], "CLOSED");
    let items = manifest["items"].as_array().unwrap();
    assert_eq!(items.len(), bots.len(), "{manifest:#}");
    let mut values = Vec::new();
    for bot in bots.iter_mut() {
        let item = items
            .iter()
            .find(|i| i["path"] == bot.token_path())
            .unwrap_or_else(|| panic!("{} is not in the change", bot.token_path()));
        assert_eq!(item["state"], "DONE", "{item:#}");
        let current = p.current_token(bot);
        assert_eq!(v.whoami(&current), (200, Some(bot.name.clone())));
        let key = item["changes"]["credential_id"].as_str().unwrap();
        assert_eq!(
            live_keys(v, &current),
            vec![key.to_string()],
            "{}: exactly the recorded token is live",
            bot.name
        );
        assert_eq!(v.whoami(&bot.token).0, 403, "{}: old token live", bot.name);
        values.extend([bot.token.clone(), current.clone(), bot.password.clone()]);
        bot.token = current;
        bot.key = key.to_string();
    }
    let out = p.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let on_disk = super::all_text_under(&p.path().join("manifests"))
        + &super::all_text_under(&p.path().join("logs"));
    assert!(
        !values.iter().any(|value| on_disk.contains(value.as_str())),
        "a secret value is on disk"
    );
}
