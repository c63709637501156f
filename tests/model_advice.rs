//! Model output is data: the in-tree Reviewer's `model_advice` and the
//! Researcher's `model_summary`, against real llama.cpp servers.
//!
//! A model's advice sits beside a role's decision and never changes it;
//! two roles on two model configurations in one rotation are each on
//! record (timeline, transcripts, manifest); a dry run consults the model
//! as a live run does; no credential reaches a prompt.

mod support;

use agentward::policy::RoleName;
use agentward_handoff::SignOff;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::llama::LlamaServer;
use support::rotation::{self, assert_invariants, bot, registry, text, Setup, NOW};
use support::{review_task, Harness};

const LITERAL: &str = "npm_CANARY_advice_6a2f0d9e41";

fn grant(server: &LlamaServer) -> String {
    format!(
        "model = {{ endpoint = \"{}\", model = \"{}\", transcripts = true }}",
        server.endpoint(),
        server.alias
    )
}

/// A review task for `files` with the reviewer's config `config`.
fn review(files: &[(&str, &str, &str)], config: Value) -> String {
    let mut task: Value = serde_json::from_str(&review_task("npm/token", 2, files)).unwrap();
    task["config"] = config;
    task.to_string()
}

#[test]
fn the_reviewers_advice_never_changes_its_verdict() {
    let server = LlamaServer::start("risk-reviewer");
    let h = Harness::new();
    let old = format!("//127.0.0.1:4873/:_authToken={LITERAL}\n");
    h.repo_file("app/.npmrc", &old);
    let advised = h.role_policy(
        "reviewer",
        "reviewer",
        &format!(
            "log = {{}}\nworkspace = {{ roots = [\"repos\"], mode = \"read\" }}\n{}",
            grant(&server)
        ),
        "wall_ms = 120_000",
    );
    let unlinked = h.role_policy(
        "reviewer",
        "reviewer",
        "log = {}\nworkspace = { roots = [\"repos\"], mode = \"read\" }",
        "",
    );
    // One change a reviewer approves, one it rejects (the literal stays).
    let cases = [
        ("//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n", true),
        (old.as_str(), false),
        ("//127.0.0.1:4873/:_authToken=npm_another_literal\n", false),
    ];
    for (proposed, approved) in cases {
        let files = [("repos", "app/.npmrc", proposed)];
        let sign_off = |policy, config: Value| -> SignOff {
            let outcome = h
                .run(policy, RoleName::Reviewer, &review(&files, config))
                .unwrap_or_else(|e| panic!("the reviewer runs: {e}"));
            serde_json::from_str(&outcome.report.output).unwrap()
        };
        let plain = sign_off(&advised, Value::Null);
        let before = server.completions();
        let with_advice = sign_off(&advised, serde_json::json!({ "model_advice": true }));
        let without_model = sign_off(&unlinked, serde_json::json!({ "model_advice": true }));
        assert_eq!(plain.approved, approved, "{proposed}");
        assert!(plain.advice.is_none(), "not asked, no advice");
        for other in [&with_advice, &without_model] {
            assert_eq!(
                (other.approved, &other.findings),
                (plain.approved, &plain.findings)
            );
        }
        assert_eq!(
            server.completions(),
            before + 1,
            "one call per advised review"
        );
        let advice = with_advice.advice.expect("advice was asked for");
        assert_eq!(advice.model.as_deref(), Some("risk-reviewer"));
        assert!(!advice.text.is_empty());
        // `model = {}` links the interface and reaches nothing: the advice
        // says why there is none, the verdict is unchanged.
        let none = without_model.advice.expect("advice was asked for");
        assert_eq!(none.model, None);
        assert!(
            none.text.starts_with("no advice:") && none.text.contains("names no endpoint"),
            "{}",
            none.text
        );
    }
    // The plaintext token in the files under review never reached a prompt.
    let log = server.log();
    assert!(!log.contains(LITERAL) && !log.contains("npm_another_literal"));
    let transcripts = std::fs::read_dir(h.dir.path().join("logs/transcripts"))
        .unwrap()
        .flat_map(|change| std::fs::read_dir(change.unwrap().path()).unwrap())
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(transcripts.contains("line withheld"), "{transcripts}");
    assert!(!transcripts.contains(LITERAL) && !transcripts.contains("npm_another_literal"));
}

/// The rotation harness's policy, with a researcher, and each of the two
/// roles granted its own model.
fn policy(url: &str, reviewer: &LlamaServer, researcher: &LlamaServer) -> String {
    let limits = "limits = { wall_ms = 120_000 }";
    let base = rotation::policy(url, &Setup::default())
        .replace(
            "component = \"reviewer\"\n",
            &format!("component = \"reviewer\"\n{limits}\n"),
        )
        .replace("model = {}", &grant(reviewer));
    format!(
        "{base}\n[roles.researcher]\ncomponent = \"researcher\"\n{limits}\n[roles.researcher.grants]\n\
         log = {{}}\ndocs = {{ dir = \"docs\" }}\n{}\n",
        grant(researcher)
    )
}

/// The rotation harness's workflow, with a research step asking for a
/// summary, the app's .npmrc staged, and the review asking for advice.
fn workflow(url: &str, bot: &rotation::Bot) -> String {
    let password = format!("password = \"registry/{}-password\" }}", bot.name);
    rotation::workflow(url, bot, &Setup::default())
        .replace(
            "[[steps]]\nstage = \"plan\"",
            "[[steps]]\nstage = \"research\"\nrole = \"researcher\"\n\
             input = { topics = [\"rotating the npm token\"], model_summary = true }\n\n\
             [[steps]]\nstage = \"plan\"",
        )
        .replace(
            &password,
            &format!("{password}, npmrc = [{{ root = \"repos\", file = \"app/.npmrc\" }}]"),
        )
        .replace(
            "role = \"reviewer\"\n",
            "role = \"reviewer\"\ninput = { model_advice = true }\n",
        )
}

/// The audit records of `change`'s model calls by `role`, outcomes only.
fn model_calls(p: &rotation::Project, change: &str, role: &str) -> Vec<Value> {
    std::fs::read_to_string(p.path().join("logs/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| {
            e["change_id"] == change
                && e["role"] == role
                && e["call"] == "model.complete"
                && e["outcome"] != agentward::audit::INTENT
        })
        .collect()
}

#[test]
fn two_roles_on_two_models_in_one_rotation() {
    let v = registry();
    let bot = bot(&v, "advised");
    let reviewer = LlamaServer::start("risk-reviewer");
    let researcher = LlamaServer::start("doc-summariser");
    let p = rotation::project(&v, &bot, &Setup::default());
    let url = v.url();
    std::fs::write(
        p.path().join("policies/default.toml"),
        policy(&url, &reviewer, &researcher),
    )
    .unwrap();
    std::fs::write(
        p.path().join("policies/workflow.toml"),
        workflow(&url, &bot),
    )
    .unwrap();
    std::fs::write(
        p.path().join("docs/npm-tokens.md"),
        "# Rotating the npm token\n\nMint the new token before revoking the old one. \
         CI reads it from NPM_TOKEN; never commit a token to a repository.\n",
    )
    .unwrap();
    let npmrc = p.path().join("repos/app/.npmrc");
    std::fs::create_dir_all(npmrc.parent().unwrap()).unwrap();
    let authority = url.trim_start_matches("https://");
    std::fs::write(&npmrc, format!("//{authority}/:_authToken={}\n", bot.token)).unwrap();
    let out = p.run(&["check"]);
    assert!(out.status.success(), "{}", text(&out));

    // A dry run asks both models, as the live run will: a prompt changes
    // nothing, and CI rehearses the prompts a live run sends.
    let out = p.run(&["rotate", "--dry-run", "--now", NOW, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let dry: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dry_change = dry["change_id"].as_str().unwrap().to_string();
    assert_eq!(reviewer.completions(), 1, "{}", reviewer.log());
    assert_eq!(researcher.completions(), 1, "{}", researcher.log());
    assert_eq!(
        live_keys(&v, &bot),
        vec![bot.key.clone()],
        "nothing real changed"
    );

    let report = p.path().join("report.md");
    let report_arg = format!("markdown={}", report.display());
    let out = p.run(&["rotate", "--now", NOW, "--json", "--report", &report_arg]);
    assert!(out.status.success(), "{}", text(&out));
    let live: Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = live["change_id"].as_str().unwrap().to_string();
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "DONE");
    assert_eq!((reviewer.completions(), researcher.completions()), (2, 2));

    for id in [&dry_change, &change] {
        // The manifest keeps each model's words apart from the decisions.
        let m = p.manifest(id);
        assert_eq!(m["items"][0]["advice"]["model"], "risk-reviewer", "{m:#}");
        assert_eq!(m["briefing"]["summary"]["model"], "doc-summariser", "{m:#}");
        // The timeline names the model and the endpoint of each role.
        let timeline = p.timeline(id);
        for (role, server) in [("reviewer", &reviewer), ("researcher", &researcher)] {
            let row = format!("model {} at {}", server.alias, server.endpoint());
            assert!(
                timeline
                    .lines()
                    .any(|l| l.contains(role) && l.contains(&row)),
                "{row} by {role}:\n{timeline}"
            );
            // One transcript per role, its digest in the call's record.
            let calls = model_calls(&p, id, role);
            assert_eq!(calls.len(), 1, "{calls:?}");
            let args = &calls[0]["args"];
            assert_eq!(args["served_model"], server.alias.as_str());
            let file = p.path().join(format!("logs/transcripts/{id}/{role}.jsonl"));
            let bytes = std::fs::read(&file).unwrap();
            assert_eq!(
                args["transcript_sha256"],
                hex::encode(Sha256::digest(&bytes)),
                "{}",
                file.display()
            );
        }
    }
    // The Markdown report shows the advice as advice.
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("### Model advice (advisory"), "{md}");
    assert!(md.contains("(risk-reviewer): `"), "{md}");
    assert!(md.contains("(doc-summariser): `"), "{md}");
    // No credential in a prompt, a transcript or the servers' logs.
    let new_token = p.current_token(&bot);
    let transcripts: String = [&dry_change, &change]
        .iter()
        .flat_map(|id| std::fs::read_dir(p.path().join(format!("logs/transcripts/{id}"))).unwrap())
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    let logs = reviewer.log() + &researcher.log() + &transcripts;
    for value in [&bot.token, &new_token, &bot.password] {
        assert!(!logs.contains(value.as_str()), "a credential left the host");
    }
    let out = p.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    // A transcript is vouched for by the chain: one edited afterwards fails.
    let transcript = p
        .path()
        .join(format!("logs/transcripts/{change}/reviewer.jsonl"));
    let mut edited = std::fs::read_to_string(&transcript).unwrap();
    edited.push_str("{\"note\": \"added later\"}\n");
    std::fs::write(&transcript, edited).unwrap();
    let out = p.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(15), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("transcript {}", transcript.display()))
            && text(&out).contains("edited, cut or extended"),
        "{}",
        text(&out)
    );
}

fn live_keys(v: &support::verdaccio::Verdaccio, bot: &rotation::Bot) -> Vec<String> {
    rotation::live_keys(v, &bot.token)
}
