//! The `model` capability against a real model server: llama.cpp's
//! OpenAI-compatible server serving SmolLM2-135M-Instruct on 127.0.0.1
//! (tests/support/llama.rs).
//!
//! A completion round-trips through a role with everything on record; a
//! prompt carrying a handle or an encoded secret is refused and nothing
//! reaches the server; budgets stop a looping role; a server that is down
//! and a model the server does not serve are clear errors; policy typos
//! are refused at load.

mod support;

use agentward::audit::Decision;
use agentward::policy::{Policy, RoleName};
use serde_json::{json, Value};
use support::llama::LlamaServer;
use support::Harness;

const CANARY: &str = "npm_CANARY_model_5f1e9c7d2b4a";
const ROLE: RoleName = RoleName::Researcher;

fn grant(server: &LlamaServer, extra: &str) -> String {
    format!(
        "model = {{ endpoint = \"{}\", model = \"{}\", structured = \"json_object\"{extra} }}",
        server.endpoint(),
        server.alias
    )
}

fn policy(h: &Harness, component: &str, grants: &str) -> Policy {
    h.role_policy(
        "researcher",
        component,
        &format!("log = {{}}\n{grants}"),
        "wall_ms = 120_000",
    )
}

fn output(h: &Harness, policy: &Policy, input: &Value) -> Value {
    let outcome = h
        .run(policy, ROLE, &input.to_string())
        .unwrap_or_else(|e| panic!("the role runs: {e}"));
    serde_json::from_str(&outcome.report.output).unwrap()
}

fn model_events(h: &Harness) -> Vec<agentward::audit::CallEvent> {
    h.events()
        .into_iter()
        .filter(|e| e.call == "model.complete" && e.outcome != agentward::audit::INTENT)
        .collect()
}

fn ask(prompt: &str, max_tokens: u32) -> Value {
    json!({ "messages": [["user", prompt]], "max_tokens": max_tokens })
}

#[test]
fn a_completion_round_trips_through_a_role_and_is_on_record() {
    let server = LlamaServer::start("smollm2-135m");
    let h = Harness::new();
    let p = policy(&h, "model-client", &grant(&server, ", transcripts = true"));
    let schema = r#"{"type":"object","properties":{"risk":{"type":"string"}},"required":["risk"]}"#;
    let out = output(
        &h,
        &p,
        &json!({ "requests": [
            ask("Name one risk of a leaked npm token, in five words.", 24),
            { "messages": [["system", "Answer in JSON."], ["user", "One risk of a leaked token?"]],
              "max_tokens": 48, "schema": schema },
        ]}),
    );
    let plain = &out["outcomes"][0];
    assert!(plain["error"].is_null(), "{plain}");
    assert!(
        !plain["text"].as_str().unwrap().trim().is_empty(),
        "{plain}"
    );
    assert_eq!(plain["model"], "smollm2-135m");
    assert!(plain["tokens_in"].as_u64().unwrap() > 5, "{plain}");
    let out_tokens = plain["tokens_out"].as_u64().unwrap();
    assert!((1..=24).contains(&out_tokens), "{plain}");
    assert!(["stop", "length"].contains(&plain["finish_reason"].as_str().unwrap()));
    // Structured output: the server held the completion to the schema.
    let structured: Value = serde_json::from_str(out["outcomes"][1]["text"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out["outcomes"][1]));
    assert!(structured["risk"].is_string(), "{structured}");
    assert_eq!(server.completions(), 2);

    let events = model_events(&h);
    assert_eq!(events.len(), 2);
    let first = &events[0];
    assert_eq!(first.decision, Decision::Allow);
    assert_eq!(first.outcome, "ok");
    assert_eq!(first.args["model"], "smollm2-135m");
    assert_eq!(first.args["endpoint"], server.endpoint().as_str());
    assert_eq!(first.args["tokens_out"], plain["tokens_out"]);
    assert_eq!(first.args["served_model"], "smollm2-135m");
    for field in ["request_sha256", "response_sha256"] {
        assert_eq!(first.args[field].as_str().unwrap().len(), 64, "{field}");
    }
    assert!(first.args["latency_ms"].as_f64().unwrap() > 0.0);
    // The intent went on record before the prompt left.
    let intents = h
        .events()
        .into_iter()
        .filter(|e| e.call == "model.complete" && e.outcome == agentward::audit::INTENT)
        .count();
    assert_eq!(intents, 2);

    // The transcript holds both exchanges, and the record its digest.
    let file = h
        .dir
        .path()
        .join("logs/transcripts/01JTESTCHANGE0000000000000/researcher.jsonl");
    let transcript = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = transcript
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["completion"], plain["text"]);
    assert_eq!(lines[1]["messages"][0]["role"], "system");
    use sha2::Digest;
    assert_eq!(
        events[1].args["transcript_sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(transcript.as_bytes()))
    );
}

#[test]
fn a_prompt_with_a_handle_or_an_encoded_secret_never_reaches_the_server() {
    let server = LlamaServer::start("smollm2-135m");
    let h = Harness::new();
    h.seed("npm/token", CANARY);
    let model = grant(&server, "");

    let p = policy(
        &h,
        "hostile-prompt-handle",
        &format!("handles = {{ paths = [\"npm/**\"] }}\n{model}"),
    );
    let out = output(&h, &p, &json!("npm/token"));
    for (attempt, place) in [
        ("user", "message 1 (user)"),
        ("system", "message 1 (system)"),
        ("stop", "a stop sequence or the json-schema"),
    ] {
        let tried = &out[attempt];
        assert_eq!(tried["sent"], false, "{attempt}: {tried}");
        let message = tried["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{place} holds a handle to secret `npm/token`")),
            "{attempt}: {message}"
        );
        assert!(
            message.contains("line "),
            "names the grant's line: {message}"
        );
    }

    let p = policy(
        &h,
        "hostile-prompt-base64",
        &format!("secrets-read = {{ paths = [\"npm/**\"] }}\n{model}"),
    );
    let out = output(&h, &p, &json!("npm/token"));
    for (attempt, encoding) in [
        ("base64", "(base64"),
        ("hex", "(hex-encoded)"),
        ("percent", "(URL-encoded)"),
    ] {
        let tried = &out[attempt];
        assert_eq!(tried["sent"], false, "{attempt}: {tried}");
        let message = tried["message"].as_str().unwrap();
        assert!(
            message.contains("message 1 (user) holds a secret value this run has touched")
                && message.contains(encoding),
            "{attempt}: {message}"
        );
    }

    // Nothing arrived: not the prompts, not even the model list.
    assert_eq!(server.completions(), 0, "{}", server.log());
    let log = server.log();
    assert!(!log.contains("/v1/models\""), "{log}");
    // Refused on record, with no value in any record.
    let events = model_events(&h);
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|e| e.decision == Decision::Deny));
    let recorded = serde_json::to_string(&h.events()).unwrap();
    assert!(!recorded.contains(CANARY));
    assert!(!recorded.contains(&hex::encode(CANARY)));
    assert!(!log.contains(CANARY));
}

#[test]
fn budgets_stop_a_role_that_loops_on_the_model() {
    let server = LlamaServer::start("smollm2-135m");
    let h = Harness::new();
    let p = policy(&h, "hostile-model-loop", &grant(&server, ", max_calls = 3"));
    let out = output(&h, &p, &json!({ "max_tokens": 2 }));
    assert_eq!(out["answered"], 3, "{out}");
    let stopped = out["stopped_by"].as_str().unwrap();
    assert!(
        stopped.contains("role researcher may not consult the model more than 3 times in one run (max_calls = 3)")
            && stopped.contains("max_calls = 4"),
        "{stopped}"
    );
    assert_eq!(server.completions(), 3);

    let h = Harness::new();
    let p = policy(
        &h,
        "hostile-model-loop",
        &grant(&server, ", max_tokens_per_run = 100"),
    );
    let out = output(&h, &p, &json!({ "max_tokens": 40 }));
    let stopped = out["stopped_by"].as_str().unwrap();
    assert!(
        stopped.contains("(max_tokens_per_run = 100)") && stopped.contains("role researcher"),
        "{stopped}"
    );
    let spent: u64 = model_events(&h)
        .iter()
        .filter(|e| e.decision == Decision::Allow)
        .map(|e| e.args["tokens_in"].as_u64().unwrap() + e.args["tokens_out"].as_u64().unwrap())
        .sum();
    assert!(spent <= 100, "spent {spent} tokens");
    assert!(out["answered"].as_u64().unwrap() >= 1, "{out}");
}

#[test]
fn a_server_that_is_down_and_a_model_it_does_not_serve_are_clear_errors() {
    let h = Harness::new();
    let port = support::openbao::free_port();
    let p = policy(
        &h,
        "model-client",
        &format!(
            "model = {{ endpoint = \"http://127.0.0.1:{port}/v1\", model = \"smollm2-135m\" }}"
        ),
    );
    let out = output(&h, &p, &json!({ "requests": [ask("hi", 4)] }));
    let down = &out["outcomes"][0];
    assert_eq!(down["error"], "unavailable", "{down}");
    let message = down["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "model endpoint http://127.0.0.1:{port}/v1 is unreachable"
        )) && message.contains("fix: start the model server"),
        "{message}"
    );
    // The intent and the failure are both on record.
    assert_eq!(
        h.events()
            .iter()
            .filter(|e| e.call == "model.complete")
            .count(),
        2
    );

    let server = LlamaServer::start("smollm2-135m");
    let h = Harness::new();
    let p = policy(
        &h,
        "model-client",
        &format!(
            "model = {{ endpoint = \"{}\", model = \"gpt-9\" }}",
            server.endpoint()
        ),
    );
    let out = output(&h, &p, &json!({ "requests": [ask("hi", 4)] }));
    let unknown = &out["outcomes"][0];
    assert_eq!(unknown["error"], "invalid", "{unknown}");
    let message = unknown["message"].as_str().unwrap();
    assert!(
        message.contains("does not serve `gpt-9` (model at line")
            && message.contains("it serves: smollm2-135m"),
        "{message}"
    );
    assert_eq!(
        server.completions(),
        0,
        "the server answers any name: the host asked first"
    );
}

#[test]
fn policy_mistakes_are_refused_at_load_with_the_fix() {
    let h = Harness::new();
    for (grant, says) in [
        (
            "model = { endpoint = \"http://127.0.0.1:8081/v1\" }",
            "names both `endpoint` and `model`, or neither",
        ),
        (
            "model = { endpoint = \"http://models.example.com/v1\", model = \"m\" }",
            "plain http to `models.example.com` would send prompts and the API key unencrypted",
        ),
        (
            "model = { endpoint = \"ftp://127.0.0.1/v1\", model = \"m\" }",
            "invalid model endpoint `ftp://127.0.0.1/v1`",
        ),
        (
            "model = { endpoint = \"http://127.0.0.1:8081/v1\", model = \"m\", max_call = 3 }",
            "max_call",
        ),
    ] {
        let path = h.policy_path();
        std::fs::write(
            &path,
            format!("[roles.researcher]\ncomponent = \"model-client\"\n\n[roles.researcher.grants]\n{grant}\n"),
        )
        .unwrap();
        let error = Policy::load(&path, h.dir.path()).unwrap_err().to_string();
        assert!(error.contains(says), "{grant}: {error}");
        assert!(error.contains("test.toml:5:"), "{grant}: {error}");
    }

    // `model = {}` links the interface and reaches nothing.
    let p = policy(&h, "model-client", "model = {}");
    let out = output(&h, &p, &json!({ "requests": [ask("hi", 4)] }));
    let message = out["outcomes"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("role researcher may not consult a model (its grant names no endpoint)")
            && message.contains(
                "model = { endpoint = \"http://127.0.0.1:8081/v1\", model = \"smollm2-135m\" }"
            ),
        "{message}"
    );
}

/// `model` came with `agentward:host@0.1.1`: a role built against 0.1.0
/// (tests/guests/wit-0-1-0, its own copy of that WIT) still links and runs.
#[test]
fn a_role_built_against_wit_0_1_0_still_runs() {
    let h = Harness::new();
    std::fs::write(
        h.dir.path().join("docs/tokens.md"),
        "# Tokens\n\nRotate npm tokens monthly.\n",
    )
    .unwrap();
    let p = h.role_policy(
        "researcher",
        "wit-0-1-0",
        "log = {}\ndocs = { dir = \"docs\" }",
        "",
    );
    let outcome = h
        .run(&p, ROLE, "npm tokens")
        .unwrap_or_else(|e| panic!("a 0.1.0 role runs: {e}"));
    assert_eq!(outcome.report.summary, "found tokens.md");
    let logged: Vec<_> = h
        .events()
        .into_iter()
        .filter(|e| e.call == "log.log")
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        logged[0].args["message"],
        "built against 0.1.0, found tokens.md"
    );
}
