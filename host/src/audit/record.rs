//! One line of the audit log, and the hash that chains it to the one before.
//!
//! A line is the JSON of a [`RecordBody`] — `prev` first, then `seq` and the
//! call event's fields in a fixed order — with `"hash":"<hex>"` appended as
//! its last member. The hash covers exactly the body's bytes:
//! `sha256(DOMAIN_TAG || body)`. Because the body is the line minus a
//! fixed-shape suffix, a verifier checks the chain without parsing JSON,
//! which keeps verification close to raw sha256 speed.

use super::CallEvent;
use serde::{Deserialize, Serialize};
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

/// [`RecordBody`] by reference: appending serializes without cloning the event.
#[derive(Serialize)]
struct BodyRef<'a> {
    prev: &'a str,
    seq: u64,
    #[serde(flatten)]
    event: &'a CallEvent,
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
    let body = serde_json::to_vec(&BodyRef { prev, seq, event }).expect("records serialize");
    let hash = hash_body(&body);
    let mut line = body;
    line.pop(); // the closing brace; the hash member goes before it
    line.extend_from_slice(HASH_PREFIX);
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(b"\"}\n");
    (line, hash)
}

pub fn hash_body(body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN_TAG);
    hasher.update(body);
    hex::encode(hasher.finalize())
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
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN_TAG);
    hasher.update(&line[..suffix_start]);
    hasher.update(b"}");
    let mut body_hash = [0u8; HEX_LEN];
    hex::encode_to_slice(hasher.finalize(), &mut body_hash).expect("64 hex digits");
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
