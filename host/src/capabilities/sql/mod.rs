//! `sql`: statements against the PostgreSQL endpoints a grant names, each
//! one of the statements the grant lists, word for word.
//!
//! ```toml
//! sql = { endpoints = ["postgres://127.0.0.1:5432/app"],
//!         statements = ["ALTER ROLE app_a PASSWORD $1", "SELECT 1"],
//!         ca_files = ["certs/db-ca.pem"], max_rows = 100 }
//! ```
//!
//! The password is always a handle and the user may be one: the host puts
//! them into the connection, so the role never holds the credential it
//! rotates with. A handle to a `postgres://user:password@…` URL (the form
//! consumers read) gives both (see [`credential`]). Parameters (`$1`, …) may be handles too. They are sent as
//! dollar-quoted literals under a random tag (PostgreSQL takes no bind
//! parameters in `ALTER ROLE`), and a parameter that follows `PASSWORD` goes
//! as its SCRAM-SHA-256 verifier (see [`statement`]). Connections use TLS whenever the server
//! offers it, verified as `http` verifies (public roots plus `ca_files`);
//! the address dialled is checked as `http` checks it. Results are capped
//! (`max_rows`, `max_bytes`) and scrubbed of every value the run touched;
//! every statement is recorded, handles as digests of their values.

mod credential;
mod statement;

use super::bindings::agentward::host::sql::{self, Rows, Statement};
use super::bindings::agentward::host::types::Error;
use super::mediation::{mediate_until_deadline, CallContext, HostCall, RoleBinding};
use super::path_scope::toml_list;
use crate::audit::Args;
use crate::net::egress::{self, EgressError};
use crate::net::tls::{rustls_config, tls_refusal_in};
use crate::policy::error_fix;
use crate::store::SecretValue;
use credential::Credential;
use serde::Deserialize;
use serde_json::{json, Value};
use statement::{interpolate, normalise};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawSqlGrant")]
pub struct SqlGrant {
    /// `postgres://host:port/database`, normalised.
    endpoints: Vec<String>,
    /// As written; compared with white space collapsed.
    statements: Vec<String>,
    ca_files: Vec<Spanned<String>>,
    max_rows: usize,
    max_bytes: usize,
    timeout_ms: u64,
    tls: Arc<rustls::ClientConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSqlGrant {
    // `sql = {}` links the interface and reaches nothing: the Implementer
    // and Tester components carry the postgres provider and checks.
    #[serde(default)]
    endpoints: Vec<String>,
    #[serde(default)]
    statements: Vec<String>,
    #[serde(default)]
    ca_files: Vec<Spanned<String>>,
    #[serde(default = "default_max_rows")]
    max_rows: usize,
    #[serde(default = "default_max_bytes")]
    max_bytes: usize,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_max_rows() -> usize {
    100
}

fn default_max_bytes() -> usize {
    64 * 1024
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// A parsed endpoint: where to connect and which database.
#[derive(Clone, Debug, PartialEq)]
struct Endpoint {
    host: String,
    port: u16,
    database: String,
}

impl Endpoint {
    fn parse(written: &str) -> Option<Endpoint> {
        let url = url::Url::parse(written).ok()?;
        if !matches!(url.scheme(), "postgres" | "postgresql")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return None;
        }
        let database = url.path().strip_prefix('/')?;
        if database.is_empty() || database.contains('/') {
            return None;
        }
        Some(Endpoint {
            host: url.host_str()?.trim_matches(['[', ']']).to_string(),
            port: url.port().unwrap_or(5432),
            database: database.to_string(),
        })
    }

    fn render(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("postgres://{host}:{}/{}", self.port, self.database)
    }
}

impl TryFrom<RawSqlGrant> for SqlGrant {
    type Error = String;

    fn try_from(raw: RawSqlGrant) -> Result<Self, String> {
        let mut endpoints = Vec::new();
        for written in &raw.endpoints {
            let endpoint = Endpoint::parse(written).ok_or_else(|| {
                error_fix(
                    format!("invalid sql endpoint `{written}`"),
                    "write it as \"postgres://127.0.0.1:5432/app\": host, port and database, no user, password or options (credentials are handles)",
                )
            })?;
            endpoints.push(endpoint.render());
        }
        if let Some(empty) = raw.statements.iter().find(|s| s.trim().is_empty()) {
            return Err(error_fix(
                format!("empty sql statement {empty:?}"),
                "list each statement the role may run, e.g. \"SELECT 1\"",
            ));
        }
        Ok(SqlGrant {
            endpoints,
            statements: raw.statements.iter().map(|s| normalise(s)).collect(),
            ca_files: raw.ca_files,
            max_rows: raw.max_rows,
            max_bytes: raw.max_bytes,
            timeout_ms: raw.timeout_ms,
            tls: rustls_config(Vec::new()),
        })
    }
}

impl SqlGrant {
    /// Loads the `ca_files` (relative to `project`); on failure the byte
    /// offset of the bad entry and a message with its fix.
    pub(crate) fn load_trust(&mut self, project: &Path) -> Result<(), (usize, String)> {
        let anchors = super::ca_files::load(&self.ca_files, project)?;
        if !anchors.is_empty() {
            self.tls = rustls_config(anchors);
        }
        Ok(())
    }

    fn render(&self) -> String {
        let strs = |v: &[String]| toml_list(&v.iter().map(String::as_str).collect::<Vec<_>>());
        let mut line = format!(
            "sql = {{ endpoints = {}, statements = {}",
            strs(&self.endpoints),
            strs(&self.statements)
        );
        if !self.ca_files.is_empty() {
            let files = super::ca_files::names(&self.ca_files);
            line.push_str(&format!(", ca_files = {}", strs(&files)));
        }
        line.push_str(&format!(
            ", max_rows = {}, max_bytes = {}, timeout_ms = {} }}",
            self.max_rows, self.max_bytes, self.timeout_ms
        ));
        line
    }

    fn names_address(&self, addr: SocketAddr) -> bool {
        self.endpoints.iter().any(|e| {
            Endpoint::parse(e).is_some_and(|e| {
                e.port == addr.port() && e.host.parse::<std::net::IpAddr>().ok() == Some(addr.ip())
            })
        })
    }
}

fn grant_of(binding: &RoleBinding) -> &Spanned<SqlGrant> {
    binding
        .grants
        .sql
        .as_ref()
        .expect("sql is linked only when granted")
}

/// A value the statement carries: its text, and how it is recorded.
pub(super) struct Resolved {
    value: SecretValue,
    /// `handle:PATH` for a handle, else `None` (recorded as scrubbed text).
    from_handle: Option<String>,
}

struct Execute {
    statement: Statement,
    /// Set by `admit`.
    target: Option<Admitted>,
}

struct Admitted {
    endpoint: Endpoint,
    addr: SocketAddr,
    user: Resolved,
    password: SecretValue,
    params: Vec<Resolved>,
}

impl HostCall for Execute {
    type Output = Rows;

    fn call(&self) -> &'static str {
        "sql.execute"
    }

    fn effectful(&self) -> bool {
        true
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("endpoint", json!(self.statement.endpoint));
        args.insert("statement", json!(normalise(&self.statement.text)));
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        let grant = grant_of(binding);
        let g = grant.get_ref();
        let Some(endpoint) = Endpoint::parse(&self.statement.endpoint) else {
            return Err(Error::Invalid(format!(
                "`{}` is not a postgres://host:port/database endpoint",
                self.statement.endpoint
            )));
        };
        if !g.endpoints.contains(&endpoint.render()) {
            let mut wider = g.clone();
            wider.endpoints.push(endpoint.render());
            return Err(binding.deny(
                grant,
                format!("connect to {}", endpoint.render()),
                wider.render(),
            ));
        }
        let text = normalise(&self.statement.text);
        if !g.statements.contains(&text) {
            let mut wider = g.clone();
            wider.statements.push(text.clone());
            return Err(binding.deny(grant, format!("run `{text}`"), wider.render()));
        }
        Ok(())
    }

    fn admit(&mut self, ctx: &CallContext, audit: &mut Args) -> Result<(), Error> {
        let binding = &ctx.binding;
        let grant = grant_of(binding);
        let g = grant.get_ref();
        let endpoint = Endpoint::parse(&self.statement.endpoint).expect("checked");
        let resolve = |text: &str| -> Resolved {
            match ctx.handles.lookup(text) {
                Some((value, path)) => Resolved {
                    value: value.clone(),
                    from_handle: Some(format!("handle:{path}")),
                },
                None => Resolved {
                    value: SecretValue::new(text),
                    from_handle: None,
                },
            }
        };
        // A secret bound to services by its `origins` attribute (an npm
        // token for its registry) goes nowhere else: not into a database,
        // whose statement log would keep it.
        let tokens = std::iter::once(&self.statement.password)
            .chain(std::iter::once(&self.statement.user))
            .chain(&self.statement.params);
        for token in tokens {
            let origins = ctx.handles.origins_of(token);
            if let (false, Some((_, path))) = (origins.is_empty(), ctx.handles.lookup(token)) {
                return Err(binding.refuse(
                    grant,
                    format!("send a handle to secret `{path}` to {}", endpoint.render()),
                    &format!(
                        "the secret's origins attribute binds it to {}; a value bound to those services is never sent to a database",
                        origins.join(", ")
                    ),
                ));
            }
        }
        let Some((password, password_path)) = ctx.handles.lookup(&self.statement.password) else {
            return Err(binding.refuse(
                grant,
                format!("connect to {} with a password that is not a handle", endpoint.render()),
                "a role never holds a database password: take a handle to the secret (handles.acquire) and pass the handle",
            ));
        };
        let credential = Credential::of(password);
        let user = match (self.statement.user.as_str(), credential.user) {
            ("", None) => {
                return Err(Error::Invalid(format!(
                    "no user to connect to {} as: name the login role, or pass a handle to a postgres:// URL that names it",
                    endpoint.render()
                )))
            }
            ("", Some(from_url)) => Resolved {
                value: SecretValue::new(from_url),
                from_handle: None,
            },
            (written, from_url) => {
                let user = resolve(written);
                if from_url.is_some_and(|u| u != user.value.expose()) {
                    return Err(Error::Invalid(format!(
                        "the user given differs from the login role {password_path}'s URL names; leave the user empty to connect as that one"
                    )));
                }
                user
            }
        };
        let params: Vec<Resolved> = self.statement.params.iter().map(|p| resolve(p)).collect();
        audit.insert(
            "user",
            json!(user
                .from_handle
                .clone()
                .unwrap_or_else(|| user.value.expose().to_string())),
        );
        audit.insert("password", json!(format!("handle:{password_path}")));
        audit.insert(
            "params",
            Value::Array(
                params
                    .iter()
                    .map(|p| match &p.from_handle {
                        Some(from) => json!({ "from": from, "value": ctx.digest(&p.value) }),
                        None => json!(ctx.scrub(p.value.expose())),
                    })
                    .collect(),
            ),
        );
        let host = match endpoint.host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => url::Host::Ipv4(ip),
            Ok(std::net::IpAddr::V6(ip)) => url::Host::Ipv6(ip),
            Err(_) => url::Host::Domain(endpoint.host.as_str()),
        };
        let addr = egress::choose(&host, endpoint.port, binding.resolver.as_ref(), |a| {
            g.names_address(a)
        })
        .map_err(|e| match e {
            EgressError::Internal { addr, range } => {
                let mut wider = g.clone();
                wider.endpoints.push(
                    Endpoint {
                        host: addr.ip().to_string(),
                        ..endpoint.clone()
                    }
                    .render(),
                );
                binding.deny(
                    grant,
                    format!(
                        "connect to {}: its name resolves to {addr}, a {range} address, which a grant reaches only by naming it",
                        endpoint.render()
                    ),
                    wider.render(),
                )
            }
            EgressError::Unresolved { host, reason } => Error::Unavailable(format!(
                "{}: cannot resolve {host}: {reason}",
                endpoint.render()
            )),
        })?;
        audit.insert("address", json!(addr.to_string()));
        self.target = Some(Admitted {
            endpoint,
            addr,
            user,
            password: credential.password,
            params,
        });
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<Rows, Error> {
        let binding = ctx.binding.clone();
        let g = grant_of(&binding).get_ref();
        let target = self.target.expect("admitted");
        // What came from handles is scrubbed from everything the run writes;
        // a user name or parameter the role wrote itself is not a secret.
        let from_handles = std::iter::once(&target.user)
            .chain(&target.params)
            .filter(|r| r.from_handle.is_some())
            .map(|r| &r.value);
        for secret in std::iter::once(&target.password).chain(from_handles) {
            ctx.remember_secret(secret);
            // The password inside a connection URL, on its own too.
            ctx.remember_secret(&Credential::of(secret).password);
        }
        let text = interpolate(&normalise(&self.statement.text), &target.params)?;
        let where_ = target.endpoint.render();
        let mut config = tokio_postgres::Config::new();
        config
            .host(&target.endpoint.host)
            .hostaddr(target.addr.ip())
            .port(target.addr.port())
            .dbname(&target.endpoint.database)
            .user(target.user.value.expose())
            .password(target.password.expose())
            .ssl_mode(tokio_postgres::config::SslMode::Prefer)
            .connect_timeout(ctx.deadline.cap(Duration::from_millis(g.timeout_ms)))
            .application_name("agentward");
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*g.tls).clone());
        let failed = |ctx: &CallContext, doing: &str, e: postgres::Error| -> Error {
            if let Some(refusal) = tls_refusal_in(&e) {
                return Error::Unavailable(format!(
                    "TLS to {where_} refused: {refusal}\n  fix: put the CA that signed the database server's certificate in the project and name it in the grant's ca_files"
                ));
            }
            let detail = e
                .as_db_error()
                .map(|db| format!("{} ({})", db.message(), db.code().code()))
                .unwrap_or_else(|| format!("{e}"));
            Error::Unavailable(ctx.scrub(&format!("{doing} {where_}: {detail}")))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Unavailable(format!("no runtime for {where_}: {e}")))?;
        // The connect timeout ends a server that never accepts; a server
        // that accepts and then never answers (the login, a statement)
        // would hold the call for good, so the whole exchange ends at the
        // run's deadline, the connection dropped with it.
        let left = ctx.deadline.left();
        let exchange = async {
            let (client, connection) = config
                .connect(tls)
                .await
                .map_err(|e| failed(ctx, "connecting to", e))?;
            let connection = tokio::spawn(connection);
            let messages = client
                .simple_query(&text)
                .await
                .map_err(|e| failed(ctx, "running the statement on", e));
            connection.abort();
            messages
        };
        let messages = runtime
            .block_on(async { tokio::time::timeout(left, exchange).await })
            .unwrap_or_else(|_| {
                Err(Error::Unavailable(format!(
                    "{where_} did not answer before the run's deadline"
                )))
            })?;
        let mut rows = Rows {
            columns: Vec::new(),
            rows: Vec::new(),
            affected: 0,
            truncated: false,
        };
        let mut bytes = 0;
        for message in messages {
            match message {
                postgres::SimpleQueryMessage::RowDescription(columns) => {
                    rows.columns = columns.iter().map(|c| c.name().to_string()).collect();
                }
                postgres::SimpleQueryMessage::Row(row) => {
                    if rows.columns.is_empty() {
                        rows.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                    }
                    let values: Vec<Option<String>> = (0..row.len())
                        .map(|i| row.get(i).map(|v| ctx.scrub(v)))
                        .collect();
                    let size: usize = values.iter().flatten().map(String::len).sum();
                    if rows.rows.len() >= g.max_rows || bytes + size > g.max_bytes {
                        rows.truncated = true;
                        continue;
                    }
                    bytes += size;
                    rows.rows.push(values);
                }
                postgres::SimpleQueryMessage::CommandComplete(n) => rows.affected = n,
                _ => {}
            }
        }
        audit.insert("rows", json!(rows.rows.len()));
        audit.insert("affected", json!(rows.affected));
        if rows.truncated {
            audit.insert("truncated", json!(true));
        }
        Ok(rows)
    }
}

impl sql::Host for CallContext {
    fn execute(&mut self, statement: Statement) -> wasmtime::Result<Result<Rows, Error>> {
        mediate_until_deadline(
            self,
            Execute {
                statement,
                target: None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_carry_no_credentials_or_options() {
        assert!(Endpoint::parse("postgres://127.0.0.1:5432/app").is_some());
        for bad in [
            "postgres://u:p@127.0.0.1:5432/app",
            "postgres://127.0.0.1:5432/app?sslmode=disable",
            "postgres://127.0.0.1:5432/",
            "mysql://127.0.0.1/app",
        ] {
            assert!(Endpoint::parse(bad).is_none(), "{bad}");
        }
    }
}
