//! Where a text holds a value, as it is or re-encoded.
//!
//! Re-encoding a value is the first thing a role would try to slip it past
//! a substring check, so a value is looked for in the forms it can take on
//! its way out: as it is; hex, in any case; base64 and base64url, with or
//! without padding, at each of the three byte alignments a value can have
//! inside a longer encoded text (without the edge characters the
//! neighbouring bytes change, so `base64("token=" + value)` is found too);
//! and percent-encoded, each byte as it is, as `%XX` in either case, or a
//! space as `+`. Both the redaction of guest-written text and the check of
//! a prompt before it leaves read the same forms from here.

use base64::Engine;
use std::ops::Range;

/// Values shorter than this are matched only as they are and
/// percent-encoded: a hex or base64 encoding of a few bytes is a few
/// characters, found in ordinary text by chance.
pub(crate) const MIN_ENCODED_LEN: usize = 8;

/// One place a text holds a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Occurrence {
    /// Byte range in the text, whole characters.
    pub range: Range<usize>,
    /// "as it is", "hex-encoded", "base64-encoded", "base64url-encoded",
    /// "URL-encoded".
    pub encoding: &'static str,
}

/// Every place `text` holds `value`, form by form in the order above,
/// each form's places in text order. Places of different forms may overlap.
pub(crate) fn occurrences(text: &str, value: &[u8]) -> Vec<Occurrence> {
    let mut found = Vec::new();
    if value.is_empty() {
        return found;
    }
    let haystack = text.as_bytes();
    let mut push = |range: Range<usize>, encoding| {
        found.push(Occurrence {
            range: whole_chars(text, range),
            encoding,
        })
    };
    for at in memchr::memmem::find_iter(haystack, value) {
        push(at..at + value.len(), "as it is");
    }
    for at in 0..haystack.len() {
        if let Some(end) = percent_encoded_at(haystack, at, value, false) {
            push(at..end, "URL-encoded");
        }
    }
    if value.len() < MIN_ENCODED_LEN {
        return found;
    }
    let hex = hex::encode(value).into_bytes();
    for (at, window) in haystack.windows(hex.len()).enumerate() {
        if window.eq_ignore_ascii_case(&hex) {
            push(at..at + hex.len(), "hex-encoded");
        }
    }
    for (core, encoding) in base64_cores(value) {
        for at in memchr::memmem::find_iter(haystack, &core) {
            push(at..at + core.len(), encoding);
        }
    }
    found
}

/// The characters of `value`'s base64 that hold only its own bits, at
/// each alignment, in both alphabets: the characters holding any bit of
/// the bytes before or after it differ with the context, and padding is
/// never among them.
fn base64_cores(value: &[u8]) -> Vec<(Vec<u8>, &'static str)> {
    let mut cores = Vec::new();
    for shift in 0..3 {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(value);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&shifted);
        let first = (8 * shift).div_ceil(6);
        let end = 8 * (shift + value.len()) / 6;
        let core = &encoded.as_bytes()[first..end];
        cores.push((core.to_vec(), "base64-encoded"));
        if core.iter().any(|&b| b == b'+' || b == b'/') {
            let url_safe = core
                .iter()
                .map(|&b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    b => b,
                })
                .collect();
            cores.push((url_safe, "base64url-encoded"));
        }
    }
    cores
}

/// Where a percent-encoded `value` that starts at `at` ends, if one does
/// and at least one of its bytes is encoded (`encoded`: one already was).
/// A `%` in the value may stand as it is or as `%25`, so both are tried.
fn percent_encoded_at(text: &[u8], at: usize, value: &[u8], encoded: bool) -> Option<usize> {
    let Some((&byte, rest)) = value.split_first() else {
        return encoded.then_some(at);
    };
    let next = text.get(at)?;
    if *next == byte {
        if let Some(end) = percent_encoded_at(text, at + 1, rest, encoded) {
            return Some(end);
        }
    }
    if byte == b' ' && *next == b'+' {
        return percent_encoded_at(text, at + 1, rest, true);
    }
    if *next == b'%' {
        let pair = text.get(at + 1..at + 3)?;
        let decoded = std::str::from_utf8(pair)
            .ok()
            .and_then(|p| u8::from_str_radix(p, 16).ok());
        if decoded == Some(byte) {
            return percent_encoded_at(text, at + 3, rest, true);
        }
    }
    None
}

/// `range` widened to whole characters, so it can be cut out of `text`.
fn whole_chars(text: &str, range: Range<usize>) -> Range<usize> {
    let mut start = range.start;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = range.end;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encodings(text: &str, value: &str) -> Vec<&'static str> {
        occurrences(text, value.as_bytes())
            .into_iter()
            .map(|o| o.encoding)
            .collect()
    }

    #[test]
    fn a_percent_sign_in_the_value_may_stand_as_it_is_or_encoded() {
        assert_eq!(encodings("x=100%25off", "100%off"), ["URL-encoded"]);
        assert_eq!(encodings("x=100%off", "100%off"), ["as it is"]);
        assert_eq!(encodings("a+b%20c", "a b c"), ["URL-encoded"]);
    }

    #[test]
    fn short_values_are_matched_only_as_they_are_and_url_encoded() {
        assert_eq!(
            encodings("736563 c2Vj sec %73ec", "sec"),
            ["as it is", "URL-encoded"]
        );
    }
}
