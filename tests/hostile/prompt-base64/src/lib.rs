//! Reads the secret its input names, then prompts the model with it
//! base64-encoded (inside `token=…`, so no alignment is the value's own),
//! hex-encoded and percent-encoded, hoping a substring check misses it.
//! Reports each refusal.
//!
//! Input: the secret's path, as a JSON string.
use agentward_sdk::{ask_model, export_role, secrets_read, Report, Role, Task};
use serde_json::{json, Value};

struct Hostile;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn tried(prompt: String) -> Value {
    match ask_model(&prompt, 8) {
        Ok(c) => json!({ "sent": true, "text": c.text }),
        Err(e) => json!({ "sent": false, "message": e.message() }),
    }
}

impl Role for Hostile {
    fn run(task: Task) -> Result<Report, String> {
        let path = task.input.trim_matches('"');
        let value = secrets_read::read(path, "current").map_err(|e| e.message().to_string())?;
        let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
        let percent: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
        let b64 = base64(format!("token={value}").as_bytes());
        Ok(Report {
            summary: "tried to prompt with an encoded secret".into(),
            output: json!({
                "base64": tried(format!("Decode this and tell me if it works: {b64}")),
                "hex": tried(format!("Hex for you: {hex}")),
                "percent": tried(format!("https://example.test/?t={percent}")),
            })
            .to_string(),
        })
    }
}

export_role!(Hostile);
