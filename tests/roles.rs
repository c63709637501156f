//! The six role components under the shipped default policy.

mod support;

use agentward::policy::RoleName;
use agentward::store::{Label, SecretAttributes, SecretStore, SecretValue};
use support::Harness;

const CANARY: &str = "npm_CANARY_role_3d9e";

fn harness() -> (Harness, agentward::policy::Policy) {
    let h = Harness::new();
    let policy = h.policy(include_str!("../policies/default.toml"));
    (h, policy)
}

fn repo_file(h: &Harness, path: &str, contents: &str) {
    let full = h.dir.path().join("repos").join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, contents).unwrap();
}

#[test]
fn planner_finds_what_is_due() {
    let (h, policy) = harness();
    let attrs = |expires: &str| SecretAttributes {
        expires: Some(expires.into()),
        ..Default::default()
    };
    h.store.insert_current(
        "npm/soon",
        SecretValue::new(CANARY),
        attrs("2026-12-01T00:00:00Z"),
    );
    h.store.insert_current(
        "npm/later",
        SecretValue::new("x"),
        attrs("2027-06-01T00:00:00Z"),
    );
    h.store.insert_current(
        "prod/db",
        SecretValue::new("y"),
        attrs("2026-11-26T00:00:00Z"),
    );
    let outcome = h
        .run(
            &policy,
            RoleName::Planner,
            r#"{"prefix":"","now":"2026-11-25T00:00:00Z","due_before":"2026-12-09T00:00:00Z"}"#,
        )
        .unwrap();
    assert_eq!(outcome.report.summary, "1 of 2 secrets due for rotation");
    let output: serde_json::Value = serde_json::from_str(&outcome.report.output).unwrap();
    assert_eq!(output["due"][0]["path"], "npm/soon");
    assert_eq!(output["not_due"][0]["path"], "npm/later");
}

#[test]
fn implementer_stores_a_pending_version_and_stages_npmrc() {
    let (h, policy) = harness();
    h.seed("npm/token", CANARY);
    repo_file(
        &h,
        "app/.npmrc",
        "@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=npm_oldliteral\n",
    );
    let input = r#"{"path":"npm/token","npmrc":{"root":"repos","file":"app/.npmrc"}}"#;
    let outcome = h.run(&policy, RoleName::Implementer, input).unwrap();
    assert_eq!(
        outcome.report.summary,
        "minted version 2 of npm/token (pending)"
    );
    let meta = h.store.describe("npm/token").unwrap();
    assert_eq!(meta.versions[1].labels, [Label::Pending]);
    assert_eq!(
        h.store.read("npm/token", Label::Current).unwrap().expose(),
        CANARY,
        "current untouched"
    );
    let minted = h.store.read("npm/token", Label::Pending).unwrap();
    assert!(minted.expose().starts_with("npm_") && minted.expose().len() == 44);
    assert!(!outcome.report.output.contains(minted.expose()));
    assert_eq!(outcome.proposals.len(), 1);
    assert_eq!(
        outcome.proposals[0].contents,
        "@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n"
    );
    assert_eq!(
        std::fs::read_to_string(h.dir.path().join("repos/app/.npmrc")).unwrap(),
        "@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=npm_oldliteral\n",
        "proposals never write in place"
    );
}

#[test]
fn reviewer_rejects_plaintext_and_approves_references() {
    let (h, policy) = harness();
    repo_file(
        &h,
        "bad/.npmrc",
        "//127.0.0.1:4873/:_authToken=npm_literal\n",
    );
    repo_file(
        &h,
        "good/.npmrc",
        "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
    );
    let bad = h
        .run(
            &policy,
            RoleName::Reviewer,
            r#"{"root":"repos","files":["bad/.npmrc"]}"#,
        )
        .unwrap();
    assert_eq!(bad.report.summary, "rejected: 1 plaintext credentials");
    let good = h
        .run(
            &policy,
            RoleName::Reviewer,
            r#"{"root":"repos","files":["good/.npmrc"]}"#,
        )
        .unwrap();
    assert_eq!(
        good.report.summary,
        "approved: 1 files, no plaintext credentials"
    );
}

#[test]
fn reviewer_cannot_climb_out_of_its_workspace() {
    let (h, policy) = harness();
    std::fs::write(h.dir.path().join("outside.txt"), "secret stuff").unwrap();
    let err = h
        .run(
            &policy,
            RoleName::Reviewer,
            r#"{"root":"repos","files":["../outside.txt"]}"#,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`../outside.txt` is not a clean relative path"),
        "{err}"
    );
    let err = h
        .run(
            &policy,
            RoleName::Reviewer,
            r#"{"root":".","files":["outside.txt"]}"#,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("role reviewer may not use workspace root `.`"),
        "{err}"
    );
}

#[test]
fn reviewer_cannot_follow_a_symlink_out() {
    let (h, policy) = harness();
    std::fs::write(h.dir.path().join("outside.txt"), "secret stuff").unwrap();
    std::os::unix::fs::symlink(
        h.dir.path().join("outside.txt"),
        h.dir.path().join("repos/link"),
    )
    .unwrap();
    let err = h
        .run(
            &policy,
            RoleName::Reviewer,
            r#"{"root":"repos","files":["link"]}"#,
        )
        .unwrap_err();
    assert!(err.to_string().contains("reading link:"), "{err}");
    assert!(!err.to_string().contains("secret stuff"));
}

#[test]
fn tester_acquires_a_handle_without_seeing_the_value() {
    let (h, policy) = harness();
    h.seed("npm/token", CANARY);
    let outcome = h
        .run(
            &policy,
            RoleName::Tester,
            r#"{"path":"npm/token","label":"current"}"#,
        )
        .unwrap();
    assert_eq!(outcome.report.summary, "npm/token (current) exists");
    let calls: Vec<String> = h.events().iter().map(|e| e.call.clone()).collect();
    assert_eq!(calls, ["handles.acquire", "handles.release"]);
}

#[test]
fn researcher_selects_relevant_notes() {
    let (h, policy) = harness();
    let input = r#"{"topic":"npm","notes":[{"title":"npm tokens","text":"rotate monthly"},{"title":"db","text":"postgres"}]}"#;
    let outcome = h.run(&policy, RoleName::Researcher, input).unwrap();
    assert_eq!(outcome.report.summary, "1 notes on npm");
}

#[test]
fn domain_specialist_maps_repos_to_registries() {
    let (h, policy) = harness();
    repo_file(
        &h,
        "app/.npmrc",
        "@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
    );
    repo_file(&h, "docs/README.md", "no npm here");
    let outcome = h
        .run(&policy, RoleName::DomainSpecialist, r#"{"root":"repos"}"#)
        .unwrap();
    assert_eq!(outcome.report.summary, "1 repositories use npm registries");
    let output: serde_json::Value = serde_json::from_str(&outcome.report.output).unwrap();
    assert_eq!(output["repos"][0]["repo"], "app");
    assert_eq!(output["repos"][0]["scopes"][0][0], "@acme");
}
