//! The six role components under the shipped default policy.

mod support;

use agentward::audit::Decision;
use agentward::policy::RoleName;
use agentward::store::{Label, SecretAttributes, SecretStore, SecretValue};
use agentward_handoff::{Changes, Plan, SignOff, Verification};
use support::{auth_check, mint_task, review_task, staged, test_task, Harness};

const CANARY: &str = "npm_CANARY_role_3d9e";

fn harness() -> (Harness, agentward::policy::Policy) {
    let h = Harness::new();
    let policy = h.policy(include_str!("../policies/default.toml"));
    (h, policy)
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
    // Every path the planner may see (prod/db is outside its scope), due
    // within 14 days of now: npm/soon expires in 6, npm/later in 188.
    let outcome = h
        .run(
            &policy,
            RoleName::Planner,
            &support::plan_task(&[""], "2026-11-25T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(outcome.report.summary, "1 secrets due, 1 not due");
    let plan: Plan = serde_json::from_str(&outcome.report.output).unwrap();
    let due: Vec<&str> = plan.items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(due, ["npm/soon"]);
    assert_eq!(plan.items[0].current_version, Some(1));
    assert_eq!(
        plan.items[0].reason,
        "expires 2026-12-01T00:00:00Z, within 14 days"
    );
    assert_eq!(plan.not_before, None);
    assert!(!outcome.report.output.contains(CANARY));
}

/// The default provider, `generated`: the host draws the value and stores
/// it (`secrets-write.generate`); the Implementer gets a version and a
/// handle, and no call of the run carries the value from the guest.
#[test]
fn the_generated_provider_has_the_host_make_the_value_so_no_role_holds_it() {
    let (h, policy) = harness();
    h.seed("npm/token", CANARY);
    let input = mint_task("npm/token", Some(1), false, &[]);
    let outcome = h.run(&policy, RoleName::Implementer, &input).unwrap();
    let events = h.events();
    assert!(
        events.iter().all(|e| e.call != "secrets-write.put-pending"),
        "the role wrote no value of its own"
    );
    let generate = events
        .iter()
        .find(|e| e.call == "secrets-write.generate" && e.outcome == "ok")
        .expect("the host generated the value");
    assert_eq!(generate.args["version"], 2);
    assert_eq!(generate.args["length"], 40);
    assert_eq!(generate.args["prefix"], "npm_");
    assert!(generate.args["handle"]
        .as_str()
        .unwrap()
        .starts_with("{{agentward:handle:"));
    let minted = h.store.read("npm/token", Label::Pending).unwrap();
    let body = minted.expose().strip_prefix("npm_").unwrap();
    assert_eq!(body.len(), 40);
    assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(!outcome.report.output.contains(minted.expose()));
    assert_eq!(
        generate.args["value"],
        serde_json::json!(h.digest(minted.expose()))
    );
    // Two draws differ.
    h.run(&policy, RoleName::Implementer, &input).unwrap();
    let versions = h.store.describe("npm/token").unwrap().versions;
    assert_eq!(versions.len(), 3);
    let again = h.store.read("npm/token", Label::Pending).unwrap();
    assert_ne!(again.expose(), minted.expose());
}

#[test]
fn a_generate_spec_under_128_bits_is_refused_naming_the_length_needed() {
    let (h, policy) = harness();
    h.seed("npm/token", CANARY);
    let task = agentward_handoff::ImplementTask::Mint {
        path: "npm/token".into(),
        expected_current: Some(1),
        current_credential_id: None,
        retry_since: None,
        files: Vec::new(),
        dry_run: false,
        config: serde_json::json!({ "issuer": { "kind": "generated", "length": 8, "prefix": "x_" } }),
    };
    let err = h
        .run(
            &policy,
            RoleName::Implementer,
            &serde_json::to_string(&task).unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("8 characters of a 62-character alphabet carry 48 bits; at least 128 are needed: use length = 22 or more"),
        "{err}"
    );
    assert_eq!(
        h.store.describe("npm/token").unwrap().versions.len(),
        1,
        "nothing stored"
    );
}

#[test]
fn implementer_stores_a_pending_version_and_stages_npmrc() {
    let (h, policy) = harness();
    h.seed("npm/token", CANARY);
    h.repo_file(
        "app/.npmrc",
        "@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=npm_oldliteral\n",
    );
    let input = mint_task("npm/token", Some(1), false, &[("repos", "app/.npmrc")]);
    let outcome = h.run(&policy, RoleName::Implementer, &input).unwrap();
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
    let changes: Changes = serde_json::from_str(&outcome.report.output).unwrap();
    assert_eq!((changes.path.as_str(), changes.version), ("npm/token", 2));
    assert_eq!(changes.staged, [staged("repos", "app/.npmrc")]);
    assert!(
        changes.validation.iter().all(|c| c.passed),
        "{:?}",
        changes.validation
    );
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
    let old = "//127.0.0.1:4873/:_authToken=npm_oldliteral\n";
    h.repo_file("bad/.npmrc", old);
    h.repo_file("good/.npmrc", old);
    let bad = h
        .run(
            &policy,
            RoleName::Reviewer,
            &review_task(
                "npm/token",
                2,
                &[(
                    "repos",
                    "bad/.npmrc",
                    "//127.0.0.1:4873/:_authToken=npm_literal\n",
                )],
            ),
        )
        .unwrap();
    assert_eq!(
        bad.report.summary,
        "rejected version 2 of npm/token: 1 findings"
    );
    let sign_off: SignOff = serde_json::from_str(&bad.report.output).unwrap();
    assert!(!sign_off.approved);
    assert_eq!(sign_off.findings[0].file.as_deref(), Some("bad/.npmrc"));
    assert_eq!(
        sign_off.findings[0].message,
        "line 1 holds a plaintext credential"
    );
    let good = h
        .run(
            &policy,
            RoleName::Reviewer,
            &review_task(
                "npm/token",
                2,
                &[(
                    "repos",
                    "good/.npmrc",
                    "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
                )],
            ),
        )
        .unwrap();
    assert_eq!(
        good.report.summary,
        "approved version 2 of npm/token: 1 files change, no plaintext credentials"
    );
    let sign_off: SignOff = serde_json::from_str(&good.report.output).unwrap();
    assert!(sign_off.approved && sign_off.findings.is_empty());
}

/// The `workspace.read-file` events of a run, as (root, path, decision, outcome).
fn reads(h: &Harness) -> Vec<(String, String, Decision, String)> {
    h.events()
        .into_iter()
        .filter(|e| e.call == "workspace.read-file")
        .map(|e| {
            assert!(
                e.args.get("returned_bytes").is_none(),
                "a read returned bytes: {e:?}"
            );
            (
                e.args["root"].as_str().unwrap().to_string(),
                e.args["path"].as_str().unwrap().to_string(),
                e.decision,
                e.outcome,
            )
        })
        .collect()
}

/// Nothing the run produced holds the outside file's contents.
fn assert_unread(h: &Harness, outcome: &agentward::runtime::RunOutcome) {
    let produced = format!(
        "{:?}\n{:?}\n{}\n{}",
        h.events(),
        outcome.report,
        outcome.stdout,
        outcome.stderr
    );
    assert!(!produced.contains("secret stuff"), "{produced}");
}

#[test]
fn reviewer_cannot_climb_out_of_its_workspace() {
    let (h, policy) = harness();
    std::fs::write(h.dir.path().join("outside.txt"), "secret stuff").unwrap();
    // A change whose staged file climbs out of the root: the reviewer reads
    // it to compare, and the read is refused before it touches the disk.
    let outcome = h
        .run(
            &policy,
            RoleName::Reviewer,
            &review_task("npm/token", 2, &[("repos", "../outside.txt", "")]),
        )
        .unwrap();
    let [(root, path, decision, why)] = &reads(&h)[..] else {
        panic!("one read: {:?}", h.events());
    };
    assert_eq!((root.as_str(), path.as_str()), ("repos", "../outside.txt"));
    assert_eq!(*decision, Decision::Deny);
    assert!(
        why.contains("`../outside.txt` is not a clean relative path"),
        "{why}"
    );
    assert_unread(&h, &outcome);
    // A root the policy does not grant.
    let (h, policy) = harness();
    std::fs::write(h.dir.path().join("outside.txt"), "secret stuff").unwrap();
    let outcome = h
        .run(
            &policy,
            RoleName::Reviewer,
            &review_task("npm/token", 2, &[(".", "outside.txt", "")]),
        )
        .unwrap();
    let [(root, _, decision, why)] = &reads(&h)[..] else {
        panic!("one read: {:?}", h.events());
    };
    assert_eq!((root.as_str(), *decision), (".", Decision::Deny));
    assert!(
        why.contains("role reviewer may not use workspace root `.`"),
        "{why}"
    );
    assert_unread(&h, &outcome);
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
    let outcome = h
        .run(
            &policy,
            RoleName::Reviewer,
            &review_task("npm/token", 2, &[("repos", "link", "")]),
        )
        .unwrap();
    let [(_, path, _, why)] = &reads(&h)[..] else {
        panic!("one read: {:?}", h.events());
    };
    assert_eq!(path, "link");
    assert!(
        why.starts_with(
            "invalid: `link` in workspace root `repos` leads outside it through a symbolic link"
        ),
        "the read failed: {why}"
    );
    assert_unread(&h, &outcome);
}

#[test]
fn tester_acquires_a_handle_without_seeing_the_value() {
    let (h, policy) = harness();
    h.seed("npm/token", CANARY);
    // The default policy lets the tester reach the local registry only;
    // whether one answers there does not matter, the handle is taken either way.
    let input = test_task(
        "npm/token",
        1,
        "current",
        auth_check("http://127.0.0.1:4873/-/whoami"),
    );
    let outcome = h.run(&policy, RoleName::Tester, &input).unwrap();
    let verification: Verification = serde_json::from_str(&outcome.report.output).unwrap();
    let names: Vec<&str> = verification
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["label", "auth"]);
    assert!(verification.checks[0].passed, "{:?}", verification.checks);
    assert_eq!(verification.checks[0].detail, "version 1 is current");
    // http.send is effectful: its intent is recorded before it goes out.
    let calls: Vec<String> = h
        .events()
        .iter()
        .filter(|e| e.outcome != "intent")
        .map(|e| e.call.clone())
        .collect();
    assert_eq!(
        calls,
        [
            "secrets-meta.describe",
            "handles.acquire",
            "http.send",
            "handles.release",
            "role.run"
        ]
    );
    let produced = format!("{:?}\n{:?}", h.events(), outcome.report);
    assert!(!produced.contains(CANARY), "{produced}");
}

#[test]
fn researcher_hands_on_the_best_document_per_topic_with_its_digest() {
    let (h, policy) = harness();
    let doc = |name: &str, text: &str| {
        std::fs::write(h.dir.path().join("docs").join(name), text).unwrap()
    };
    doc("ci.md", "# CI schedules\n\nweb-app nightly 02:00-02:45\n");
    doc(
        "mappings.md",
        "# Scope mappings\n\n| //127.0.0.1:4873/ | @acme | npm/token |\n",
    );
    doc("lunch.md", "# Lunch\n\nsoup on fridays\n");
    let outcome = h
        .run(
            &policy,
            RoleName::Researcher,
            &support::research_task(&["CI schedules", "scope mappings"]),
        )
        .unwrap();
    let briefing: agentward_handoff::Briefing =
        serde_json::from_str(&outcome.report.output).unwrap();
    let found: Vec<(&str, &str)> = briefing
        .documents
        .iter()
        .map(|d| (d.topic.as_str(), d.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [("CI schedules", "ci.md"), ("scope mappings", "mappings.md")]
    );
    let ci = std::fs::read(h.dir.path().join("docs/ci.md")).unwrap();
    use sha2::Digest;
    assert_eq!(
        briefing.documents[0].digest,
        hex::encode(sha2::Sha256::digest(&ci))
    );
    assert_eq!(briefing.documents[0].title, "CI schedules");
    // What the role was shown is what the manifest will record.
    let consulted: Vec<&str> = outcome
        .docs_consulted
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    assert!(
        consulted.contains(&"ci.md") && consulted.contains(&"mappings.md"),
        "{consulted:?}"
    );
}

#[test]
fn domain_specialist_maps_repos_to_the_secrets_the_docs_name() {
    let (h, policy) = harness();
    h.repo_file(
        "app/.npmrc",
        "@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n",
    );
    h.repo_file(
        "legacy/.npmrc",
        "//127.0.0.1:4873/:_authToken=npm_literal\n",
    );
    h.repo_file("other/.npmrc", "//registry.example:443/:_authToken=${X}\n");
    let task = agentward_handoff::MapTask {
        prefixes: vec!["npm/".into()],
        briefing: agentward_handoff::Briefing {
            documents: vec![agentward_handoff::DocNote {
                topic: "scope mappings".into(),
                path: "mappings.md".into(),
                title: "Scope mappings".into(),
                digest: "0".repeat(64),
                excerpt: "| registry | scopes | secret |\n|---|---|---|\n| http://127.0.0.1:4873/ | @acme | npm/token |\n".into(),
            }],
            summary: None,
        },
        config: serde_json::json!({ "root": "repos" }),
    };
    let outcome = h
        .run(
            &policy,
            RoleName::DomainSpecialist,
            &serde_json::to_string(&task).unwrap(),
        )
        .unwrap();
    let map: agentward_handoff::ScopeMap = serde_json::from_str(&outcome.report.output).unwrap();
    let found: Vec<(&str, &str, bool, Vec<String>)> = map
        .usages
        .iter()
        .map(|u| {
            (
                u.file.file.as_str(),
                u.secret.as_str(),
                u.uses_env,
                u.scopes.clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("app/.npmrc", "npm/token", true, vec!["@acme".to_string()]),
            ("legacy/.npmrc", "npm/token", false, vec![]),
        ]
    );
    assert!(
        outcome.report.summary.contains("1 unmapped"),
        "{}",
        outcome.report.summary
    );
}
