//! The flagship example, run as a user runs it: `examples/npm-token-rotation/run.sh`
//! sets up Verdaccio, the bot, a private package, three git repositories and
//! a project from nothing, rotates the token, and proves the outcome itself
//! (old token refused, `npm install` with the new one, the staged commit's
//! Change-Id, the audit log verifies, no token on disk). This test runs it
//! with the binary under test and checks the manifest it leaves.

mod support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::process::Command;

#[test]
fn the_flagship_rotates_the_npm_token_end_to_end() {
    let (keep, stdout) = support::example::run("npm-token-rotation");
    for line in [
        "old token: refused by the registry (403)",
        "new token: npm install works",
        "api and worker already take the token from the environment: untouched",
        "no token in any manifest or log",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // The advisory steps: a model's words when a model server is
    // installed (`make setup` installs one), a plain statement otherwise.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if root.join("target/tools/llama/bin/python").exists() {
        for said in [
            "researcher's summary (smollm2-135m): ",
            "reviewer on npm/ci-bot-token (smollm2-135m): ",
        ] {
            assert!(stdout.contains(said), "missing {said:?} in:\n{stdout}");
        }
    } else {
        assert!(stdout.contains("no model server: "), "{stdout}");
    }
    // Over TLS by default: the timeline shows only https registry calls.
    let sends: Vec<&str> = stdout.lines().filter(|l| l.contains("http.send")).collect();
    assert!(sends.len() >= 6, "{stdout}");
    for send in sends {
        assert!(send.contains("https://127.0.0.1:"), "{send}");
    }

    let project = keep.path().join("project");
    let manifests: Vec<_> = std::fs::read_dir(project.join("manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    let live: Vec<Value> = manifests
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .filter(|m: &Value| m["dry_run"] == false)
        .collect();
    assert_eq!(live.len(), 1, "one live change");
    let manifest = &live[0];
    let change = manifest["change_id"].as_str().unwrap();
    assert_eq!(manifest["items"][0]["state"], "DONE");

    // Every document the roles consulted is on record with its digest.
    let docs = manifest["docs"].as_array().unwrap();
    assert_eq!(docs.len(), 3, "{docs:?}");
    for doc in docs {
        let text = std::fs::read(project.join("docs").join(doc["path"].as_str().unwrap())).unwrap();
        assert_eq!(doc["digest"], hex::encode(Sha256::digest(&text)));
    }
    // The domain specialist found the three repositories; only the one
    // holding a literal token got a commit, carrying the change id.
    let usages = manifest["usages"].as_array().unwrap();
    assert_eq!(usages.len(), 3, "{usages:?}");
    let staged = manifest["items"][0]["staged"].as_array().unwrap();
    let committed: Vec<&str> = staged
        .iter()
        .filter(|s| s["commit"].is_string())
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert_eq!(committed, ["web-app/.npmrc"]);
    let message = Command::new("git")
        .arg("-C")
        .arg(project.join("repos/web-app"))
        .args(["log", "-1", "--format=%B", &format!("agentward/{change}")])
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&message.stdout);
    assert!(
        message.contains(&format!("Change-Id: {change}")),
        "{message}"
    );
    // The working tree and its branch were not touched.
    let npmrc = std::fs::read_to_string(project.join("repos/web-app/.npmrc")).unwrap();
    assert!(
        !npmrc.contains("${NPM_TOKEN}"),
        "the checkout changed: {npmrc}"
    );
}
