//! A throwaway PostgreSQL on 127.0.0.1 for the `sql` tests.
//!
//! Debian's server (`scripts/install-postgres.sh`) is run as the
//! `postgres` user (`setpriv`, since the tests run as root and PostgreSQL
//! refuses to): `initdb` into a tempdir with a SCRAM-authenticated
//! superuser, then `postgres` on a free port with TLS on (a certificate for
//! 127.0.0.1 from the harness's own CA) and every statement logged, so a
//! test can read what the server was sent. Like the other harnesses, the
//! server runs under an `sh` wrapper that kills it when the wrapper's stdin
//! closes, so it dies with the test process.

#![allow(dead_code)]

use super::openbao::free_port;
use super::tls::TestCa;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUPERUSER: &str = "postgres";

pub struct Postgres {
    pub port: u16,
    pub superuser_password: String,
    pub ca: TestCa,
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The server's certificate and key.
    tls: (PathBuf, PathBuf),
    running: Option<(Child, ChildStdin)>,
}

/// The server's bin directory, or a panic saying how to install it.
fn find_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENTWARD_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's server is not installed\n  fix: run scripts/install-postgres.sh (part of `make setup`)")
    })
}

/// Runs `program` as the postgres user (PostgreSQL refuses root).
const AS_POSTGRES: [&str; 6] = [
    "--reuid",
    "postgres",
    "--regid",
    "postgres",
    "--init-groups",
    "--",
];

fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command.args(AS_POSTGRES).arg(program);
    command
}

fn chown_postgres(path: &Path) {
    let status = Command::new("chown")
        .arg("-R")
        .arg("postgres:postgres")
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success(), "chown postgres {}", path.display());
}

impl Postgres {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Postgres {
        let bin = find_bin();
        let dir = tempfile::tempdir().unwrap();
        let superuser_password = format!("pg-super-{}", hex::encode(rand::random::<[u8; 8]>()));
        std::fs::write(dir.path().join("pw"), &superuser_password).unwrap();
        let ca = TestCa::new("agentward test database CA");
        let (cert, key) = ca
            .leaf(&["127.0.0.1", "localhost"])
            .write(&dir.path().join("tls"));
        chown_postgres(dir.path());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", SUPERUSER, "--auth=scram-sha-256", "-E", "UTF8"])
            .arg(format!("--pwfile={}", dir.path().join("pw").display()))
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Postgres {
            port: free_port(),
            superuser_password,
            ca,
            dir,
            bin,
            tls: (cert, key),
            running: None,
        };
        server.start();
        server
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Everything the server logged, every statement included.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn endpoint(&self, database: &str) -> String {
        format!("postgres://127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server (a fast shutdown: sessions are cut).
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.running.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and data.
    pub fn start(&mut self) {
        let (cert, key) = self.tls.clone();
        self.spawn(&cert, &key);
    }

    fn spawn(&mut self, cert: &Path, key: &Path) {
        let script = r#""$@" >"$PG_LOG" 2>&1 &
pid=$!
read -r _ || true
kill -INT "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg("setpriv")
            .args(AS_POSTGRES)
            .arg(self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "ssl=on"])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", key.display()))
            .args(["-c", "log_statement=all", "-c", "logging_collector=off"])
            .env("PG_LOG", self.log_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh for postgres");
        let stdin = child.stdin.take().unwrap();
        self.running = Some((child, stdin));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.try_admin("postgres").is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "PostgreSQL on 127.0.0.1:{} did not start in 30s; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_admin(&self, database: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .password(&self.superuser_password)
            .dbname(database)
            .connect(postgres::NoTls)
    }

    /// A superuser connection (no agentward code involved).
    pub fn admin(&self, database: &str) -> postgres::Client {
        self.try_admin(database).expect("superuser connects")
    }

    /// Whether `user` can log in to `database` with `password`.
    pub fn can_login(&self, database: &str, user: &str, password: &str) -> bool {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(database)
            .connect(postgres::NoTls)
            .is_ok()
    }

    /// Writes the CA certificate to `path`.
    pub fn write_ca(&self, path: &Path) {
        self.ca.write(path);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
