//! Property: a path scope never admits a path outside its globs, however
//! a backend or a reader might interpret the path.
//!
//! The reference below matches globs segment by segment, written here
//! from the documented meaning (`*` and `?` within a segment, `**` across
//! segments), independent of globset. A path the scope admits is read the
//! ways a store, a proxy or a person might read it: as it is, percent-
//! decoded, NFKC-normalised (U+FF0F is `/`, U+2024 is `.`), cut at a NUL,
//! with `\` as a separator; each reading has its dot segments resolved,
//! and every reading must stay inside the globs.

use super::PathScope;
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Cheap (a globset build and a few matches): many cases.
const CASES: u32 = 4000;

/// Literal segments, in the case the globs use and changed.
const LITERALS: &[&str] = &["npm", "prod", "db", "token", "ci"];
const CASE_CHANGED: &[&str] = &["NPM", "Npm", "PROD", "Token", "dB", "CI"];

/// What a path may hold to slip past a substring-minded check.
const TRICKS: &[&str] = &[
    "..",
    ".",
    "",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "..%2F..",
    "%2Fprod",
    "\u{2024}\u{2024}",
    "\u{2025}",
    "\u{FF0E}\u{FF0E}",
    "x\u{FF0F}..",
    "\0",
    "token\0",
    "..\\..",
    "\u{FF4E}\u{FF50}\u{FF4D}",
    "\u{212A}",
    "e\u{301}",
    "\u{e9}",
    "\u{65e5}\u{672c}",
];

/// Where one segment ends and the next begins, to some reader.
const SEPARATORS: &[&str] = &[
    "/", "/", "/", "/", "\u{FF0F}", "\\", "%2F", "%2f", "\u{2215}",
];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(pool).prop_map(str::to_string)
}

fn glob_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => pick(LITERALS),
        1 => Just("*".to_string()),
        1 => Just("**".to_string()),
        1 => Just("?".to_string()),
        1 => pick(LITERALS).prop_map(|l| format!("{l}*")),
        1 => pick(LITERALS).prop_map(|l| format!("*{l}")),
    ]
}

fn globs() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::collection::vec(glob_segment(), 1..4).prop_map(|s| s.join("/")),
        1..3,
    )
}

/// A path made of granted-looking literals, their case changes and the
/// tricks, joined by separators, perhaps with a trailing one.
fn tricky_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        4 => pick(LITERALS),
        1 => pick(CASE_CHANGED),
        3 => pick(TRICKS),
        1 => "[a-z%.\\\\/\u{FF0F}\u{2024}\u{0}]{1,6}",
    ];
    (
        prop::collection::vec((segment, pick(SEPARATORS)), 1..6),
        prop::sample::select(&["", "", "/", "%2F", "\0"][..]),
    )
        .prop_map(|(parts, tail)| {
            let mut path = String::new();
            for (i, (segment, separator)) in parts.iter().enumerate() {
                if i > 0 {
                    path.push_str(separator);
                }
                path.push_str(segment);
            }
            path + tail
        })
}

/// A path of plain segments: every reader reads it the same.
fn plain_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![3 => pick(LITERALS), 1 => pick(CASE_CHANGED), 1 => "[a-z0-9_-]{1,4}"],
        1..5,
    )
    .prop_map(|s| s.join("/"))
}

fn segment_matches(glob: &[char], text: &[char]) -> bool {
    match glob.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| segment_matches(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && segment_matches(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && segment_matches(rest, &text[1..]),
    }
}

fn glob_matches(glob: &[&str], path: &[&str]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        // `**` as the last segment needs at least one segment under it.
        Some((&"**", [])) => !path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| glob_matches(rest, &path[i..])),
        Some((segment, rest)) => match path.split_first() {
            Some((first, others)) => {
                let glob: Vec<char> = segment.chars().collect();
                let text: Vec<char> = first.chars().collect();
                segment_matches(&glob, &text) && glob_matches(rest, others)
            }
            None => false,
        },
    }
}

/// The segments a lenient backend lands on: empty and `.` segments
/// dropped, `..` climbing; `None` when it climbs out of the store.
fn resolve(path: &str) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(segments)
}

/// The ways a store, a proxy or a person may read `path`.
fn readings(path: &str) -> Vec<String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let nfkc = |s: &str| s.nfkc().collect::<String>();
    vec![
        path.to_string(),
        decode(path),
        nfkc(path),
        nfkc(&decode(path)),
        decode(&nfkc(path)),
        path.split('\0').next().unwrap_or_default().to_string(),
        path.replace('\\', "/"),
    ]
}

fn inside(globs: &[String], path: &str) -> bool {
    resolve(path).is_some_and(|segments| {
        globs.iter().any(|g| {
            let glob: Vec<&str> = g.split('/').collect();
            glob_matches(&glob, &segments)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Every reading of an admitted path is inside the globs.
    #[test]
    fn an_admitted_path_is_inside_the_globs_however_it_is_read(
        globs in globs(),
        path in tricky_path(),
    ) {
        let scope = PathScope::new(globs.clone()).unwrap();
        if scope.allows(&path) {
            for reading in readings(&path) {
                prop_assert!(
                    inside(&globs, &reading),
                    "{globs:?} admits {path:?}, read as {reading:?}"
                );
            }
        }
    }

    /// And the scope refuses nothing the globs grant in plain form: the
    /// property above is not met by refusing everything.
    #[test]
    fn a_plain_path_is_admitted_exactly_when_the_globs_match_it(
        globs in globs(),
        path in plain_path(),
    ) {
        let scope = PathScope::new(globs.clone()).unwrap();
        prop_assert_eq!(scope.allows(&path), inside(&globs, &path), "{:?} {:?}", globs, path);
    }
}
