//! One line of the audit log, and the hash that chains it to the one before.
//!
//! A line is the JSON of a [`RecordBody`] — `prev` first, then `seq` and the
//! call event's fields in a fixed order — with `"hash":"<hex>"` appended as
//! its last member. The hash covers exactly the body's bytes:
//! `sha256(DOMAIN_TAG || body)`. Because the body is the line minus a
//! fixed-shape suffix, a verifier checks the chain without parsing JSON,
//! which keeps verification close to raw sha256 speed.

use super::{CallEvent, CallRecord, Decision};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Separates audit hashes from any other use of sha256 over similar bytes.
pub const DOMAIN_TAG: &[u8] = b"agentward-audit-record-v1\0";

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HEX_LEN: usize = 64;
const PREV_PREFIX: &[u8] = b"{\"prev\":\"";
const HASH_PREFIX: &[u8] = b",\"hash\":\"";
/// `,"hash":"` + 64 hex + `"}`
const HASH_SUFFIX_LEN: usize = HASH_PREFIX.len() + HEX_LEN + 2;

/// What is hashed: the hash before it, its position, and the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordBody {
    pub prev: String,
    pub seq: u64,
    #[serde(flatten)]
    pub event: CallEvent,
}

/// A record as read back: the body and the hash it claims.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AuditRecord {
    #[serde(flatten)]
    pub body: RecordBody,
    pub hash: String,
}

impl RecordBody {
    pub fn new(prev: String, seq: u64, event: &CallEvent) -> RecordBody {
        RecordBody {
            prev,
            seq,
            event: event.clone(),
        }
    }

    /// The line to append (with its newline) and the record's hash.
    pub fn encode(&self) -> (Vec<u8>, String) {
        encode(&self.prev, self.seq, &self.event)
    }
}

/// The line recording `event` as record `seq` after `prev`, and its hash.
pub fn encode(prev: &str, seq: u64, event: &CallEvent) -> (Vec<u8>, String) {
    let fields = Fields {
        ts: &event.ts,
        change_id: &event.change_id,
        role: &event.role,
        component: &event.component,
        call: &event.call,
        decision: event.decision,
        outcome: &event.outcome,
        duration_us: event.duration_us,
    };
    let args = event
        .args
        .iter()
        .map(|(name, value)| (name.as_str(), value));
    let mut line = Vec::with_capacity(LINE_CAPACITY);
    let hash = write_line(&mut line, prev, seq, &fields, args);
    (line, hex_string(&hash))
}

/// The line recording `call` as record `seq` after `prev`, and its hash:
/// the same bytes as [`encode`] of [`CallRecord::to_event`], made without it.
pub fn encode_call(prev: &str, seq: u64, call: &CallRecord) -> (Vec<u8>, String) {
    let mut line = Vec::with_capacity(LINE_CAPACITY);
    let hash = write_call(&mut line, prev, seq, call);
    (line, hex_string(&hash))
}

/// Appends the line of [`encode_call`] to `out` (a batch of lines), and
/// returns the record's hash.
pub fn write_call(out: &mut Vec<u8>, prev: &str, seq: u64, call: &CallRecord) -> HexDigest {
    let ts = crate::time::rfc3339(call.at);
    let fields = Fields {
        ts: &ts,
        change_id: &call.caller.change_id,
        role: &call.caller.role,
        component: &call.caller.component,
        call: call.call,
        decision: call.decision,
        outcome: &call.outcome,
        duration_us: call.duration_us,
    };
    write_line(out, prev, seq, &fields, call.args.iter())
}

/// Room for a typical record (a component digest, a hash and a short
/// argument list come to ~450 bytes), so most lines never reallocate.
const LINE_CAPACITY: usize = 640;

/// An event's fields but its arguments, borrowed.
struct Fields<'a> {
    ts: &'a str,
    change_id: &'a str,
    role: &'a str,
    component: &'a str,
    call: &'a str,
    decision: Decision,
    outcome: &'a str,
    duration_us: u64,
}

/// Appends the record's JSON, as serde writes a [`RecordBody`] (`prev`,
/// `seq`, the event's fields in declaration order, arguments by name), with
/// the hash member before the closing brace and a newline after it.
fn write_line<'n, 'v>(
    out: &mut Vec<u8>,
    prev: &str,
    seq: u64,
    f: &Fields,
    args: impl Iterator<Item = (&'n str, &'v Value)>,
) -> HexDigest {
    let start = out.len();
    let string = |out: &mut Vec<u8>, s: &str| {
        serde_json::to_writer(out, s).expect("a string serializes into memory")
    };
    out.extend_from_slice(PREV_PREFIX);
    out.extend_from_slice(prev.as_bytes());
    out.extend_from_slice(b"\",\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    for (name, value) in [
        ("ts", f.ts),
        ("change_id", f.change_id),
        ("role", f.role),
        ("component", f.component),
        ("call", f.call),
    ] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        string(out, value);
    }
    out.extend_from_slice(b",\"args\":{");
    for (n, (name, value)) in args.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        string(out, name);
        out.push(b':');
        serde_json::to_writer(&mut *out, value).expect("a value serializes into memory");
    }
    out.extend_from_slice(match f.decision {
        Decision::Allow => b"},\"decision\":\"allow\",\"outcome\":",
        Decision::Deny => b"},\"decision\":\"deny\",\"outcome\":",
    });
    string(out, f.outcome);
    out.extend_from_slice(b",\"duration_us\":");
    out.extend_from_slice(itoa::Buffer::new().format(f.duration_us).as_bytes());
    let hash = hash_open_body(&out[start..]);
    out.extend_from_slice(HASH_PREFIX);
    out.extend_from_slice(&hash);
    out.extend_from_slice(b"\"}\n");
    hash
}

/// The record's hash, `sha256(DOMAIN_TAG || body)` in hex, of a body
/// written without its closing brace, which the line puts after the hash
/// member instead.
fn hash_open_body(open: &[u8]) -> HexDigest {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN_TAG);
    hasher.update(open);
    hasher.update(b"}");
    let mut hex = [0u8; HEX_LEN];
    hex::encode_to_slice(hasher.finalize(), &mut hex).expect("64 hex digits");
    hex
}

pub fn hex_string(digest: &HexDigest) -> String {
    String::from_utf8(digest.to_vec()).expect("hex is ASCII")
}

/// A sha256 digest in lower-case hex, as the log stores it. The chain check
/// compares in hex so that verifying never decodes.
pub type HexDigest = [u8; HEX_LEN];

/// The parts of a line the chain check needs, found without a JSON parser
/// and without allocating.
pub struct RawLine {
    pub prev: HexDigest,
    pub seq: u64,
    /// sha256 of the hashed bytes (the line minus its hash member), in hex.
    pub body_hash: HexDigest,
    pub claimed_hash: HexDigest,
}

/// Why a line is not a well-formed record.
pub fn split_line(line: &[u8]) -> Result<RawLine, &'static str> {
    if !line.starts_with(PREV_PREFIX) || line.len() < PREV_PREFIX.len() + HEX_LEN + HASH_SUFFIX_LEN
    {
        return Err("not an audit record (it must start with {\"prev\":\")");
    }
    let suffix_start = line.len() - HASH_SUFFIX_LEN;
    let suffix = &line[suffix_start..];
    if !suffix.starts_with(HASH_PREFIX) || !suffix.ends_with(b"\"}") {
        return Err("the record does not end with its hash");
    }
    let claimed_hash: HexDigest = suffix[HASH_PREFIX.len()..HASH_PREFIX.len() + HEX_LEN]
        .try_into()
        .expect("length checked above");
    let prev_end = PREV_PREFIX.len() + HEX_LEN;
    let prev: HexDigest = line[PREV_PREFIX.len()..prev_end]
        .try_into()
        .expect("length checked above");
    let seq = parse_seq(&line[prev_end..]).ok_or("the record has no seq after prev")?;
    let body_hash = hash_open_body(&line[..suffix_start]);
    Ok(RawLine {
        prev,
        seq,
        body_hash,
        claimed_hash,
    })
}

/// `","seq":123,...` → 123
fn parse_seq(rest: &[u8]) -> Option<u64> {
    let digits = rest.strip_prefix(b"\",\"seq\":")?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Decision;

    fn event() -> CallEvent {
        let mut args = serde_json::Map::new();
        args.insert("path".into(), "npm/token".into());
        CallEvent {
            ts: "2026-11-25T00:00:00Z".into(),
            change_id: "01J".into(),
            role: "planner".into(),
            component: "ab".repeat(32),
            call: "secrets-meta.describe".into(),
            args,
            decision: Decision::Allow,
            outcome: "ok".into(),
            duration_us: 7,
        }
    }

    #[test]
    fn encoded_line_splits_back_to_its_hash() {
        let body = RecordBody::new(GENESIS.into(), 0, &event());
        let (line, hash) = body.encode();
        let raw = split_line(line.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(&raw.prev, GENESIS.as_bytes());
        assert_eq!(raw.seq, 0);
        assert_eq!(&raw.claimed_hash, hash.as_bytes());
        assert_eq!(raw.body_hash, raw.claimed_hash);
        let parsed: AuditRecord = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed.body, body);
        assert_eq!(parsed.hash, hash);
    }

    /// Readers parse records with serde, and `audit verify` hashes the
    /// bytes as written: the hand-written line must be serde's JSON of the
    /// same body, escapes and all, whichever way the event was made.
    #[test]
    fn a_line_is_serdes_json_of_its_body_whether_made_from_an_event_or_a_call() {
        use crate::audit::{Args, Caller};
        use std::sync::Arc;
        let mut args = Args::new();
        args.insert("url", "https://x/\"quoted\"\n\u{1}\u{e9}\u{2028}".into());
        args.insert("headers", serde_json::json!(["a", {"b": [1, 2.5, null]}]));
        args.insert("bytes", 12.into());
        let call = CallRecord {
            at: std::time::UNIX_EPOCH + std::time::Duration::new(1_800_000_000, 42),
            caller: Arc::new(Caller {
                change_id: "01J".into(),
                role: "implementer".into(),
                component: "ab".repeat(32),
            }),
            call: "http.send",
            args,
            decision: Decision::Deny,
            outcome: "role implementer may not \"send\"\t…".into(),
            duration_us: u64::MAX,
        };
        let body = RecordBody::new(GENESIS.into(), 7, &call.to_event());
        let (from_event, hash) = body.encode();
        let (from_call, call_hash) = encode_call(GENESIS, 7, &call);
        assert_eq!(from_call, from_event);
        assert_eq!(call_hash, hash);
        let serde = serde_json::to_vec(&body).unwrap();
        let cut = from_event.len() - HASH_SUFFIX_LEN - 1;
        assert_eq!(
            String::from_utf8_lossy(&[&from_event[..cut], b"}"].concat()),
            String::from_utf8_lossy(&serde)
        );
        let raw = split_line(from_event.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(raw.body_hash, raw.claimed_hash);
    }

    #[test]
    fn any_edit_changes_the_hash() {
        let (line, hash) = RecordBody::new(GENESIS.into(), 0, &event()).encode();
        let text = String::from_utf8(line)
            .unwrap()
            .replace("npm/token", "npm/tokem");
        let raw = split_line(text.trim_end().as_bytes()).unwrap();
        assert_eq!(&raw.claimed_hash, hash.as_bytes());
        assert_ne!(raw.body_hash, raw.claimed_hash);
    }
}
