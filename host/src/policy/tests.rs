//! The policy's error messages: file, line, and the fix.

use super::*;
use crate::capabilities::Capability;

fn parse(text: &str) -> Result<Policy, PolicyError> {
    Policy::parse(Path::new("policies/p.toml"), text, Path::new("."))
}

fn error(text: &str) -> String {
    parse(text).expect_err("policy is invalid").to_string()
}

#[test]
fn default_policy_grants_secrets_write_only_to_the_implementer() {
    let text = include_str!("../../../policies/default.toml");
    let policy = parse(text).expect("the shipped default policy loads");
    assert_eq!(
        policy.roles.len(),
        RoleName::ALL.len(),
        "every role is configured"
    );
    for (role, role_policy) in &policy.roles {
        assert_eq!(
            role_policy.grants.contains(Capability::SecretsWrite),
            *role == RoleName::Implementer,
            "{role}"
        );
    }
}

#[test]
fn unknown_key_names_line_and_closest_key() {
    let message = error("[roles.planner]\ncomponent = \"planner\"\ncomponnent = \"x\"\n");
    assert!(
        message.starts_with("policies/p.toml:3:1: unknown field `componnent`"),
        "{message}"
    );
    assert!(
        message.contains("fix: did you mean `component`?"),
        "{message}"
    );
}

#[test]
fn unknown_capability_suggests_the_real_one() {
    let message = error(
        "[roles.implementer]\ncomponent = \"implementer\"\n[roles.implementer.grants]\nsecret-write = { paths = [\"npm/**\"] }\n",
    );
    assert!(
        message.starts_with("policies/p.toml:4:1: unknown field `secret-write`"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `secrets-write`?"),
        "{message}"
    );
}

#[test]
fn unknown_role_lists_the_roles() {
    let message = error("[roles.plannr]\ncomponent = \"planner\"\n");
    assert!(
        message.starts_with("policies/p.toml:1:8: unknown variant `plannr`"),
        "{message}"
    );
    assert!(message.contains("did you mean `planner`?"), "{message}");
    assert!(message.contains("domain-specialist"), "{message}");
}

#[test]
fn bad_glob_names_the_glob_and_shows_a_good_one() {
    let message = error(
        "[roles.planner]\ncomponent = \"planner\"\n[roles.planner.grants]\nsecrets-meta = { paths = [\"npm/[**\"] }\n",
    );
    assert!(
        message.starts_with("policies/p.toml:4:16: invalid secret path glob `npm/[**`"),
        "{message}"
    );
    assert!(
        message.contains("fix: write a glob such as \"npm/**\""),
        "{message}"
    );
}

#[test]
fn secrets_write_for_another_role_is_refused() {
    let message = error(
        "[roles.tester]\ncomponent = \"tester\"\n[roles.tester.grants]\nsecrets-write = { paths = [\"npm/**\"] }\n",
    );
    assert!(
        message.starts_with("policies/p.toml:4:17: role tester is granted secrets-write, which only the implementer may hold"),
        "{message}"
    );
    assert!(
        message.contains("fix: remove `secrets-write` from [roles.tester.grants]"),
        "{message}"
    );
}

#[test]
fn bad_http_origin_and_method_are_refused() {
    let origin = error(
        "[roles.tester]\ncomponent = \"tester\"\n[roles.tester.grants]\nhttp = { origins = [\"http://127.0.0.1:4873/-/whoami\"], methods = [\"GET\"] }\n",
    );
    assert!(
        origin.contains("invalid http origin `http://127.0.0.1:4873/-/whoami`"),
        "{origin}"
    );
    let method = error(
        "[roles.tester]\ncomponent = \"tester\"\n[roles.tester.grants]\nhttp = { origins = [\"http://127.0.0.1:4873\"], methods = [\"get\"] }\n",
    );
    assert!(method.contains("invalid http method `get`"), "{method}");
    assert!(method.contains("fix: use upper-case methods"), "{method}");
}

#[test]
fn out_of_range_memory_names_the_range() {
    let message =
        error("[roles.planner]\ncomponent = \"planner\"\nlimits = { memory_mib = 4096 }\n");
    assert!(
        message.contains("memory_mib = 4096 is out of range"),
        "{message}"
    );
    assert!(
        message.contains("fix: set memory_mib between 1 and 1024"),
        "{message}"
    );
}

#[test]
fn missing_component_says_what_to_add() {
    let message = error("[roles.planner]\n[roles.planner.grants]\nlog = {}\n");
    assert!(message.contains("missing field `component`"), "{message}");
    assert!(message.contains("fix: add `component = …`"), "{message}");
}

#[test]
fn empty_policy_is_an_error() {
    let message = error("roles = {}\n");
    assert!(message.contains("the policy defines no roles"), "{message}");
}

#[test]
fn unreadable_policy_says_how_to_create_one() {
    let err = Policy::load(
        Path::new("/nonexistent/policy.toml"),
        Path::new("/nonexistent"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("agentward init DIR"), "{err}");
}

#[test]
fn a_pinned_component_reads_both_ways_and_a_typo_in_it_gets_the_closest_name() {
    let digest = "ab".repeat(32);
    let policy = parse(&format!(
        "[roles.planner]\ncomponent = {{ name = \"planner\", sha256 = \"{digest}\" }}\n"
    ))
    .unwrap();
    let planner = &policy.roles[&RoleName::Planner];
    assert_eq!(
        (planner.component.as_str(), planner.sha256.as_deref()),
        ("planner", Some(digest.as_str()))
    );
    let message = error(&format!(
        "[roles.planner]\ncomponent = {{ name = \"planner\", sha265 = \"{digest}\" }}\n"
    ));
    assert!(message.contains("did you mean `sha256`"), "{message}");
}
