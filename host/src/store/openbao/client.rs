//! Requests to an OpenBao server, or to the nodes of an HA cluster.
//!
//! The store's calls are vaultrs's endpoint types; this module sends them
//! ([`OpenBaoStore::send`]) and reads the answers as vaultrs's response
//! types ([`Reply::data`]), in place of vaultrs's own reqwest client, which
//! cannot do what follows (docs/cluster.md, "On vaultrs").
//!
//! An HA cluster (integrated Raft) has one active node; the others are
//! standbys that forward requests to it, and for a few seconds after the
//! active node dies there is none at all. The store is given every node's
//! address and keeps the one that answered last: a request that could not
//! be sent (the connection was refused, or the node answered that it is
//! sealed or that no active node is elected) is sent to the next node,
//! round after round, until one serves it or [`FAILOVER_BUDGET`] has passed.
//! A request that was sent but whose answer was lost is never repeated
//! here, because it may have taken effect: the caller re-reads (every write
//! is a check-and-set) or stops the change, and `resume` finds out.
//!
//! With one address nothing is retried, so a server that is down is named
//! at once.
//!
//! Standbys answer reads from their own copy, which lags the active node
//! by a fraction of a second (more while no node is active). A store that
//! read its own writes stale could mint twice what it just stored, so
//! requests go to the active node (found by `sys/health` on first use and
//! after each failover), and in case leadership moves in between, writes
//! are read back consistently: every answer's `X-Vault-Index` (the state the
//! answering node had reached) is kept, and sent back with
//! `X-Vault-Inconsistent: forward-active-node`, so a standby that has not
//! reached that state forwards the request to the active node instead of
//! answering. A host that takes over another's change first writes its
//! lease through the active node, so its later reads see everything the
//! other host wrote before.

use super::{OpenBaoStore, REQUEST_TIMEOUT};
use crate::net::tls::tls_refusal;
use crate::store::StoreError;
use rustify::endpoint::Endpoint;
use rustify::enums::RequestMethod;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// One server answer.
pub(super) struct Reply {
    pub(super) status: u16,
    body: Zeroizing<Vec<u8>>,
}

/// Why an answer did not read as the type vaultrs gives it, without the
/// answer's contents (serde's messages can quote a value, and the value
/// may be a secret's).
fn unreadable(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field") {
        message
    } else {
        format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        )
    }
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The answer's `data`, as vaultrs's type for it.
    pub(super) fn data<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice::<vaultrs::api::EndpointResult<T>>(&self.body)
            .map_err(|e| unreadable(&e))?
            .data
            .ok_or_else(|| "an answer without data".to_string())
    }

    /// The token an `auth/token/create` answer carries.
    pub(super) fn auth(&self) -> Result<vaultrs::api::AuthInfo, String> {
        serde_json::from_slice::<vaultrs::api::EndpointResult<Value>>(&self.body)
            .map_err(|e| unreadable(&e))?
            .auth
            .ok_or_else(|| "an answer without auth".to_string())
    }

    /// The whole answer as `T` (for the few endpoints that do not wrap it
    /// in `data`).
    pub(super) fn unwrapped<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| unreadable(&e))
    }

    /// The server's `errors`, on one line. Never contains a secret value:
    /// OpenBao does not echo request bodies in errors.
    pub(super) fn errors(&self) -> String {
        let errors: Vec<String> = match self.json().get("errors").and_then(Value::as_array) {
            Some(errors) => errors
                .iter()
                .filter_map(Value::as_str)
                .flat_map(str::lines)
                .map(|l| l.trim().trim_start_matches("* ").to_string())
                .filter(|l| !l.is_empty() && !l.ends_with("occurred:"))
                .collect(),
            None => Vec::new(),
        };
        if errors.is_empty() {
            "no error detail".to_string()
        } else {
            errors.join("; ")
        }
    }
}

/// The method's name on the wire; `LIST` is sent as the `GET …?list=true`
/// it stands for.
fn method_name(method: &RequestMethod) -> &'static str {
    match method {
        RequestMethod::DELETE => "DELETE",
        RequestMethod::POST => "POST",
        RequestMethod::PUT => "PUT",
        RequestMethod::PATCH => "PATCH",
        RequestMethod::HEAD => "HEAD",
        _ => "GET",
    }
}

/// `endpoint` as sent: its method, its path under `/v1/` with the query,
/// and its body (in a zeroizing buffer: it may hold a secret value).
fn on_the_wire<E: Endpoint>(
    endpoint: &E,
) -> Result<(&'static str, String, Zeroizing<Vec<u8>>), StoreError> {
    let unbuildable = |e: rustify::errors::ClientError| {
        StoreError::Unavailable(format!(
            "cannot build the OpenBao request {}: {e}",
            endpoint.path()
        ))
    };
    // vaultrs spells some paths with a leading `/` (two with ` /`).
    let mut api_path = endpoint
        .path()
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    let method = endpoint.method();
    let mut query: Vec<String> = endpoint.query().map_err(unbuildable)?.into_iter().collect();
    if matches!(method, RequestMethod::LIST) {
        query.push("list=true".into());
    }
    query.retain(|q| !q.is_empty());
    if !query.is_empty() {
        api_path = format!("{api_path}?{}", query.join("&"));
    }
    let body = Zeroizing::new(endpoint.body().map_err(unbuildable)?.unwrap_or_default());
    Ok((method_name(&method), api_path, body))
}

/// Whether a failed request never reached a server: refused or timed out
/// while connecting.
fn never_sent(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
        ),
        ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => true,
        _ => false,
    }
}

/// A node's answer that it served nothing: sealed, not initialised, a
/// standby with no active node to forward to (a 307 to the dead one, or a
/// 500), or one not yet caught up with the state this client has seen
/// (429 with no errors). Another node, or a later try, may serve it.
fn not_serving(reply: &Reply) -> Option<String> {
    match reply.status {
        307 => return Some("a standby redirected it to an active node that is gone".into()),
        429 if reply.errors() == "no error detail" => {
            return Some("a standby has not caught up with this client's last write".into())
        }
        500 | 503 => {}
        _ => return None,
    }
    let errors = reply.errors();
    let lower = errors.to_ascii_lowercase();
    [
        "sealed",
        "not initialized",
        "local node not active",
        "no active",
        "standby",
    ]
    .iter()
    .any(|m| lower.contains(m))
    .then_some(errors)
}

/// How long requests go round a cluster's nodes looking for an active one:
/// longer than an election after the active node dies.
const FAILOVER_BUDGET: Duration = Duration::from_secs(30);

/// The addresses of one server's or one cluster's nodes, and which answered
/// last; shared by the stores made from one (role stores too).
#[derive(Debug)]
pub(super) struct Nodes {
    addrs: Vec<String>,
    current: AtomicUsize,
    /// Whether `current` was found to be the active node.
    located: AtomicBool,
    /// The latest `X-Vault-Index` an answer carried.
    index: Mutex<Option<String>>,
}

impl Nodes {
    /// `addrs`: one address, or several separated by commas.
    pub(super) fn parse(addrs: &str) -> Nodes {
        Nodes {
            addrs: addrs
                .split(',')
                .map(|a| a.trim().trim_end_matches('/').to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            current: AtomicUsize::new(0),
            located: AtomicBool::new(false),
            index: Mutex::new(None),
        }
    }

    fn index(&self) -> Option<String> {
        self.index.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn saw_index(&self, index: &str) {
        *self.index.lock().unwrap_or_else(|p| p.into_inner()) = Some(index.to_string());
    }

    /// The node requests go to now.
    pub(super) fn current(&self) -> &str {
        self.addrs
            .get(self.current.load(Ordering::Relaxed))
            .map_or("", String::as_str)
    }

    pub(super) fn all(&self) -> &[String] {
        &self.addrs
    }

    /// Moves on from node `from`, unless another request already did.
    fn next(&self, from: usize) {
        let to = (from + 1) % self.addrs.len().max(1);
        let _ = self
            .current
            .compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Why one node did not serve a request.
enum Attempt {
    Answered(Reply),
    /// Not sent, or refused before it was served: another node may serve it.
    NotServed(String),
    /// Sent, answer lost: it may have taken effect.
    Lost(StoreError),
}

impl OpenBaoStore {
    /// Sends vaultrs's `endpoint` (its path, query and body) by
    /// [`OpenBaoStore::request`]. vaultrs's own sending (`api::exec_*`)
    /// goes through its `Client`, which is one reqwest client at one
    /// address with no per-request headers and no answer headers: it could
    /// not fail over, read its own writes or keep a run's deadline.
    pub(super) fn send<E: Endpoint>(&self, endpoint: &E) -> Result<Reply, StoreError> {
        let (method, api_path, body) = on_the_wire(endpoint)?;
        self.request(method, &api_path, &body)
    }

    /// The answer to `what` read as `T` by `read` (one of [`Reply`]'s
    /// readers), or an error naming what would not read.
    pub(super) fn answer<T>(
        &self,
        reply: &Reply,
        what: &str,
        read: impl FnOnce(&Reply) -> Result<T, String>,
    ) -> Result<T, StoreError> {
        read(reply).map_err(|why| {
            StoreError::Unavailable(format!(
                "OpenBao at {} answered {what} in a form agentward does not read ({why})\n  \
                 fix: use OpenBao 2 or Vault 1.x, with a KV version 2 mount",
                self.addr()
            ))
        })
    }

    fn request(
        &self,
        method_name: &'static str,
        api_path: &str,
        bytes: &[u8],
    ) -> Result<Reply, StoreError> {
        let nodes = self.nodes.all().len();
        let began = Instant::now();
        let mut pause = Duration::from_millis(50);
        let mut tried = 0;
        if nodes > 1 && !self.nodes.located.load(Ordering::Relaxed) {
            self.locate_active();
        }
        loop {
            let at = self.nodes.current.load(Ordering::Relaxed);
            let addr = &self.nodes.all()[at];
            let why = match self.attempt(addr, method_name, api_path, bytes)? {
                Attempt::Answered(reply) => return Ok(reply),
                Attempt::Lost(e) => return Err(e),
                Attempt::NotServed(why) if nodes <= 1 => return Err(StoreError::Unavailable(why)),
                Attempt::NotServed(why) => why,
            };
            if !self.locate_active() {
                self.nodes.next(at);
            }
            tried += 1;
            if tried % nodes == 0 {
                let out_of_time = began.elapsed() >= FAILOVER_BUDGET
                    || self.deadline.is_some_and(|d| Instant::now() + pause >= d);
                if out_of_time {
                    return Err(StoreError::Unavailable(format!(
                        "no node of the OpenBao cluster ({}) served {method_name} /v1/{api_path} for {} s; the last said: {why}
                           fix: check the nodes are up, unsealed and have elected a leader (bao operator raft list-peers)",
                        self.nodes.all().join(", "),
                        began.elapsed().as_secs()
                    )));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }

    /// Points requests at the node whose `sys/health` says it is active,
    /// if one does: a standby would serve reads from its lagging copy.
    fn locate_active(&self) -> bool {
        self.nodes.located.store(false, Ordering::Relaxed);
        for (i, addr) in self.nodes.all().iter().enumerate() {
            let active = self
                .agent
                .get(&format!("{addr}/v1/sys/health"))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if active {
                self.nodes.current.store(i, Ordering::Relaxed);
                self.nodes.located.store(true, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// One try of a request at node `addr`.
    fn attempt(
        &self,
        addr: &str,
        method_name: &str,
        api_path: &str,
        bytes: &[u8],
    ) -> Result<Attempt, StoreError> {
        let url = format!("{addr}/v1/{api_path}");
        let mut request = ureq::http::Request::builder()
            .method(method_name)
            .uri(&url)
            .header("X-Vault-Token", self.token.as_str())
            .header("Content-Type", "application/json");
        if let Some(index) = self.nodes.index() {
            request = request
                .header("X-Vault-Index", index)
                .header("X-Vault-Inconsistent", "forward-active-node");
        }
        let request = request
            .body(bytes.to_vec())
            .map_err(|e| StoreError::Unavailable(format!("bad OpenBao request URL {url}: {e}")))?;
        let request = match self.deadline {
            None => request,
            Some(at) => {
                // Never zero, which ureq would read as no timeout at all.
                let left = at.saturating_duration_since(Instant::now());
                let timeout = REQUEST_TIMEOUT.min(left).max(Duration::from_millis(1));
                self.agent
                    .configure_request(request)
                    .timeout_global(Some(timeout))
                    .build()
            }
        };
        let mut response = match self.agent.run(request) {
            Ok(response) => response,
            Err(e) => {
                if let Some(failure) = tls_refusal(&e) {
                    return Err(StoreError::Unavailable(format!(
                        "TLS to OpenBao at {addr} refused: {failure}
                           fix: pass the CA that signed the server's certificate with --openbao-ca-cert FILE                          (or BAO_CACERT / VAULT_CACERT), or renew a certificate that expired or names another host"
                    )));
                }
                let message = format!(
                    "cannot reach OpenBao at {addr}: {e} ({method_name} /v1/{api_path})
                       fix: start the server or check --openbao-addr"
                );
                return Ok(if never_sent(&e) {
                    Attempt::NotServed(message)
                } else {
                    Attempt::Lost(StoreError::Unavailable(message))
                });
            }
        };
        let status = response.status().as_u16();
        if let Some(index) = response
            .headers()
            .get("X-Vault-Index")
            .and_then(|v| v.to_str().ok())
        {
            self.nodes.saw_index(index);
        }
        let body = Zeroizing::new(
            match response
                .body_mut()
                .with_config()
                .limit(16 * 1024 * 1024)
                .read_to_vec()
            {
                Ok(body) => body,
                Err(e) => {
                    return Ok(Attempt::Lost(StoreError::Unavailable(format!(
                        "OpenBao at {addr} broke off its answer to {method_name} /v1/{api_path}: {e}
                           fix: check the server is healthy (bao status) and retry"
                    ))))
                }
            },
        );
        let reply = Reply { status, body };
        Ok(match not_serving(&reply) {
            Some(why) => Attempt::NotServed(format!(
                "OpenBao at {addr} did not serve {method_name} /v1/{api_path} (HTTP {status}: {why})"
            )),
            None => Attempt::Answered(reply),
        })
    }

    /// Maps an unexpected status to an error naming the server, the path and
    /// a fix.
    pub(super) fn fail(&self, what: &str, path: &str, reply: &Reply) -> StoreError {
        let detail = reply.errors();
        let denied;
        let (problem, fix) = match reply.status {
            400 => (
                "the server refused the request",
                "check the path and that the mount is KV version 2",
            ),
            401 | 403 => {
                denied = self.diagnose_denial();
                (denied.0.as_str(), denied.1)
            }
            404 => (
                "not found",
                "check the KV v2 mount name (--store-mount) and the path",
            ),
            412 => ("check-and-set failed", "re-read the secret and retry"),
            429 => ("rate limited", "retry later"),
            500..=599 if detail.contains("sealed") => (
                "the server is sealed",
                "unseal the server (bao operator unseal)",
            ),
            500..=599 => ("server error", "check the OpenBao server log"),
            _ => ("unexpected answer", "check the OpenBao server log"),
        };
        StoreError::Unavailable(format!(
            "OpenBao at {} refused to {what} secret {path:?} (HTTP {}: {problem}; server said: {detail})\n  fix: {fix}",
            self.addr(), reply.status
        ))
    }

    /// After a 403: is the token itself dead, or is it alive but not
    /// permitted? Asks `auth/token/lookup-self` (which role tokens may call;
    /// on a token with `num_uses` this spends one use, on an error path).
    fn diagnose_denial(&self) -> (String, &'static str) {
        let reply = self.send(&vaultrs::api::token::requests::LookupTokenSelfRequest {});
        let looked_up = reply.ok().filter(|r| r.status == 200).and_then(|r| {
            r.data::<vaultrs::api::token::responses::LookupTokenResponse>()
                .ok()
        });
        match looked_up {
            Some(token) => {
                let policies = token.policies.join(", ");
                (
                    format!("permission denied: the token is valid but its policies [{policies}] do not allow this"),
                    "grant the role this path in its policy, or use a store whose scope covers it",
                )
            }
            _ => (
                "permission denied: the token has expired, been revoked or used up its uses \
                 (or may not look itself up)"
                    .to_string(),
                "issue the role a new token (agentward re-issues one per run), or check the token with bao token lookup",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn vaultrs_endpoints_go_out_as_openbao_reads_them() {
        use vaultrs::api::kv2::requests::{ListSecretsRequest, ReadSecretRequest};
        use vaultrs::api::token::requests::RevokeTokenSelfRequest;
        let wire = |e: Result<(&'static str, String, Zeroizing<Vec<u8>>), StoreError>| {
            let (method, path, body) = e.unwrap();
            (method, path, String::from_utf8(body.to_vec()).unwrap())
        };
        let list = ListSecretsRequest {
            mount: "secret".into(),
            path: "team/".into(),
        };
        assert_eq!(
            wire(on_the_wire(&list)),
            ("GET", "secret/metadata/team?list=true".into(), "".into())
        );
        let read = ReadSecretRequest {
            mount: "secret".into(),
            path: "team/db".into(),
            version: Some(3),
        };
        assert_eq!(
            wire(on_the_wire(&read)),
            ("GET", "secret/data/team/db?version=3".into(), "".into())
        );
        // vaultrs 0.8 spells this path " /auth/token/revoke-self".
        assert_eq!(
            wire(on_the_wire(&RevokeTokenSelfRequest {})),
            ("POST", "auth/token/revoke-self".into(), "".into())
        );
    }

    #[test]
    fn an_answer_that_does_not_read_is_named_without_its_contents() {
        use vaultrs::api::kv2::responses::ListSecretsResponse;
        let answer = reply(
            200,
            r#"{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,
                "data":{"keys":"canary-8f3a-value"}}"#,
        );
        let why = answer.data::<ListSecretsResponse>().err().unwrap();
        assert!(!why.contains("canary-8f3a"), "{why}");
        assert!(why.contains("line 2"), "{why}");
        let missing = reply(200, r#"{"data":{}}"#);
        let why = missing.data::<ListSecretsResponse>().err().unwrap();
        assert!(why.contains("missing field"), "{why}");
    }

    #[test]
    fn every_node_of_a_list_is_kept_in_order() {
        let nodes = Nodes::parse(" http://a:8200/, http://b:8200 ,,http://c:8200");
        assert_eq!(
            nodes.all(),
            ["http://a:8200", "http://b:8200", "http://c:8200"]
        );
        assert_eq!(nodes.current(), "http://a:8200");
        nodes.next(0);
        nodes.next(0); // another request moved on already: no second step
        assert_eq!(nodes.current(), "http://b:8200");
    }

    #[test]
    fn a_node_that_served_nothing_is_told_from_a_refusal() {
        let not_served = [
            reply(307, ""),
            reply(429, r#"{"errors":[]}"#),
            reply(503, r#"{"errors":["Vault is sealed"]}"#),
            reply(
                500,
                r#"{"errors":["local node not active but active cluster node not found"]}"#,
            ),
        ];
        for r in &not_served {
            assert!(not_serving(r).is_some(), "HTTP {}", r.status);
        }
        let served = [
            reply(200, "{}"),
            reply(
                400,
                r#"{"errors":["check-and-set parameter did not match the current version"]}"#,
            ),
            reply(403, r#"{"errors":["permission denied"]}"#),
            reply(429, r#"{"errors":["rate limit quota exceeded"]}"#),
            reply(500, r#"{"errors":["internal error"]}"#),
        ];
        for r in &served {
            assert!(not_serving(r).is_none(), "HTTP {}", r.status);
        }
    }
}
