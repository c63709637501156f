//! Property: a value the run touched never leaves in guest-written text,
//! whole, split across writes, or base64-, hex- or URL-encoded.
//!
//! The text is what a role would write: context, the value in some form
//! (inside other bytes for the encoded forms, so at any alignment), pieces
//! of the value beside it, and another touched value that may overlap it.
//! It goes through a WASI memory pipe in arbitrary writes, the way stdout
//! and stderr are captured, and is scrubbed as the runtime scrubs it. The
//! check does not ask the redaction's own list of forms: it decodes every
//! run of hex and base64 characters at every offset, and the whole text
//! as a URL, and looks for the value in what comes out.

use super::Redactor;
use crate::audit::encoded::MIN_ENCODED_LEN;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{general_purpose, DecodePaddingMode};
use base64::{alphabet, Engine};
use proptest::prelude::*;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::OutputStream;

/// A scrub of a few hundred bytes and a decode of every run: cheap.
const CASES: u32 = 2000;

/// A value as a store would hand one out: long enough for every encoded
/// form to be redacted, and with the characters encodings treat apart.
fn value() -> impl Strategy<Value = String> {
    let min = MIN_ENCODED_LEN;
    let regex = |r: String| proptest::string::string_regex(&r).expect("a valid regex");
    prop_oneof![
        regex(format!("[A-Za-z0-9_+/=-]{{{min},40}}")),
        regex(format!("[ -~]{{{min},40}}")),
        regex(format!("[a-z0-9 %+\u{e9}\u{65e5}\u{1f511}]{{{min},24}}")),
    ]
    .prop_filter("at least the minimum in bytes", move |v| v.len() >= min)
}

/// How the role writes the value out.
#[derive(Clone, Copy, Debug)]
enum Form {
    AsItIs,
    HexLower,
    HexUpper,
    Base64,
    Base64NoPad,
    Base64Url,
    Base64UrlNoPad,
    /// Each byte as it is where that is legal, else `%XX`, the hex digits'
    /// case and which bytes are encoded picked by `mask`.
    Percent,
}

fn form() -> impl Strategy<Value = Form> {
    prop::sample::select(vec![
        Form::AsItIs,
        Form::HexLower,
        Form::HexUpper,
        Form::Base64,
        Form::Base64NoPad,
        Form::Base64Url,
        Form::Base64UrlNoPad,
        Form::Percent,
    ])
}

fn encode(form: Form, bytes: &[u8], mask: &[u8]) -> String {
    match form {
        Form::AsItIs => String::from_utf8_lossy(bytes).into_owned(),
        Form::HexLower => hex::encode(bytes),
        Form::HexUpper => hex::encode_upper(bytes),
        Form::Base64 => general_purpose::STANDARD.encode(bytes),
        Form::Base64NoPad => general_purpose::STANDARD_NO_PAD.encode(bytes),
        Form::Base64Url => general_purpose::URL_SAFE.encode(bytes),
        Form::Base64UrlNoPad => general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        Form::Percent => bytes
            .iter()
            .zip(mask.iter().cycle())
            .map(|(&b, &m)| match (b, m % 4) {
                (b' ', 0) => "+".to_string(),
                (b, 0 | 1) if b.is_ascii_alphanumeric() => (b as char).to_string(),
                (b, 2) => format!("%{b:02x}"),
                (b, _) => format!("%{b:02X}"),
            })
            .collect(),
    }
}

/// A role's output: the value in `form` with bytes around it inside the
/// encoding, context outside it, and pieces of the value beside it.
#[derive(Debug)]
struct Output {
    values: Vec<String>,
    text: String,
    /// Where the writes end, as fractions of the text.
    cuts: Vec<prop::sample::Index>,
}

fn output() -> impl Strategy<Value = Output> {
    (value(), value()).prop_flat_map(|(secret, other)| {
        let piece = {
            let secret = secret.clone();
            (0..secret.len(), any::<bool>()).prop_map(move |(at, head)| {
                let at = floor_boundary(&secret, at);
                if head {
                    secret[..at].to_string()
                } else {
                    secret[at..].to_string()
                }
            })
        };
        let context = prop_oneof![
            "[ -~]{0,12}",
            "[A-Za-z0-9+/=_-]{0,12}",
            "[0-9a-fA-F]{0,12}",
            piece
        ];
        (
            Just(secret.clone()),
            // Another touched value: unrelated, or a slice of this one.
            prop_oneof![
                Just(other),
                (0..=secret.len() - MIN_ENCODED_LEN).prop_map({
                    let secret = secret.clone();
                    move |at| secret[floor_boundary(&secret, at)..].to_string()
                })
            ],
            form(),
            prop::collection::vec(any::<u8>(), 0..4),
            prop::collection::vec(any::<u8>(), 0..4),
            prop::collection::vec(any::<u8>(), 1..16),
            prop::collection::vec(context, 0..4),
            prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        )
            .prop_map(
                |(secret, other, form, before, after, mask, context, cuts)| {
                    let mut bytes = before;
                    bytes.extend_from_slice(secret.as_bytes());
                    bytes.extend_from_slice(&after);
                    let encoded = match form {
                        // As it is, the bytes around it would make text that is
                        // not UTF-8 (the pipe is read lossily): context only.
                        Form::AsItIs => secret.clone(),
                        _ => encode(form, &bytes, &mask),
                    };
                    let mut text = String::new();
                    let half = context.len() / 2;
                    for c in &context[..half] {
                        text.push_str(c);
                    }
                    text.push_str(&encoded);
                    for c in &context[half..] {
                        text.push_str(c);
                    }
                    Output {
                        values: vec![secret, other],
                        text,
                        cuts,
                    }
                },
            )
    })
}

/// The last character boundary of `s` at or before `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// `text` written to a pipe in pieces and read back as the runtime reads
/// a role's stdout.
fn captured(text: &str, cuts: &[prop::sample::Index]) -> String {
    let bytes = text.as_bytes();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    cuts.sort();
    let mut pipe = MemoryOutputPipe::new(1 << 20);
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        pipe.write(bytes::Bytes::copy_from_slice(&bytes[from..cut]))
            .unwrap();
        from = cut;
    }
    String::from_utf8_lossy(&pipe.contents()).into_owned()
}

/// Everything a reader could decode out of `text`'s runs of `alphabet`,
/// starting at every offset in `step` characters.
fn decoded_runs(
    text: &str,
    in_alphabet: impl Fn(u8) -> bool,
    step: usize,
    decode: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for run in text.as_bytes().split(|&b| !in_alphabet(b)) {
        for offset in 0..step.min(run.len()) {
            out.push(decode(&run[offset..]));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where `value` can still be read in `text`, if anywhere.
fn readable(text: &str, value: &[u8]) -> Option<&'static str> {
    if contains(text.as_bytes(), value) {
        return Some("as it is");
    }
    let lenient = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    let base64 = |run: &[u8]| {
        let mut run: Vec<u8> = run
            .iter()
            .map(|&b| match b {
                b'-' => b'+',
                b'_' => b'/',
                b => b,
            })
            .collect();
        if run.len() % 4 == 1 {
            run.pop();
        }
        lenient.decode(&run).unwrap_or_default()
    };
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || b"+/-_".contains(&b);
    if decoded_runs(text, is_base64, 4, base64)
        .iter()
        .any(|d| contains(d, value))
    {
        return Some("base64");
    }
    let hex = |run: &[u8]| {
        let even = &run[..run.len() / 2 * 2];
        hex::decode(even).unwrap_or_default()
    };
    if decoded_runs(text, |b| b.is_ascii_hexdigit(), 2, hex)
        .iter()
        .any(|d| contains(d, value))
    {
        return Some("hex");
    }
    let url = percent_encoding::percent_decode_str(text).collect::<Vec<u8>>();
    let form = percent_encoding::percent_decode_str(&text.replace('+', " ")).collect::<Vec<u8>>();
    if contains(&url, value) || contains(&form, value) {
        return Some("URL-encoded");
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_touched_value_is_never_readable_in_scrubbed_output(out in output()) {
        let r = Redactor::new([9; 32]);
        let text = captured(&out.text, &out.cuts);
        let scrubbed = r.scrub(&text, out.values.iter().map(String::as_str));
        for value in &out.values {
            prop_assert_eq!(
                readable(&scrubbed, value.as_bytes()),
                None,
                "{:?} in {:?} scrubbed to {:?}",
                value,
                out.text,
                scrubbed
            );
        }
    }
}
