//! Whether a prompt would carry a secret off the host.
//!
//! A prompt leaves for a model provider, where it may be logged, kept and
//! trained on, so nothing the run knows to be secret may be in it: not a
//! value the run touched, not a live handle, and not either of them
//! base64-, hex- or URL-encoded, in the forms the redaction of
//! guest-written text also looks for ([`crate::audit::encoded`]), so
//! `base64("token=" + value)` is caught too.
//!
//! A finding says which message, at which byte, and what kind of thing
//! (which secret's handle, or "a secret value"), never the value.

use crate::audit::encoded;

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
    /// Byte offset in that message's content where the (encoded) needle
    /// starts.
    pub offset: usize,
    pub what: String,
    /// "as it is", "base64-encoded", …
    pub encoding: &'static str,
}

/// The first place any message's content carries any needle: needle by
/// needle, form by form.
pub(crate) fn find<'m>(
    contents: impl IntoIterator<Item = &'m str>,
    needles: &[Needle<'_>],
) -> Option<Exposure> {
    for (message, content) in contents.into_iter().enumerate() {
        for needle in needles {
            if let Some(found) = encoded::occurrences(content, needle.bytes).first() {
                return Some(Exposure {
                    message,
                    offset: found.range.start,
                    what: needle.what.clone(),
                    encoding: found.encoding,
                });
            }
        }
    }
    None
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
        use base64::Engine;
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
