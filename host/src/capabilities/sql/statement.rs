//! How a granted statement becomes the text sent to the server.
//!
//! `ALTER ROLE` takes no bind parameters, so every `$n` goes as a literal:
//! dollar-quoted under a random tag the value cannot contain (no escaping
//! to get wrong), and after `PASSWORD` as the SCRAM-SHA-256 verifier of the
//! password, so the server, its statement log included, never sees it.

use super::credential::Credential;
use super::Resolved;
use crate::capabilities::bindings::agentward::host::types::Error;

/// White space collapsed, so a grant's line breaks do not matter.
pub(super) fn normalise(statement: &str) -> String {
    statement.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `statement` with each `$n` replaced by parameter n as a dollar-quoted
/// literal; after `PASSWORD`, by the literal of its SCRAM-SHA-256 verifier.
pub(super) fn interpolate(statement: &str, params: &[Resolved]) -> Result<String, Error> {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    while let Some(at) = rest.find('$') {
        let digits: String = rest[at + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            out.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            continue;
        }
        let n: usize = digits.parse().unwrap_or(0);
        let param = n
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the statement uses ${n} but {} parameters were given",
                    params.len()
                ))
            })?;
        let before = &rest[..at];
        let is_password = before.trim_end().to_ascii_uppercase().ends_with("PASSWORD");
        let value = if is_password {
            let password = Credential::of(&param.value).password;
            postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
        } else {
            param.value.expose().to_string()
        };
        out.push_str(before);
        out.push_str(&dollar_quoted(&value));
        rest = &rest[at + 1 + digits.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` as a dollar-quoted literal under a random tag it cannot contain.
fn dollar_quoted(value: &str) -> String {
    loop {
        let tag = format!("agentward{}", hex::encode(rand::random::<[u8; 6]>()));
        let fence = format!("${tag}$");
        if !value.contains(&fence) {
            return format!("{fence}{value}{fence}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SecretValue;

    fn literal(v: &str) -> Resolved {
        Resolved {
            value: SecretValue::new(v),
            from_handle: None,
        }
    }

    #[test]
    fn parameters_become_quoted_literals_and_passwords_verifiers() {
        let hostile = "x'); DROP TABLE t; --";
        let out = interpolate(
            "SELECT has_table_privilege($1, $2, 'SELECT')",
            &[literal("app_a"), literal(hostile)],
        )
        .unwrap();
        let args = out
            .strip_prefix("SELECT has_table_privilege(")
            .and_then(|a| a.strip_suffix(", 'SELECT')"))
            .unwrap_or_else(|| panic!("{out}"));
        let (first, second) = args.split_once(", ").unwrap();
        for (literal, value) in [(first, "app_a"), (second, hostile)] {
            let fence = &literal[..literal[1..].find('$').unwrap() + 2];
            assert!(
                fence.starts_with("$agentward") && fence.ends_with('$'),
                "{literal}"
            );
            assert_eq!(literal, format!("{fence}{value}{fence}"));
        }
        let out = interpolate("ALTER ROLE app_a PASSWORD $1", &[literal("hunter2")]).unwrap();
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("SCRAM-SHA-256$4096:"), "{out}");
        let err = interpolate("SELECT $2", &[literal("a")]).unwrap_err();
        assert!(
            format!("{err:?}").contains("uses $2 but 1 parameters"),
            "{err:?}"
        );
    }
}
