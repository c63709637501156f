//! A throwaway 3-node OpenBao cluster (integrated Raft storage) on
//! 127.0.0.1, for the HA and failover tests.
//!
//! Each node is `bao server -config=FILE` with its own Raft directory, an
//! API and a cluster port from [`free_port`], and a `retry_join` stanza for
//! each other node. [`BaoCluster::start`] initialises node 0 (one unseal
//! key share), unseals it, lowers autopilot's server stabilisation time,
//! unseals nodes 1 and 2 once they ask to join, waits until the Raft
//! configuration lists three voters and every node is unsealed, and mounts
//! KV v2 at `secret/` (a non-dev server has no `secret/` mount).
//!
//! As in [`super::openbao`], every node runs under a small `sh` wrapper
//! that kills it as soon as the wrapper's stdin closes, so the cluster dies
//! with the test process even if that process aborts and no `Drop` runs.
//! The wrapper prints bao's own pid first: [`BaoCluster::kill_leader`] and
//! [`BaoCluster::kill`] SIGKILL that process (not the wrapper), as a crash
//! would. The pip `bao` (a pyenv shim, then a Python entry point) `exec`s
//! its way to the Go binary, so that pid is the server's; the harness
//! checks `/proc/PID/comm` is `bao` once the node answers.
//!
//! The harness's own requests go over plain HTTP with a ureq agent that
//! follows no redirects and uses no proxy; the bao processes get no
//! `BAO_*`/`VAULT_*` address or token variables and no proxy variables
//! (bao's `retry_join` client honours `http_proxy`).
//!
//! # Measured (OpenBao 2.7.2, 2-core machine, loopback)
//!
//! * `start()`: 8.6–13.6 s (six runs; typically 10–11 s). ~0.5 s until the
//!   listeners answer (the pip shim chain), ~1.3 s for `sys/init` (it
//!   bootstraps Raft), ~0.3 s until node 0 is active, then up to 2 s until
//!   each joiner's next `retry_join` attempt fetches the challenge, 2 s more
//!   until the attempt after the unseal joins, 1 s until the joiner unseals
//!   itself, ~4 s until autopilot promotes both non-voters, and ~1 s until
//!   the standbys serve the new KV v2 mount. With OpenBao's defaults
//!   (`performance_multiplier` 5, 10 s stabilisation, 10 s reconcile) `init`
//!   alone took 7 s and the voters ~15 s.
//! * Kill -9 of the active node to the first successful KV v2 write through
//!   a surviving node: 1.3–2.4 s (17 runs), with
//!   `performance_multiplier = 1` (1 s heartbeat/election timeouts). About
//!   3.3–3.5 s when a survivor was (re)started in the last 3–6 s: Raft
//!   starts a node that is not bootstrapping with 3× timeouts and lowers
//!   them only after 3 s plus a random 0–3 s. With the default multiplier
//!   (5) it took 10.4 s and 15.5 s, so the configs set 1.
//! * A restarted node (same config, data kept) is an unsealed standby
//!   ~0.3 s after its unseal; no join or challenge is involved.
//!
//! # What clients get (the product's failover depends on this)
//!
//! Healthy cluster, request to a standby:
//! * Writes (KV v2 `POST secret/data/P`, `auth/token/create`, `sys/mounts`)
//!   are forwarded to the active node over the cluster port and answered
//!   as the active node answers (200, 403, …). No redirect.
//! * Reads with a normal token (KV v2 `GET`, `LIST`,
//!   `auth/token/lookup-self`) are served from the standby's own copy
//!   ("read-enabled standby"), which lags the active node by ~50–100 ms:
//!   a write through one node followed at once by a read through a standby
//!   (even the same one that forwarded the write) returned 404 or the
//!   previous version. Sending back the `X-Vault-Index` header of the write
//!   makes the standby answer `429` with `Retry-After: 1` and body
//!   `{"errors":[]}` until it has caught up; adding
//!   `X-Vault-Inconsistent: forward-active-node` forwards instead (200).
//! * Every request with a use-limited token (`num_uses`, as role tokens
//!   have) is forwarded, reads too (the use is counted on the active node).
//! * `sys/health`: 200 on the active node, 429 `"standby":true` on a
//!   standby; 503 `"sealed":true` on a sealed node; 501 on a node that has
//!   not joined.
//!
//! Active node killed, no leader elected yet (and forever when quorum is
//! lost):
//! * A request the standby would forward gets
//!   `307 Temporary Redirect`, `Location: <dead leader's api_addr>/v1/PATH`,
//!   empty body (`Content-Length: 0`), with a valid or an invalid token
//!   alike. Following it gets connection refused. A standby keeps answering
//!   this until a new leader is elected; with two of three nodes dead it
//!   answers it indefinitely.
//! * As the election ends, the other standby sometimes (3 of 6 runs)
//!   answers, for ~0.1 s,
//!   `500` `{"errors":["local node not active but active cluster node not found"]}`,
//!   and the new active node itself may still answer 307 (to the old
//!   leader) for ~0.1 s after its `sys/health` already says 200.
//! * Reads with a normal token are still served (200) from the standby's
//!   copy, which can miss the last writes committed before the kill for the
//!   whole window (a write acknowledged just before the kill read 404 on a
//!   standby for 1.4 s).
//! * `sys/health` on the standbys keeps answering 429; `sys/leader` still
//!   names the dead leader.
//! * A sealed node answers everything with `503` `{"errors":["Vault is sealed"]}`;
//!   the dead node's port refuses connections.
//!
//! # Quirks
//!
//! * `disable_mlock` is not an OpenBao setting (2.x logs "unknown or
//!   unsupported field disable_mlock"), so the configs leave it out.
//! * A joining node (Shamir seal) takes an unseal key only once its
//!   `retry_join` loop has fetched the Raft challenge from the active node
//!   (it then reports `initialized: true, sealed: true`, health 503); a key
//!   sent before that (health 501, `initialized: false`) is dropped and the
//!   node logs "waiting for unseal keys to be supplied" forever. The key is
//!   answered with `sealed: true, progress: 0`; the node joins at its next
//!   attempt (every 2 s) and unseals itself ~1 s later. The harness waits
//!   for `initialized` before sending the key, and sends it again if the
//!   node is still sealed 5 s later.
//! * A standby learns of a new mount late: for ~1 s it answers requests
//!   under it with `404` `{"errors":["no handler for route \"P\". route
//!   entry not found."]}`, and a KV v2 mount then with `400` `{"errors":
//!   ["Waiting for the primary to upgrade from non-versioned to versioned
//!   data. This backend will be unavailable for a brief period and will
//!   resume service when the primary is finished."]}` (reads and writes
//!   alike). `start()` waits until `GET secret/config` answers 200 on every
//!   node.
//! * Joiners join as non-voters; autopilot promotes them after
//!   `server_stabilization_time` (10 s by default; set to 1 s through
//!   `sys/storage/raft/autopilot/configuration`), checked every
//!   `autopilot_reconcile_interval` (set to 1 s). Killing the leader before
//!   that loses quorum.

#![allow(dead_code)]

use super::openbao::{find_bao, free_port};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How many nodes a cluster has.
pub const NODES: usize = 3;

/// How long the harness waits for any one step (an election, a join).
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

/// A KV v1 mount the harness writes to when it checks that a node serves
/// writes, so that `secret/` holds only what the tests wrote.
const PROBE_MOUNT: &str = "bao-cluster-probe";

pub struct BaoCluster {
    bao: PathBuf,
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
    root_token: String,
    unseal_key: String,
    agent: ureq::Agent,
    started_in: Duration,
}

struct Node {
    api_port: u16,
    cluster_port: u16,
    running: Option<Running>,
    starts: u32,
}

/// A node's `sh` wrapper (closing its stdin kills bao) and bao's own pid.
struct Running {
    wrapper: Child,
    stdin: ChildStdin,
    pid: i32,
    /// SIGKILLed by the harness; the wrapper still waits on its stdin.
    killed: bool,
}

/// The wrapper: runs bao in the background, prints its pid, and kills it
/// when stdin closes.
const WRAPPER: &str = r#""$@" >>"$BAO_LOG" 2>&1 &
pid=$!
echo "$pid"
exec >/dev/null 2>&1
read -r _ || true
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;

/// Environment variables that would change what a bao server does.
const SCRUBBED_ENV: &[&str] = &[
    "BAO_ADDR",
    "VAULT_ADDR",
    "BAO_TOKEN",
    "VAULT_TOKEN",
    "BAO_API_ADDR",
    "VAULT_API_ADDR",
    "BAO_CLUSTER_ADDR",
    "VAULT_CLUSTER_ADDR",
    "BAO_RAFT_NODE_ID",
    "VAULT_RAFT_NODE_ID",
    "BAO_RAFT_PATH",
    "VAULT_RAFT_PATH",
    "BAO_LOG_LEVEL",
    "VAULT_LOG_LEVEL",
    "BAO_CACERT",
    "VAULT_CACERT",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// Six distinct free ports.
fn free_ports() -> Vec<u16> {
    let mut ports: Vec<u16> = Vec::new();
    while ports.len() < 2 * NODES {
        let port = free_port();
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}

fn hcl_string(path: &Path) -> String {
    let text = path.display().to_string();
    assert!(
        !text.contains(['"', '\\', '$', '%']),
        "temp path {text:?} cannot be written into an HCL config"
    );
    format!("\"{text}\"")
}

impl BaoCluster {
    /// Starts three nodes, initialises and unseals them, waits until the
    /// Raft configuration lists three voters and mounts KV v2 at
    /// `secret/`. About 11 s.
    pub fn start() -> BaoCluster {
        let began = Instant::now();
        let ports = free_ports();
        let mut cluster = BaoCluster {
            bao: find_bao(),
            dir: tempfile::tempdir().unwrap(),
            nodes: (0..NODES)
                .map(|i| Node {
                    api_port: ports[2 * i],
                    cluster_port: ports[2 * i + 1],
                    running: None,
                    starts: 0,
                })
                .collect(),
            root_token: String::new(),
            unseal_key: String::new(),
            agent: agent(Duration::from_secs(10)),
            started_in: Duration::ZERO,
        };
        for i in 0..NODES {
            cluster.write_config(i);
        }
        for i in 0..NODES {
            cluster.spawn(i);
        }
        for i in 0..NODES {
            cluster.wait_listening(i);
        }

        // Initialising bootstraps Raft and elects node 0 on its own.
        let (status, body) = cluster.send_with(
            &agent(Duration::from_secs(60)),
            0,
            "PUT",
            "sys/init",
            None,
            Some(&json!({"secret_shares": 1, "secret_threshold": 1})),
        );
        let init: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let (Some(key), Some(token)) = (
            init.pointer("/keys/0").and_then(Value::as_str),
            init["root_token"].as_str(),
        ) else {
            cluster.fail(&format!(
                "PUT /v1/sys/init on node 0 answered {status}: {body}"
            ));
        };
        cluster.unseal_key = key.to_string();
        cluster.root_token = token.to_string();

        let (status, body) = cluster.unseal(0);
        if status != 200 {
            cluster.fail(&format!(
                "PUT /v1/sys/unseal on node 0 answered {status}: {body}"
            ));
        }
        cluster.wait_until("node 0 to become active", |c| c.health(0) == Some(200));

        // Joiners are promoted to voters only after this long (10 s by
        // default).
        let (status, body) = cluster.send(
            0,
            "POST",
            "sys/storage/raft/autopilot/configuration",
            Some(&json!({"server_stabilization_time": "1s"})),
        );
        if !(200..300).contains(&status) {
            cluster.fail(&format!(
                "setting autopilot's stabilisation time answered {status}: {body}"
            ));
        }

        cluster.unseal_joiners(&[1, 2]);
        cluster.wait_until("three Raft voters", |c| c.voters() == Some(NODES));
        cluster.wait_until("every node unsealed (200 or 429 from sys/health)", |c| {
            (0..NODES).all(|i| matches!(c.health(i), Some(200 | 429)))
        });

        cluster.mount("secret", json!({"type": "kv", "options": {"version": "2"}}));
        cluster.mount(
            PROBE_MOUNT,
            json!({"type": "kv", "options": {"version": "1"}}),
        );
        // A standby answers 404 "no handler for route" for a new mount and
        // then, for KV v2, 400 "Waiting for the primary to upgrade from
        // non-versioned to versioned data..." for about a second.
        cluster.wait_until("secret/ to serve on every node", |c| {
            (0..NODES).all(|i| c.raw(i, "GET", "secret/config", None).0 == 200)
        });
        cluster.started_in = began.elapsed();
        cluster
    }

    /// `http://127.0.0.1:PORT` of each node, in node order.
    pub fn addrs(&self) -> Vec<String> {
        (0..NODES).map(|i| self.addr(i)).collect()
    }

    pub fn addr(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].api_port)
    }

    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The one unseal key share (threshold 1).
    pub fn unseal_key(&self) -> &str {
        &self.unseal_key
    }

    /// How long [`BaoCluster::start`] took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Whether node `i`'s bao process is running (not killed or stopped).
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].running.as_ref().is_some_and(|r| !r.killed)
    }

    /// The index of the active node (`sys/health` answers 200), waiting
    /// until there is one.
    pub fn leader(&self) -> usize {
        self.wait_for("an active node", |c| {
            (0..NODES).find(|&i| c.is_up(i) && c.health(i) == Some(200))
        })
    }

    /// SIGKILLs the active node's bao process and returns its index once
    /// its API port refuses connections.
    pub fn kill_leader(&mut self) -> usize {
        let leader = self.leader();
        self.kill(leader);
        leader
    }

    /// SIGKILLs node `i`'s bao process (not the wrapper), as a crash
    /// would, and waits until its API port refuses connections.
    pub fn kill(&mut self, i: usize) {
        let Some(running) = self.nodes[i].running.as_mut() else {
            panic!("node {i} is not running");
        };
        if running.killed {
            return;
        }
        // SAFETY: kill(2) on a pid the wrapper has not reaped: until the
        // wrapper's `wait`, a dead bao stays a zombie, so the pid is not
        // reused.
        let rc = unsafe { libc::kill(running.pid, libc::SIGKILL) };
        assert_eq!(
            rc,
            0,
            "kill -9 {} (node {i}): {}",
            running.pid,
            std::io::Error::last_os_error()
        );
        running.killed = true;
        let addr: SocketAddr = format!("127.0.0.1:{}", self.nodes[i].api_port)
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            if Instant::now() > deadline {
                self.fail(&format!(
                    "node {i} still accepts connections 10 s after kill -9"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts node `i` again with the same config and data (stopping it
    /// first if it runs), unseals it and waits until it is an unsealed
    /// standby (or active). For 3–6 s after this the node still uses Raft's
    /// 3× start-up timeouts, which slows an election it takes part in.
    pub fn restart(&mut self, i: usize) {
        self.stop(i);
        self.spawn(i);
        self.wait_listening(i);
        let mut sent: Option<Instant> = None;
        self.wait_until(&format!("node {i} to unseal after its restart"), |c| {
            let health = c.health(i);
            if matches!(health, Some(200 | 429)) {
                return true;
            }
            if health == Some(503) && sent.is_none_or(|at| at.elapsed() > Duration::from_secs(3)) {
                c.unseal(i);
                sent = Some(Instant::now());
            }
            false
        });
    }

    /// Waits until a node other than `excluding` is active and serves a
    /// write (a new active node may redirect writes for ~0.1 s after its
    /// `sys/health` says 200), and returns its index.
    pub fn wait_for_new_leader(&self, excluding: usize) -> usize {
        self.wait_for(&format!("a new active node (not node {excluding})"), |c| {
            (0..NODES).find(|&i| {
                i != excluding && c.is_up(i) && c.health(i) == Some(200) && c.serves_writes(i)
            })
        })
    }

    /// Node `i`'s output so far, over all its starts.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
    }

    /// The number of voters in the Raft configuration, asked of the active
    /// node; `None` while there is none or it does not answer.
    pub fn voters(&self) -> Option<usize> {
        let active = (0..NODES).find(|&i| self.is_up(i) && self.health(i) == Some(200))?;
        let (status, body) = self.try_send(
            &self.agent,
            active,
            "GET",
            "sys/storage/raft/configuration",
            Some(&self.root_token),
            None,
        )?;
        if status != 200 {
            return None;
        }
        let config: Value = serde_json::from_str(&body).ok()?;
        let servers = config.pointer("/data/config/servers")?.as_array()?;
        Some(servers.iter().filter(|s| s["voter"] == true).count())
    }

    /// A raw request to node `i` with the root token (no agentward code
    /// involved, no redirect followed): (status, body); status 0 when it
    /// could not be sent or its answer was lost.
    pub fn raw(&self, i: usize, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        self.request(i, method, path, Some(&self.root_token), body)
    }

    /// [`BaoCluster::raw`] with any token, or none.
    pub fn request(
        &self,
        i: usize,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, String) {
        self.try_send(&self.agent, i, method, path, token, body)
            .unwrap_or((0, String::new()))
    }

    /// `sys/health`'s status on node `i`: 200 active, 429 standby, 503
    /// sealed, 501 not initialised (a joiner that has not fetched the
    /// challenge); `None` when it does not answer.
    pub fn health(&self, i: usize) -> Option<u16> {
        self.try_send(&self.agent, i, "GET", "sys/health", None, None)
            .map(|(status, _)| status)
            .filter(|&status| status != 0)
    }

    // -- private --------------------------------------------------------

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{}", i + 1))
    }

    fn config_path(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("bao.hcl")
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("bao.log")
    }

    fn write_config(&self, i: usize) {
        let raft = self.node_dir(i).join("raft");
        std::fs::create_dir_all(&raft).unwrap();
        let node = &self.nodes[i];
        let retry_join: String = (0..NODES)
            .filter(|&j| j != i)
            .map(|j| {
                format!(
                    "  retry_join {{\n    leader_api_addr = \"http://127.0.0.1:{}\"\n  }}\n",
                    self.nodes[j].api_port
                )
            })
            .collect();
        // performance_multiplier = 1: 1 s heartbeat and election timeouts
        // (the default, 5, made failover take 10-15 s on loopback).
        let config = format!(
            "# Written by tests/support/bao_cluster.rs\n\
             storage \"raft\" {{\n  \
               path = {path}\n  \
               node_id = \"node{n}\"\n  \
               performance_multiplier = 1\n  \
               autopilot_reconcile_interval = \"1s\"\n  \
               autopilot_update_interval = \"500ms\"\n\
             {retry_join}}}\n\
             listener \"tcp\" {{\n  \
               address = \"127.0.0.1:{api}\"\n  \
               cluster_address = \"127.0.0.1:{cluster}\"\n  \
               tls_disable = true\n\
             }}\n\
             api_addr = \"http://127.0.0.1:{api}\"\n\
             cluster_addr = \"https://127.0.0.1:{cluster}\"\n\
             ui = false\n",
            path = hcl_string(&raft),
            n = i + 1,
            api = node.api_port,
            cluster = node.cluster_port,
        );
        std::fs::write(self.config_path(i), config).unwrap();
    }

    fn spawn(&mut self, i: usize) {
        assert!(self.nodes[i].running.is_none(), "node {i} already runs");
        self.nodes[i].starts += 1;
        let log = self.log_path(i);
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(
                    f,
                    "==== harness: start {} of node {i}",
                    self.nodes[i].starts
                )
            });
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WRAPPER)
            .arg("sh")
            .arg(&self.bao)
            .arg("server")
            .arg(format!("-config={}", self.config_path(i).display()))
            .env("BAO_LOG", &log)
            .env("HOME", self.node_dir(i))
            .current_dir(self.node_dir(i))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for name in SCRUBBED_ENV {
            command.env_remove(name);
        }
        let mut wrapper = command.spawn().expect("spawn sh for bao server");
        let stdin = wrapper.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(wrapper.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the wrapper prints bao's pid");
        let pid: i32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the bao wrapper printed {line:?}, not a pid"));
        self.nodes[i].running = Some(Running {
            wrapper,
            stdin,
            pid,
            killed: false,
        });
    }

    /// Stops node `i` if it runs (or reaps it if it was killed).
    fn stop(&mut self, i: usize) {
        if let Some(Running {
            mut wrapper, stdin, ..
        }) = self.nodes[i].running.take()
        {
            drop(stdin); // the wrapper kills bao and waits for it
            let _ = wrapper.wait();
        }
    }

    /// Waits until node `i` answers HTTP, then checks that the pid the
    /// wrapper printed is the bao server itself.
    fn wait_listening(&self, i: usize) {
        self.wait_until(&format!("node {i} to answer HTTP"), |c| {
            c.health(i).is_some()
        });
        let pid = self.nodes[i].running.as_ref().unwrap().pid;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "bao" {
            self.fail(&format!(
                "pid {pid} (what the wrapper started) is {comm:?}, not bao: {} forks instead of \
                 exec'ing the server, so kill -9 would miss it",
                self.bao.display()
            ));
        }
    }

    /// Sends node `i` the unseal key: (status, body), status 0 when it got
    /// no answer.
    fn unseal(&self, i: usize) -> (u16, String) {
        self.request(
            i,
            "PUT",
            "sys/unseal",
            None,
            Some(&json!({"key": self.unseal_key})),
        )
    }

    /// Sends each joiner the unseal key once its retry_join has fetched the
    /// challenge (before that the key is dropped), again if it is still
    /// sealed 5 s later, until each is an unsealed standby.
    fn unseal_joiners(&self, joiners: &[usize]) {
        let mut sent: Vec<Option<Instant>> = vec![None; NODES];
        self.wait_until("the other nodes to join and unseal", |c| {
            let mut all = true;
            for &i in joiners {
                if matches!(c.health(i), Some(200 | 429)) {
                    continue;
                }
                all = false;
                let Some((200, body)) =
                    c.try_send(&c.agent, i, "GET", "sys/seal-status", None, None)
                else {
                    continue;
                };
                let status: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let ready = status["initialized"] == true && status["sealed"] == true;
                let due = sent[i].is_none_or(|at| at.elapsed() > Duration::from_secs(5));
                if ready && due {
                    c.unseal(i);
                    sent[i] = Some(Instant::now());
                }
            }
            all
        });
    }

    /// Mounts `path` with `config` unless it is mounted (then it must be of
    /// the same type and version).
    fn mount(&self, path: &str, config: Value) {
        let leader = self.leader();
        let (status, body) = self.send(leader, "GET", &format!("sys/mounts/{path}"), None);
        if status == 200 {
            let mounted: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let same = mounted["type"] == config["type"]
                && mounted.pointer("/options/version") == config.pointer("/options/version");
            if !same {
                self.fail(&format!("{path}/ is already mounted, differently: {body}"));
            }
            return;
        }
        let (status, body) =
            self.send(leader, "POST", &format!("sys/mounts/{path}"), Some(&config));
        if !(200..300).contains(&status) {
            self.fail(&format!("mounting {path}/ answered {status}: {body}"));
        }
    }

    /// Whether node `i` serves a write now (to the harness's own mount).
    fn serves_writes(&self, i: usize) -> bool {
        let (status, _) = self.raw(
            i,
            "POST",
            &format!("{PROBE_MOUNT}/alive"),
            Some(&json!({"at": format!("{:?}", Instant::now())})),
        );
        (200..300).contains(&status)
    }

    /// A request with the root token that must get an answer.
    fn send(&self, i: usize, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let token = (!self.root_token.is_empty()).then_some(self.root_token.as_str());
        self.send_with(&self.agent, i, method, path, token, body)
    }

    fn send_with(
        &self,
        agent: &ureq::Agent,
        i: usize,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, String) {
        match self.try_send(agent, i, method, path, token, body) {
            Some(answer) => answer,
            None => self.fail(&format!("{method} /v1/{path} on node {i} got no answer")),
        }
    }

    /// One request to node `i`: (status, body), or `None` when it could not
    /// be sent or its answer was lost.
    fn try_send(
        &self,
        agent: &ureq::Agent,
        i: usize,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Option<(u16, String)> {
        let url = format!("{}/v1/{path}", self.addr(i));
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        let result = match body {
            Some(body) => agent.run(
                request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .ok()?,
            ),
            None => agent.run(request.body(()).ok()?),
        };
        let mut response = result.ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().ok()?;
        Some((status, text))
    }

    /// Polls `done` every 50 ms until it holds, or panics with the logs.
    fn wait_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        self.wait_for(what, |c| done(c).then_some(()))
    }

    fn wait_for<T>(&self, what: &str, mut found: impl FnMut(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(value) = found(self) {
                return value;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {} s for {what}", STEP_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics with `problem`, each node's health and the end of its log.
    fn fail(&self, problem: &str) -> ! {
        let mut report = format!(
            "OpenBao cluster in {}: {problem}\n",
            self.dir.path().display()
        );
        for i in 0..NODES {
            let log = self.log(i);
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            report.push_str(&format!(
                "\n--- node {i} ({}, {}, sys/health {:?}); last lines of its log:\n{tail}\n",
                self.addr(i),
                match &self.nodes[i].running {
                    None => "not running".to_string(),
                    Some(r) if r.killed => format!("killed, was pid {}", r.pid),
                    Some(r) => format!("pid {}", r.pid),
                },
                self.health(i),
            ));
        }
        panic!("{report}");
    }
}

impl Drop for BaoCluster {
    fn drop(&mut self) {
        // Close every wrapper's stdin first, so the nodes die together.
        let running: Vec<Running> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.running.take())
            .collect();
        let mut wrappers = Vec::new();
        for Running { wrapper, stdin, .. } in running {
            drop(stdin);
            wrappers.push(wrapper);
        }
        for mut wrapper in wrappers {
            let _ = wrapper.wait();
        }
    }
}
