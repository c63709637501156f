//! `http`: outbound requests to the origins the policy allows, with the
//! methods it allows, within its size and time caps.
//!
//! Handles in header values and in text bodies are swapped for their secrets
//! here, at the edge (an API that takes a password in a JSON body needs the
//! latter), and the response is scrubbed of every secret the run has touched before
//! the guest sees it. Redirects are never followed: an allowed origin must
//! not be able to bounce a credential to one that is not.

use super::bindings::agentward::host::{
    http::{self, Request, Response},
    types::Error,
};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::toml_list;
use crate::policy::error_fix;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawHttpGrant")]
pub struct HttpGrant {
    /// `scheme://host[:port]`, normalised.
    origins: Vec<String>,
    methods: Vec<String>,
    max_body_bytes: usize,
    timeout_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpGrant {
    origins: Vec<String>,
    methods: Vec<String>,
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

fn default_timeout_ms() -> u64 {
    10_000
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl TryFrom<RawHttpGrant> for HttpGrant {
    type Error = String;

    fn try_from(raw: RawHttpGrant) -> Result<Self, String> {
        let origins = raw
            .origins
            .iter()
            .map(|o| origin_of(o).filter(|n| n == o.trim_end_matches('/')).ok_or(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|bad| {
                error_fix(
                    format!("invalid http origin `{bad}`: an origin is scheme://host[:port], nothing more"),
                    "write it as \"http://127.0.0.1:4873\" (no path, no query, default ports omitted)",
                )
            })?;
        if let Some(bad) = raw.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(error_fix(
                format!("invalid http method `{bad}`"),
                &format!("use upper-case methods from: {}", METHODS.join(", ")),
            ));
        }
        Ok(HttpGrant {
            origins,
            methods: raw.methods,
            max_body_bytes: raw.max_body_bytes,
            timeout_ms: raw.timeout_ms,
        })
    }
}

impl HttpGrant {
    fn render(&self, origins: &[&str], methods: &[&str]) -> String {
        format!(
            "http = {{ origins = {}, methods = {}, max_body_bytes = {}, timeout_ms = {} }}",
            toml_list(origins),
            toml_list(methods),
            self.max_body_bytes,
            self.timeout_ms
        )
    }

    fn origins(&self) -> Vec<&str> {
        self.origins.iter().map(String::as_str).collect()
    }

    fn methods(&self) -> Vec<&str> {
        self.methods.iter().map(String::as_str).collect()
    }
}

/// The origin of an absolute http(s) URL, serialised as browsers do.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

struct Send {
    request: Request,
}

impl HostCall for Send {
    type Output = Response;
    fn call(&self) -> &'static str {
        "http.send"
    }

    fn effectful(&self) -> bool {
        true
    }

    fn audit_args(&self, _ctx: &CallContext) -> Map<String, Value> {
        let mut args = Map::new();
        args.insert("method".into(), json!(self.request.method));
        args.insert("url".into(), json!(self.request.url));
        // Header names only: values may carry handles or credentials.
        let names: Vec<&str> = self
            .request
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        args.insert("headers".into(), json!(names));
        args.insert(
            "body_bytes".into(),
            json!(self.request.body.as_ref().map_or(0, Vec::len)),
        );
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        let grant = binding
            .grants
            .http
            .as_ref()
            .expect("http is linked only when granted");
        let g = grant.get_ref();
        let Some(origin) = origin_of(&self.request.url) else {
            return Err(Error::Invalid(format!(
                "`{}` is not an absolute http(s) URL",
                self.request.url
            )));
        };
        if !g.origins.contains(&origin) {
            let mut origins = g.origins();
            origins.push(&origin);
            return Err(binding.deny(
                grant,
                format!("send http requests to {origin}"),
                g.render(&origins, &g.methods()),
            ));
        }
        let method = self.request.method.to_ascii_uppercase();
        if !g.methods.contains(&method) {
            let mut methods = g.methods();
            methods.push(&method);
            return Err(binding.deny(
                grant,
                format!("send http {method} requests"),
                g.render(&g.origins(), &methods),
            ));
        }
        let body = self.request.body.as_ref().map_or(0, Vec::len);
        if body > g.max_body_bytes {
            return Err(binding.deny(
                grant,
                format!("send a {body}-byte request body"),
                HttpGrant {
                    max_body_bytes: body,
                    ..g.clone()
                }
                .render(&g.origins(), &g.methods()),
            ));
        }
        Ok(())
    }

    fn perform(
        self,
        ctx: &mut CallContext,
        audit: &mut Map<String, Value>,
    ) -> Result<Response, Error> {
        let grant = ctx.binding.grants.http.as_ref().expect("checked").get_ref();
        let max_body = grant.max_body_bytes;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_global(Some(Duration::from_millis(grant.timeout_ms)))
            .build()
            .into();
        let mut builder = ureq::http::Request::builder()
            .method(self.request.method.to_ascii_uppercase().as_str())
            .uri(&self.request.url);
        for (name, value) in &self.request.headers {
            builder = builder.header(name.as_str(), ctx.handles.substitute(value));
        }
        let body = self.request.body.unwrap_or_default();
        let body = match String::from_utf8(body) {
            Ok(text) => ctx.handles.substitute(&text).into_bytes(),
            Err(binary) => binary.into_bytes(),
        };
        let request = builder
            .body(body)
            .map_err(|e| Error::Invalid(format!("malformed request: {e}")))?;
        let mut response = agent.run(request).map_err(|e| {
            Error::Unavailable(ctx.scrub(&format!(
                "{} {}: {e}",
                self.request.method, self.request.url
            )))
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    ctx.scrub(&String::from_utf8_lossy(v.as_bytes())),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(max_body as u64)
            .read_to_vec()
            .map_err(|e| {
                Error::Unavailable(format!(
                    "reading the response body (limit {max_body} bytes): {e}"
                ))
            })?;
        let body = scrub_bytes(ctx, body);
        audit.insert("status".into(), json!(status));
        audit.insert("response_bytes".into(), json!(body.len()));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// Scrubs a response body when it is text; binary bodies pass as they are
/// only if no secret's bytes occur in them.
fn scrub_bytes(ctx: &CallContext, body: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(body) {
        Ok(text) => ctx.scrub(&text).into_bytes(),
        Err(e) => {
            let bytes = e.into_bytes();
            let leaks = ctx.seen_secrets.iter().any(|s| {
                let s = s.expose().as_bytes();
                !s.is_empty() && bytes.windows(s.len()).any(|w| w == s)
            });
            if leaks {
                b"[agentward: binary response withheld: it contained a secret value]".to_vec()
            } else {
                bytes
            }
        }
    }
}

impl http::Host for CallContext {
    fn send(&mut self, request: Request) -> Result<Response, Error> {
        mediate(self, Send { request })
    }
}
