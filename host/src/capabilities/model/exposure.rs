//! Whether a prompt would carry a secret off the host.
//!
//! A prompt leaves for a model provider, where it may be logged, kept and
//! trained on, so nothing the run knows to be secret may be in it: not a
//! value the run touched, not a live handle, and not either of them
//! base64-, hex- or URL-encoded, since re-encoding a value is the first
//! thing a role would try to slip it past a substring check. Base64 is
//! matched at each of the three byte alignments a value can have inside a
//! longer encoded text, without the edge characters the neighbouring bytes
//! change, so `base64("token=" + value)` is caught too.
//!
//! A finding says which message, at which byte, and what kind of thing
//! (which secret's handle, or "a secret value"), never the value.

use base64::Engine;

/// Values shorter than this are matched only as they are: an encoding of
/// a few bytes is a few characters, found in ordinary text by chance.
const MIN_ENCODED_LEN: usize = 8;

/// Something the prompt must not carry, and how a finding names it.
pub(crate) struct Needle<'a> {
    pub bytes: &'a [u8],
    pub what: String,
}

/// Where a prompt carries a needle.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Exposure {
    /// Index of the message, from 0.
    pub message: usize,
    /// Byte offset in that message's content (in the decoded text, for a
    /// URL-encoded value).
    pub offset: usize,
    pub what: String,
    /// "as it is", "base64-encoded", …
    pub encoding: &'static str,
}

/// The first place any message's content carries any needle.
pub(crate) fn find<'m>(
    contents: impl IntoIterator<Item = &'m str>,
    needles: &[Needle<'_>],
) -> Option<Exposure> {
    let forms: Vec<(usize, &'static str, Vec<u8>, bool)> = needles
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.bytes.is_empty())
        .flat_map(|(i, n)| {
            forms(n.bytes)
                .into_iter()
                .map(move |(e, f, ci)| (i, e, f, ci))
        })
        .collect();
    for (message, content) in contents.into_iter().enumerate() {
        let lower = content.to_ascii_lowercase();
        let decoded = percent_decode(content.as_bytes());
        for (needle, encoding, form, case_insensitive) in &forms {
            let haystack = if *case_insensitive {
                lower.as_bytes()
            } else {
                content.as_bytes()
            };
            let found = position(haystack, form)
                .map(|at| (at, *encoding))
                .or_else(|| {
                    (*encoding == "as it is")
                        .then(|| position(&decoded, form).map(|at| (at, "URL-encoded")))
                        .flatten()
                });
            if let Some((offset, encoding)) = found {
                return Some(Exposure {
                    message,
                    offset,
                    what: needles[*needle].what.clone(),
                    encoding,
                });
            }
        }
    }
    None
}

/// The forms a value is looked for in: (encoding, bytes, whether the
/// match ignores ASCII case).
fn forms(value: &[u8]) -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut forms = vec![("as it is", value.to_vec(), false)];
    if value.len() < MIN_ENCODED_LEN {
        return forms;
    }
    forms.push(("hex-encoded", hex::encode(value).into_bytes(), true));
    for shift in 0..3 {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(value);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&shifted);
        // Characters that hold only bits of `value`: those holding any bit
        // of the bytes before or after it differ with the context.
        let first = (8 * shift).div_ceil(6);
        let end = 8 * (shift + value.len()) / 6;
        let core = &encoded[first..end];
        forms.push(("base64-encoded", core.as_bytes().to_vec(), false));
        let url_safe: String = core
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        if url_safe != core {
            forms.push(("base64url-encoded", url_safe.into_bytes(), false));
        }
    }
    forms
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `%XX` decoded and `+` read as a space, as query strings and form bodies
/// are written; anything else is kept as it is.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&spaced).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "npm_S3cr3t+Value/0123456789";

    fn found(prompt: &str) -> Option<Exposure> {
        find(
            [prompt],
            &[Needle {
                bytes: VALUE.as_bytes(),
                what: "a secret value".into(),
            }],
        )
    }

    #[test]
    fn a_value_is_found_as_it_is_and_in_every_encoding() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let b64url = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let percent: String = VALUE.bytes().map(|b| format!("%{b:02X}")).collect();
        for (prompt, encoding) in [
            (format!("the token is {VALUE}."), "as it is"),
            (format!("hex {}", hex::encode(VALUE)), "hex-encoded"),
            (format!("HEX {}", hex::encode_upper(VALUE)), "hex-encoded"),
            (format!("b64 {}", b64(VALUE)), "base64-encoded"),
            (
                format!("b64 {}", b64(&format!("token={VALUE}"))),
                "base64-encoded",
            ),
            (
                format!("b64 {}", b64(&format!("k={VALUE};"))),
                "base64-encoded",
            ),
            // Whether the url-safe alphabet shows depends on the bytes.
            (
                format!("b64url {}", b64url(&format!("xy{VALUE}"))),
                "base64",
            ),
            (format!("url {percent}"), "URL-encoded"),
            (
                format!("form {}", VALUE.replace('+', "%2B").replace('/', "%2F")),
                "URL-encoded",
            ),
        ] {
            let exposure = found(&prompt).unwrap_or_else(|| panic!("missed: {prompt}"));
            assert!(
                exposure.encoding.starts_with(encoding),
                "{prompt}: {exposure:?}"
            );
            assert_eq!(exposure.message, 0);
        }
    }

    #[test]
    fn the_finding_names_the_message_and_offset_never_the_value() {
        let exposure = find(
            [
                "nothing here",
                "still nothing",
                "and then {{agentward:handle:ab}} it is",
            ],
            &[Needle {
                bytes: b"{{agentward:handle:ab}}",
                what: "a handle to secret `npm/token`".into(),
            }],
        )
        .unwrap();
        assert_eq!(
            exposure,
            Exposure {
                message: 2,
                offset: 9,
                what: "a handle to secret `npm/token`".into(),
                encoding: "as it is",
            }
        );
    }

    #[test]
    fn ordinary_text_passes() {
        for prompt in [
            "List the risks of this diff: -token=old +token=${NPM_TOKEN}",
            "npm_S3cr3t+Valu",
            "",
            "%zz%4",
        ] {
            assert_eq!(found(prompt), None, "{prompt}");
        }
    }
}
