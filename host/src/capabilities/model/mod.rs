//! `model`: a language model, at the endpoint and under the model name the
//! policy gives the role, over the OpenAI-compatible chat-completions API.
//!
//! What a role can do with a model is what the grant allows, and no more:
//!
//! * the endpoint and model are the policy's, not the role's: changing a
//!   role's model is a policy edit, and the audit record of every call
//!   names both;
//! * the endpoint's API key is a secret path in the grant (`api_key`); the
//!   host reads it and adds the header itself, so no role ever holds it;
//! * a prompt carrying a secret value the run touched, a live handle, or
//!   either of them encoded is refused before it leaves the host
//!   ([`exposure`]); the denial names the message and the byte, never the
//!   value. The completion is scrubbed before the role sees it;
//! * calls and tokens are budgeted per run (`max_calls`,
//!   `max_tokens_per_run`); going over is a denial naming the key;
//! * the endpoint goes through the same egress check as `http` (its name
//!   is resolved by the host, internal addresses only when named) and TLS
//!   with the public roots plus the grant's `ca_files`;
//! * the model must be one the endpoint lists (`GET …/models`, asked once
//!   per run): servers that answer under any name would otherwise hide a
//!   typo in the policy.
//!
//! Every call is recorded with the sha256 of what was sent and what came
//! back, the token counts, the model, the latency and the decision; with
//! `transcripts = true` the scrubbed prompt and completion also go to a
//! transcript file whose digest is in the record ([`transcript`]).
//!
//! In a dry run the model is called as in a live run: a prompt changes
//! nothing, the output is advice, and CI then rehearses the prompts a live
//! run would send (docs/policy.md).

mod chat;
mod exposure;
mod transcript;

pub use chat::Structured;

use super::bindings::agentward::host::{
    model::{self, Completion, Request},
    types::Error,
};
use super::mediation::{mediate_until_deadline, CallContext, HostCall, RoleBinding};
use crate::audit::Args;
use crate::net::egress::{self, EgressError};
use crate::net::tls::{tls_refusal, TlsClient};
use crate::policy::error_fix;
use crate::store::Label;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use toml::Spanned;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawModelGrant")]
pub struct ModelGrant {
    /// The API's base URL (`…/v1`), without a trailing slash; `None` for
    /// `model = {}`, which links the interface and reaches nothing.
    endpoint: Option<url::Url>,
    model: String,
    api_key: Option<String>,
    max_calls: u32,
    max_tokens_per_run: u64,
    timeout_ms: u64,
    transcripts: bool,
    structured: Structured,
    ca_files: Vec<Spanned<String>>,
    tls: TlsClient,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelGrant {
    endpoint: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    #[serde(default = "default_max_calls")]
    max_calls: u32,
    #[serde(default = "default_max_tokens_per_run")]
    max_tokens_per_run: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    transcripts: bool,
    #[serde(default = "default_structured")]
    structured: Structured,
    #[serde(default)]
    ca_files: Vec<Spanned<String>>,
}

fn default_max_calls() -> u32 {
    20
}

fn default_max_tokens_per_run() -> u64 {
    8000
}

fn default_timeout_ms() -> u64 {
    60_000
}

fn default_structured() -> Structured {
    Structured::JsonSchema
}

const EXAMPLE: &str =
    "model = { endpoint = \"http://127.0.0.1:8081/v1\", model = \"smollm2-135m\" }";

impl TryFrom<RawModelGrant> for ModelGrant {
    type Error = String;

    fn try_from(raw: RawModelGrant) -> Result<Self, String> {
        let endpoint = match (&raw.endpoint, &raw.model) {
            (None, None) => None,
            (Some(endpoint), Some(_)) => Some(parse_endpoint(endpoint)?),
            _ => {
                return Err(error_fix(
                    "a model grant names both `endpoint` and `model`, or neither".into(),
                    &format!("write it as {EXAMPLE}"),
                ))
            }
        };
        if raw.max_calls == 0 || raw.max_tokens_per_run == 0 {
            return Err(error_fix(
                "`max_calls` and `max_tokens_per_run` of a model grant must be at least 1".into(),
                "to take a role's model away, remove `endpoint` and `model` (model = {})",
            ));
        }
        Ok(ModelGrant {
            endpoint,
            model: raw.model.unwrap_or_default(),
            api_key: raw.api_key,
            max_calls: raw.max_calls,
            max_tokens_per_run: raw.max_tokens_per_run,
            timeout_ms: raw.timeout_ms,
            transcripts: raw.transcripts,
            structured: raw.structured,
            ca_files: raw.ca_files,
            tls: TlsClient::default(),
        })
    }
}

/// The endpoint as written, or an error with its fix: an http(s) base URL
/// with no query, and plain http only to loopback.
fn parse_endpoint(written: &str) -> Result<url::Url, String> {
    let invalid = || {
        error_fix(
            format!("invalid model endpoint `{written}`"),
            "write the API's base URL, e.g. \"https://api.example.com/v1\" or \"http://127.0.0.1:8081/v1\"",
        )
    };
    let mut url = url::Url::parse(written).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid());
    }
    if url.scheme() == "http" && !super::http::is_loopback_host(&url) {
        let host = url.host_str().unwrap_or_default();
        return Err(error_fix(
            format!("plain http to `{host}` would send prompts and the API key unencrypted"),
            &format!(
                "use \"{}\"; plain http is allowed only to 127.0.0.1, [::1] or localhost",
                written.replacen("http://", "https://", 1)
            ),
        ));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

impl ModelGrant {
    /// Loads the `ca_files` (relative to `project`) into this grant's TLS
    /// client; on failure the byte offset of the bad entry and the fix.
    pub(crate) fn load_trust(&mut self, project: &Path) -> Result<(), (usize, String)> {
        if let Some(tls) = super::ca_files::tls_client(&self.ca_files, project)? {
            self.tls = tls;
        }
        Ok(())
    }

    /// The secret path the host reads the API key from, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// The model the grant names (empty for `model = {}`).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The grant as a policy line, for a denial's fix.
    fn render(&self) -> String {
        let Some(endpoint) = &self.endpoint else {
            return EXAMPLE.to_string();
        };
        let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut line = format!(
            "model = {{ endpoint = {}, model = {}",
            quoted(endpoint.as_str()),
            quoted(&self.model)
        );
        if let Some(key) = &self.api_key {
            line.push_str(&format!(", api_key = {}", quoted(key)));
        }
        line.push_str(&format!(
            ", max_calls = {}, max_tokens_per_run = {}, timeout_ms = {}",
            self.max_calls, self.max_tokens_per_run, self.timeout_ms
        ));
        if self.transcripts {
            line.push_str(", transcripts = true");
        }
        if self.structured != Structured::JsonSchema {
            line.push_str(&format!(
                ", structured = {}",
                quoted(self.structured.name())
            ));
        }
        if !self.ca_files.is_empty() {
            let files = super::ca_files::names(&self.ca_files);
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            line.push_str(&format!(
                ", ca_files = {}",
                super::path_scope::toml_list(&files)
            ));
        }
        line.push_str(" }");
        line
    }

    fn url(&self, tail: &str) -> String {
        let endpoint = self.endpoint.as_ref().expect("checked");
        format!("{}/{tail}", endpoint.as_str().trim_end_matches('/'))
    }
}

/// What a run has spent of its model budget, and what the endpoint serves.
#[derive(Default)]
pub struct ModelUsage {
    calls: u32,
    tokens: u64,
    /// The endpoint's model list, asked for at the first call of the run.
    served: Option<Vec<String>>,
}

const ROLES: [&str; 3] = ["system", "user", "assistant"];

struct Complete {
    request: Request,
    /// Set by `admit`: the one address to dial.
    addr: Option<SocketAddr>,
}

fn grant_of(binding: &RoleBinding) -> &Spanned<ModelGrant> {
    binding
        .grants
        .model
        .as_ref()
        .expect("model is linked only when granted")
}

impl HostCall for Complete {
    type Output = Completion;

    fn call(&self) -> &'static str {
        "model.complete"
    }

    fn effectful(&self) -> bool {
        true
    }

    fn audit_args(&mut self, ctx: &CallContext) -> Args {
        let g = grant_of(&ctx.binding).get_ref();
        let mut args = Args::new();
        args.insert("model", json!(g.model));
        args.insert("endpoint", json!(g.endpoint.as_ref().map(url::Url::as_str)));
        let roles: Vec<&str> = self
            .request
            .messages
            .iter()
            .map(|m| m.role.as_str())
            .collect();
        args.insert("messages", json!(roles));
        let prompt_bytes: usize = self.request.messages.iter().map(|m| m.content.len()).sum();
        args.insert("prompt_bytes", json!(prompt_bytes));
        args.insert("max_tokens", json!(self.request.max_tokens));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        let grant = grant_of(binding);
        let g = grant.get_ref();
        if g.endpoint.is_none() {
            return Err(binding.deny(
                grant,
                "consult a model (its grant names no endpoint)".into(),
                EXAMPLE.into(),
            ));
        }
        let r = &self.request;
        if r.messages.is_empty() {
            return Err(Error::Invalid(
                "a model request needs at least one message".into(),
            ));
        }
        if let Some(bad) = r
            .messages
            .iter()
            .find(|m| !ROLES.contains(&m.role.as_str()))
        {
            return Err(Error::Invalid(format!(
                "message role `{}` is not one of: {}",
                bad.role,
                ROLES.join(", ")
            )));
        }
        if r.max_tokens == 0 {
            return Err(Error::Invalid("max-tokens must be at least 1".into()));
        }
        if !(0.0..=2.0).contains(&r.temperature) {
            return Err(Error::Invalid(format!(
                "temperature {} is outside 0.0 to 2.0",
                r.temperature
            )));
        }
        if let Some(schema) = &r.json_schema {
            serde_json::from_str::<Value>(schema)
                .map_err(|e| Error::Invalid(format!("json-schema is not JSON: {e}")))?;
        }
        if u64::from(r.max_tokens) > g.max_tokens_per_run {
            let mut wider = g.clone();
            wider.max_tokens_per_run = r.max_tokens.into();
            return Err(binding.deny(
                grant,
                format!(
                    "ask for {} tokens (max_tokens_per_run = {})",
                    r.max_tokens, g.max_tokens_per_run
                ),
                wider.render(),
            ));
        }
        Ok(())
    }

    fn admit(&mut self, ctx: &CallContext, audit: &mut Args) -> Result<(), Error> {
        let binding = &ctx.binding;
        let grant = grant_of(binding);
        let g = grant.get_ref();
        let usage = &ctx.model;
        if usage.calls >= g.max_calls {
            let mut wider = g.clone();
            wider.max_calls = usage.calls + 1;
            return Err(binding.deny(
                grant,
                format!(
                    "consult the model more than {} times in one run (max_calls = {})",
                    g.max_calls, g.max_calls
                ),
                wider.render(),
            ));
        }
        let wanted = usage.tokens + u64::from(self.request.max_tokens);
        if wanted > g.max_tokens_per_run {
            let mut wider = g.clone();
            wider.max_tokens_per_run = wanted;
            return Err(binding.deny(
                grant,
                format!(
                    "ask for {} more tokens after {} in this run (max_tokens_per_run = {})",
                    self.request.max_tokens, usage.tokens, g.max_tokens_per_run
                ),
                wider.render(),
            ));
        }
        self.refuse_exposure(ctx, grant)?;
        audit.insert(
            "request_sha256",
            json!(hex::encode(Sha256::digest(self.prompt_json().as_bytes()))),
        );
        let endpoint = g.endpoint.as_ref().expect("checked");
        let host = endpoint.host().expect("checked");
        let port = endpoint
            .port_or_known_default()
            .expect("http(s) has a port");
        let addr = egress::choose(&host, port, binding.resolver.as_ref(), |a| {
            super::http::url_names_address(endpoint, a)
        })
        .map_err(|e| match e {
            EgressError::Internal { addr, range } => {
                audit.insert("address", json!(addr.to_string()));
                binding.refuse(
                    grant,
                    format!("consult the model at {endpoint}"),
                    &format!(
                        "its name resolves to {addr}, a {range} address, which a grant reaches only by naming it: write the endpoint with the address"
                    ),
                )
            }
            EgressError::Unresolved { host, reason } => Error::Unavailable(format!(
                "model endpoint {endpoint}: cannot resolve {host}: {reason}"
            )),
        })?;
        audit.insert("address", json!(addr.to_string()));
        self.addr = Some(addr);
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<Completion, Error> {
        let binding = ctx.binding.clone();
        let grant = grant_of(&binding);
        let g = grant.get_ref();
        let addr = self.addr.expect("admitted");
        let agent = g
            .tls
            .pinned_agent(addr, Duration::from_millis(g.timeout_ms));
        // A call that reaches for the endpoint counts, answered or not, so
        // a role looping on failures still stops at its budget.
        ctx.model.calls += 1;
        let key = match g.api_key.as_deref() {
            None => None,
            Some(path) => {
                let value = ctx.store.read(path, Label::Current).map_err(|e| {
                    Error::Unavailable(format!(
                        "the model's API key `{path}` (api_key at line {} of {}) could not be read: {e}",
                        crate::policy::line_of(&binding.policy_source, grant.span().start),
                        binding.policy_path.display()
                    ))
                })?;
                ctx.remember_secret(&value);
                Some(value)
            }
        };
        let deadline = ctx.deadline;
        let fetch = |method: &str, url: &str, body: Option<Vec<u8>>| {
            // Each request waits its own timeout, but none past the run's
            // deadline.
            let timeout = deadline.cap(Duration::from_millis(g.timeout_ms));
            send(
                &agent,
                timeout,
                method,
                url,
                key.as_ref().map(|k| k.expose()),
                body,
            )
            .map_err(|e| describe(&binding, grant, e))
        };
        if ctx.model.served.is_none() {
            let (status, body) = fetch("GET", &g.url("models"), None)?;
            if status == 200 {
                let served = chat::parse_models(&body).map_err(|e| {
                    Error::Unavailable(format!("model endpoint {}: {e}", g.url("models")))
                })?;
                ctx.model.served = Some(served);
            } else {
                // An endpoint without a model list: nothing to check against.
                ctx.model.served = Some(Vec::new());
            }
        }
        let served = ctx.model.served.as_deref().unwrap_or_default();
        if !served.is_empty() && !served.iter().any(|m| m == &g.model) {
            return Err(Error::Invalid(format!(
                "model endpoint {} does not serve `{}` (model at line {} of {}); it serves: {}",
                g.endpoint.as_ref().expect("checked"),
                g.model,
                crate::policy::line_of(&binding.policy_source, grant.span().start),
                binding.policy_path.display(),
                served.join(", ")
            )));
        }
        let schema = self
            .request
            .json_schema
            .as_deref()
            .map(|s| serde_json::from_str(s).expect("checked"));
        let ask = chat::Ask {
            model: &g.model,
            messages: self
                .request
                .messages
                .iter()
                .map(|m| chat::Message {
                    role: &m.role,
                    content: &m.content,
                })
                .collect(),
            max_tokens: self.request.max_tokens,
            temperature: self.request.temperature,
            stop: &self.request.stop,
            schema,
            structured: g.structured,
        };
        let body = serde_json::to_vec(&ask.body()).expect("a JSON value serialises");
        let started = Instant::now();
        let (status, answer) = fetch("POST", &g.url("chat/completions"), Some(body))?;
        let latency = started.elapsed();
        audit.insert("status", json!(status));
        audit.insert(
            "latency_ms",
            json!((latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
        );
        if status != 200 {
            let why = chat::error_message(&answer).unwrap_or_default();
            return Err(Error::Unavailable(ctx.scrub(&format!(
                "model endpoint {} answered {status}: {why}",
                g.url("chat/completions")
            ))));
        }
        let answer = chat::parse_answer(&answer).map_err(|e| {
            Error::Unavailable(format!("model endpoint {}: {e}", g.url("chat/completions")))
        })?;
        ctx.model.tokens += u64::from(answer.tokens_in) + u64::from(answer.tokens_out);
        let text = ctx.scrub(&answer.text);
        audit.insert(
            "response_sha256",
            json!(hex::encode(Sha256::digest(text.as_bytes()))),
        );
        audit.insert("tokens_in", json!(answer.tokens_in));
        audit.insert("tokens_out", json!(answer.tokens_out));
        audit.insert("served_model", json!(answer.model));
        audit.insert("finish_reason", json!(answer.finish_reason));
        if g.transcripts {
            let file = transcript::path(
                &binding.project_dir,
                &ctx.caller.change_id,
                binding.role.as_str(),
            );
            let messages: Vec<Value> = self
                .request
                .messages
                .iter()
                .map(|m| json!({ "role": m.role, "content": ctx.scrub(&m.content) }))
                .collect();
            let entry = json!({
                "ts": crate::time::now_rfc3339(),
                "role": binding.role.as_str(),
                "endpoint": g.endpoint.as_ref().map(url::Url::as_str),
                "model": g.model,
                "messages": messages,
                "completion": text,
                "tokens_in": answer.tokens_in,
                "tokens_out": answer.tokens_out,
                "finish_reason": answer.finish_reason,
            });
            let digest = transcript::append(&file, &entry).map_err(|e| {
                Error::Unavailable(format!(
                    "writing the transcript {}: {e}; the completion was withheld",
                    file.display()
                ))
            })?;
            audit.insert("transcript", json!(file.display().to_string()));
            audit.insert("transcript_sha256", json!(digest));
        }
        Ok(Completion {
            text,
            tokens_in: answer.tokens_in,
            tokens_out: answer.tokens_out,
            model: answer.model,
            finish_reason: answer.finish_reason,
        })
    }
}

impl Complete {
    /// The prompt as the role wrote it, for its digest.
    fn prompt_json(&self) -> String {
        let messages: Vec<Value> = self
            .request
            .messages
            .iter()
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        json!({
            "messages": messages,
            "max_tokens": self.request.max_tokens,
            "temperature": self.request.temperature,
            "stop": self.request.stop,
            "json_schema": self.request.json_schema,
        })
        .to_string()
    }

    /// Refuses a prompt that carries a secret value the run touched or a
    /// live handle, in any encoding the scan knows.
    fn refuse_exposure(&self, ctx: &CallContext, grant: &Spanned<ModelGrant>) -> Result<(), Error> {
        let mut needles: Vec<exposure::Needle<'_>> = ctx
            .handles
            .live()
            .map(|(token, path)| exposure::Needle {
                bytes: token.as_bytes(),
                what: format!("a handle to secret `{path}`"),
            })
            .collect();
        needles.extend(ctx.seen_secrets.iter().map(|value| exposure::Needle {
            bytes: value.expose().as_bytes(),
            what: "a secret value this run has touched".into(),
        }));
        let stop = self.request.stop.iter().map(String::as_str);
        let schema = self.request.json_schema.as_deref().into_iter();
        let contents = self
            .request
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .chain(stop)
            .chain(schema);
        let Some(found) = exposure::find(contents, &needles) else {
            return Ok(());
        };
        let messages = self.request.messages.len();
        let place = if found.message < messages {
            format!(
                "message {} ({})",
                found.message + 1,
                self.request.messages[found.message].role
            )
        } else {
            "a stop sequence or the json-schema".to_string()
        };
        Err(ctx.binding.refuse(
            grant,
            "send this prompt to the model".into(),
            &format!(
                "{place} holds {} ({}) at byte {}; a prompt leaves the host, so it may carry no secret value or handle in any encoding: pass the model a description of the credential (its path, its version), never the credential",
                found.what, found.encoding, found.offset
            ),
        ))
    }
}

/// A request's failure before any answer.
enum SendError {
    Tls(crate::net::tls::TlsRefusal),
    Other(String),
}

/// One request to the endpoint: its status and body (any status).
fn send(
    agent: &ureq::Agent,
    timeout: Duration,
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<(u16, Vec<u8>), SendError> {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("accept", "application/json");
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder
        .body(body.unwrap_or_default())
        .map_err(|e| SendError::Other(format!("malformed request: {e}")))?;
    let request = agent
        .configure_request(request)
        .timeout_global(Some(timeout))
        .build();
    let mut response = agent.run(request).map_err(|e| match tls_refusal(&e) {
        Some(refusal) => SendError::Tls(refusal),
        None => SendError::Other(e.to_string()),
    })?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| SendError::Other(format!("reading the answer: {e}")))?;
    Ok((status, body))
}

/// A failed request as the role and the record see it: what, and the fix.
fn describe(binding: &RoleBinding, grant: &Spanned<ModelGrant>, error: SendError) -> Error {
    let g = grant.get_ref();
    let endpoint = g.endpoint.as_ref().expect("checked");
    let line = crate::policy::line_of(&binding.policy_source, grant.span().start);
    let policy = binding.policy_path.display();
    Error::Unavailable(match error {
        SendError::Tls(refusal) => format!(
            "TLS to model endpoint {endpoint} refused: {refusal}\n  fix: if it is served under your own CA, add its PEM file as ca_files at line {line} of {policy}; agentward never skips verification"
        ),
        SendError::Other(reason) => format!(
            "model endpoint {endpoint} is unreachable: {reason}\n  fix: start the model server, or point `endpoint` at line {line} of {policy} at one that runs"
        ),
    })
}

impl model::Host for CallContext {
    fn complete(&mut self, request: Request) -> wasmtime::Result<Result<Completion, Error>> {
        mediate_until_deadline(
            self,
            Complete {
                request,
                addr: None,
            },
        )
    }
}
