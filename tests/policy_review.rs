//! Policy changes are reviewed: a policy that widens a grant beyond the
//! last approved one runs only once the approvers of the workflow's
//! `[approvals.policy]` have signed its hash; one that only narrows takes
//! effect at once and ends the narrowed roles' outstanding OpenBao tokens.
//! The real `agentward` binary, real signatures, a real OpenBao dev server.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::{agentward, init, text};
use support::openbao::BaoServer;

const RESEARCH: &str = r#"{"topics":["npm"],"config":null}"#;

fn out_text(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// A project whose workflow asks 2 of alice, bob and carol to approve a
/// policy that widens; their private keys' paths by name.
fn reviewed_project() -> (tempfile::TempDir, Vec<(String, PathBuf)>) {
    let dir = init();
    let p = dir.path();
    let keys_dir = p.join("approvers");
    let mut keys = Vec::new();
    let mut lines = String::from("\n[approvals.keys]\n");
    for name in ["alice", "bob", "carol"] {
        let out = agentward(
            p,
            &["approver", "new", name, "--out", keys_dir.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", out_text(&out));
        let public = std::fs::read_to_string(keys_dir.join(format!("{name}.pub"))).unwrap();
        lines += &format!("{name} = \"{}\"\n", public.trim());
        keys.push((name.to_string(), keys_dir.join(format!("{name}.key"))));
    }
    lines += "\n[approvals.policy]\nrequired = 2\napprovers = [\"alice\", \"bob\", \"carol\"]\n";
    let workflow = p.join("policies/workflow.toml");
    let text = std::fs::read_to_string(&workflow).unwrap() + &lines;
    std::fs::write(&workflow, text).unwrap();
    (dir, keys)
}

fn key<'a>(keys: &'a [(String, PathBuf)], name: &str) -> &'a str {
    keys.iter()
        .find(|(n, _)| n == name)
        .map(|(_, k)| k.to_str().unwrap())
        .unwrap()
}

/// `agentward policy approve --key NAME.key EXTRA…`.
fn approve(p: &Path, keys: &[(String, PathBuf)], name: &str, extra: &[&str]) -> Output {
    let mut args = vec!["policy", "approve", "--key", key(keys, name)];
    args.extend(extra);
    agentward(p, &args)
}

fn research(p: &Path) -> Output {
    agentward(p, &["run", "researcher", "--input", RESEARCH])
}

fn policy_file(p: &Path) -> PathBuf {
    p.join("policies/default.toml")
}

/// Replaces `from` (which must be there, once) in the project's policy.
fn edit_policy(p: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(policy_file(p)).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} once in the policy");
    std::fs::write(policy_file(p), text.replacen(from, to, 1)).unwrap();
}

fn current(p: &Path) -> String {
    std::fs::read_to_string(p.join("policies/approved/current")).unwrap()
}

fn log_records(p: &Path, call: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p.join("logs/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["call"] == call)
        .collect()
}

const RESEARCHER_GRANTS: &str = "[roles.researcher.grants]\nlog = {}\n";
const RESEARCHER_META: &str =
    "[roles.researcher.grants]\nlog = {}\nsecrets-meta = { paths = [\"npm/**\"] }\n";

#[test]
fn a_widening_policy_waits_for_its_approvals_and_a_narrowing_one_takes_effect_at_once() {
    let (dir, keys) = reviewed_project();
    let p = dir.path();

    // No policy approved yet: nothing runs, and the error says what to do.
    let out = research(p);
    assert_eq!(out.status.code(), Some(3), "{}", out_text(&out));
    let said = out_text(&out);
    assert!(
        said.contains("is not approved, and no policy of this project has been yet"),
        "{said}"
    );
    assert!(said.contains("still missing"), "{said}");
    assert!(
        said.contains("agentward policy approve --key KEY"),
        "{said}"
    );

    let out = agentward(p, &["policy", "approve", "--print-message"]);
    assert!(out.status.success());
    let message = text(&out.stdout);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[0], "agentward-policy-approval-v2", "{message}");
    assert_eq!(
        lines[2], "over none",
        "the first policy widens nothing approved"
    );
    let hash = lines[1].strip_prefix("policy ").unwrap().to_string();
    assert!(hash.starts_with("sha256:"), "{message}");

    // An approver who reviewed another text is refused, naming both hashes.
    let wrong = "sha256:".to_string() + &"0".repeat(64);
    let out = approve(p, &keys, "alice", &["--policy-hash", &wrong]);
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(out_text(&out).contains(&hash), "{}", out_text(&out));

    let out = approve(p, &keys, "alice", &["--policy-hash", &hash]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(
        text(&out.stdout).contains("still missing"),
        "{}",
        out_text(&out)
    );
    // One approval of two: still refused.
    assert_eq!(research(p).status.code(), Some(3));
    // alice twice is one approval.
    let out = approve(p, &keys, "alice", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(out_text(&out).contains("alice"), "{}", out_text(&out));

    let out = approve(p, &keys, "bob", &[]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(
        text(&out.stdout).contains("approvals complete"),
        "{}",
        out_text(&out)
    );
    assert_eq!(current(p), hash);
    let approved = p.join(format!(
        "policies/approved/{}.toml",
        hash.trim_start_matches("sha256:")
    ));
    assert_eq!(
        std::fs::read_to_string(&approved).unwrap(),
        std::fs::read_to_string(policy_file(p)).unwrap()
    );

    let out = research(p);
    assert!(out.status.success(), "{}", out_text(&out));
    let runs = log_records(p, agentward::audit::RUN_CALL);
    let last = runs.last().expect("a role.run record");
    assert!(
        last.to_string().contains(&hash),
        "the run records the policy's hash: {last}"
    );
    assert_eq!(log_records(p, "policy.approve").len(), 2);

    // A new capability for the researcher: refused, naming the widening and
    // the diff to review.
    edit_policy(p, RESEARCHER_GRANTS, RESEARCHER_META);
    let out = research(p);
    assert_eq!(out.status.code(), Some(3), "{}", out_text(&out));
    let said = out_text(&out);
    assert!(
        said.contains(&format!("widens grants beyond the approved policy {hash}")),
        "{said}"
    );
    assert!(
        said.contains("researcher") && said.contains("secrets-meta"),
        "{said}"
    );
    assert!(
        said.contains(&format!("agentward policy diff {}", approved.display())),
        "{said}"
    );
    // Back to the approved text: runs again without a new approval.
    edit_policy(p, RESEARCHER_META, RESEARCHER_GRANTS);
    assert!(research(p).status.success());

    // Narrowing (the implementer loses DELETE) takes effect at once.
    let narrowed_from = r#"methods = ["GET", "POST", "PUT", "DELETE"]"#;
    let narrowed_to = r#"methods = ["GET", "POST", "PUT"]"#;
    edit_policy(p, narrowed_from, narrowed_to);
    let out = research(p);
    assert!(out.status.success(), "{}", out_text(&out));
    let narrowed = log_records(p, "policy.narrowed");
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    let record = narrowed[0].to_string();
    assert_eq!(
        narrowed[0]["args"]["roles"],
        serde_json::json!(["implementer"]),
        "{record}"
    );
    assert_ne!(current(p), hash, "the narrowed policy is now in force");
    assert!(
        research(p).status.success() && log_records(p, "policy.narrowed").len() == 1,
        "a policy in force is narrowed once"
    );
    // The old, wider text was approved once, over another policy: rolling
    // back to it is a widening of what is in force now, approved anew.
    edit_policy(p, narrowed_to, narrowed_from);
    let out = research(p);
    assert_eq!(out.status.code(), Some(3), "{}", out_text(&out));
    assert!(
        out_text(&out).contains("implementer") && out_text(&out).contains("DELETE"),
        "{}",
        out_text(&out)
    );
    assert!(audit_verifies(p));
}

fn audit_verifies(p: &Path) -> bool {
    agentward(p, &["audit", "verify"]).status.success()
}

#[test]
fn narrowing_a_role_revokes_its_outstanding_openbao_tokens() {
    let server = BaoServer::start();
    let (dir, keys) = reviewed_project();
    let p = dir.path();
    let token_file = p.join("keys/openbao.token");
    std::fs::write(&token_file, &server.root_token).unwrap();
    let addr = server.addr();
    let run = |role: &str| {
        let input = match role {
            "planner" => support::plan_task(&["npm/"], "2026-11-25T00:00:00Z"),
            _ => RESEARCH.to_string(),
        };
        agentward(
            p,
            &[
                "run",
                role,
                "--input",
                &input,
                "--store",
                "openbao",
                "--openbao-addr",
                &addr,
                "--openbao-token-file",
                token_file.to_str().unwrap(),
            ],
        )
    };
    for name in ["alice", "carol"] {
        let out = approve(p, &keys, name, &[]);
        assert!(out.status.success(), "{}", out_text(&out));
    }
    let out = run("planner");
    assert!(out.status.success(), "{}", out_text(&out));

    // Tokens still outstanding: a planner run and a researcher run whose
    // processes died before revoking them.
    let root = server.root_store();
    let scopes = |meta: &str| agentward::store::RoleScopes {
        meta: vec![meta.to_string()],
        ..Default::default()
    };
    let planner = root
        .token_for_role(
            "planner",
            &scopes("npm/**"),
            std::time::Duration::from_secs(600),
            0,
        )
        .unwrap();
    let researcher = root
        .token_for_role(
            "researcher",
            &scopes("docs/**"),
            std::time::Duration::from_secs(600),
            0,
        )
        .unwrap();
    assert!(token_alive(&server, &planner) && token_alive(&server, &researcher));

    // The planner loses `log`: narrower, in force at the next run of any role.
    edit_policy(
        p,
        "[roles.planner.grants]\nlog = {}\nsecrets-meta",
        "[roles.planner.grants]\nsecrets-meta",
    );
    let out = run("researcher");
    assert!(out.status.success(), "{}", out_text(&out));
    let narrowed = log_records(p, "policy.narrowed");
    assert_eq!(narrowed.len(), 1, "{narrowed:?}");
    assert_eq!(narrowed[0]["args"]["revoked"], 1, "{}", narrowed[0]);
    assert!(
        !token_alive(&server, &planner),
        "the planner's token is revoked"
    );
    assert!(
        token_alive(&server, &researcher),
        "the researcher was not narrowed"
    );
    let (status, body) = server.policy("agentward-role-planner");
    assert_eq!(status, 404, "the planner's ACL policy is gone: {body}");
    assert!(!std::fs::read_to_string(p.join("logs/audit.jsonl"))
        .unwrap()
        .contains(&server.root_token));
    assert!(audit_verifies(p));
}

/// Whether OpenBao still knows the role store's token.
fn token_alive(server: &BaoServer, store: &agentward::store::openbao::OpenBaoStore) -> bool {
    let (status, body) = server.raw("GET", "auth/token/lookup-self", store.token(), "");
    match status {
        200 => true,
        403 => false,
        _ => panic!("lookup-self: {status} {body}"),
    }
}
