//! A mediated `model.complete` against the same request sent by the host
//! directly: `cargo bench --bench model`.
//!
//! - end to end per completion: `(t(N) − t(0)) / N` over runs of the
//!   `model-client` guest through `Host::run` (the grant's `GET /models`
//!   check once per run, budgets, the prompt's exposure scan, audit intent
//!   and outcome into a `MemorySink`, the request, the completion scrubbed)
//!   versus the same chat-completions body POSTed by the host with ureq,
//!   one after another to the same llama.cpp server (tests/support/llama.rs:
//!   SmolLM2-135M-Instruct on 127.0.0.1). Same prompt, temperature 0 and
//!   `max_tokens`, so both sides make the model do the same work; subject
//!   and baseline alternate.
//! - the model's speed on this machine: completion tokens per second of a
//!   64-token answer, end to end, from the host directly.
//!
//! About a minute. Needs scripts/install-llama.sh (`make setup`). With
//! `AGENTWARD_BENCH_OUT` set, the rows go to scripts/bench.sh's report.

#[allow(dead_code)] // the tests' helpers beside the server
#[path = "../../tests/support/llama.rs"]
mod llama;
#[path = "../../tests/support/openbao.rs"]
mod openbao;
mod report;
#[path = "../../tests/support/tls.rs"]
mod tls;

use agentward::audit::{MemorySink, Redactor};
use agentward::capabilities::Task;
use agentward::policy::{Policy, RoleName};
use agentward::runtime::{Host, HostConfig};
use agentward::store::MemoryStore;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AREA: &str = "9 model";
const CALLS: usize = 4;
const REPS: usize = 9;
const MAX_TOKENS: u32 = 16;
const PROMPT: &str = "Name one risk of rotating an npm token used by CI, in one sentence.";
const TARGET: f64 = 1.05;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// The body the host sends for `prompt`: what `model.complete` sends for
/// one user message at temperature 0 without a schema.
fn body(alias: &str, prompt: &str, max_tokens: u32) -> Value {
    json!({
        "model": alias,
        "messages": [{ "role": "user", "content": prompt }],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": false,
    })
}

/// POSTs `body` from the host: the completion's token count.
fn direct(agent: &ureq::Agent, url: &str, body: &Value) -> u64 {
    let mut answer = agent
        .post(url)
        .header("content-type", "application/json")
        .send(&serde_json::to_vec(body).unwrap()[..])
        .expect("the server answers");
    let text = answer.body_mut().read_to_string().expect("an answer");
    let answer: Value = serde_json::from_str(&text).expect("a JSON answer");
    answer["usage"]["completion_tokens"]
        .as_u64()
        .expect("token usage")
}

fn main() {
    let server = llama::LlamaServer::start("smollm2-135m");
    let project = tempfile::tempdir().unwrap();
    let host = Host::new(
        HostConfig::new(project.path()),
        Arc::new(MemorySink::new()),
        Arc::new(MemoryStore::new()),
        Arc::new(Redactor::new([7; 32])),
    )
    .expect("host");
    let policy = Policy::parse(
        &project.path().join("bench.toml"),
        &format!(
            "[roles.researcher]\ncomponent = \"model-client\"\n\
             limits = {{ wall_ms = 600_000 }}\n\n\
             [roles.researcher.grants]\n\
             model = {{ endpoint = \"{}\", model = \"{}\", max_calls = 1000, max_tokens_per_run = 1_000_000 }}\n",
            server.endpoint(),
            server.alias
        ),
        project.path(),
    )
    .expect("bench policy");
    let prepared = host
        .prepare(&policy, RoleName::Researcher)
        .expect("prepares");
    let run = |n: usize| {
        let requests: Vec<Value> = (0..n)
            .map(|_| json!({ "messages": [["user", PROMPT]], "max_tokens": MAX_TOKENS }))
            .collect();
        let task = Task {
            change_id: String::new(),
            input: json!({ "requests": requests }).to_string(),
        };
        time(|| {
            let outcome = host.run(&prepared, &task).expect("model-client runs");
            assert!(
                !outcome.report.output.contains("\"error\":\""),
                "a mediated completion failed: {}",
                outcome.report.output
            );
        })
    };
    let agent = ureq::Agent::new_with_defaults();
    let url = format!("{}/chat/completions", server.endpoint());
    let request = body(&server.alias, PROMPT, MAX_TOKENS);

    // Warm up: the model's weights in memory, code pages, pool slots.
    run(1);
    direct(&agent, &url, &request);

    let models = format!("{}/models", server.endpoint());
    let (mut mediated, mut bare, mut listing) = (Vec::new(), Vec::new(), Vec::new());
    let direct_side = || {
        time(|| {
            (0..CALLS).for_each(|_| {
                direct(&agent, &url, &request);
            })
        }) / CALLS as u32
    };
    for rep in 0..REPS {
        // Alternate which side goes first: the server warms to each.
        if rep % 2 == 1 {
            bare.push(direct_side());
        }
        let with = run(CALLS);
        let without = run(0);
        mediated.push(with.saturating_sub(without) / CALLS as u32);
        if rep % 2 == 0 {
            bare.push(direct_side());
        }
        listing.push(time(|| {
            agent.get(&models).call().expect("the model list");
        }));
    }
    let (mediated, bare, listing) = (median(mediated), median(bare), median(listing));
    let ratio = mediated.as_secs_f64() / bare.as_secs_f64();

    let long = body(
        &server.alias,
        "Write a short paragraph on why credentials should be rotated.",
        64,
    );
    let (mut tokens, mut spent) = (0, Duration::ZERO);
    for _ in 0..3 {
        let started = Instant::now();
        tokens += direct(&agent, &url, &long);
        spent += started.elapsed();
    }
    let per_second = tokens as f64 / spent.as_secs_f64();

    let label = format!(
        "mediated `model.complete` (`Host::run` of `model-client`, per completion, {MAX_TOKENS} tokens) \
         vs the same request POSTed by the host directly, SmolLM2-135M on llama.cpp"
    );
    let shown = format!("{ratio:.3}×");
    println!("| comparison | subject | baseline | ratio |\n| --- | ---: | ---: | ---: |");
    println!("| {label} | {} | {} | {shown} |", ms(mediated), ms(bare));
    report::row(AREA, &label, &ms(mediated), &ms(bare), &shown);
    report::target(
        AREA,
        &format!("mediated `model.complete` ≤ {TARGET}× the same request from the host"),
        &shown,
        ratio <= TARGET,
    );
    report::detail(
        AREA,
        &format!(
            "- {CALLS} completions per run, median of {REPS} runs, the two sides alternating which \
             goes first; the mediated side adds {} per completion. Of that, the grant's `GET /models` \
             check, made once per run, is {} ({} a completion here); the rest is the exposure scan, \
             the audit intent and outcome, and a connection per call pinned to the address the \
             egress check resolved (the direct side keeps one connection alive).\n\
             - The test model on this machine: {per_second:.1} completion tokens/s end to end \
             ({tokens} tokens in {:.2} s over three 64-token answers, prompt included).",
            ms(mediated.saturating_sub(bare)),
            ms(listing),
            ms(listing / CALLS as u32),
            spent.as_secs_f64()
        ),
    );
}
