//! The approvers' SSH keys, in OpenSSH's `allowed_signers` format (the file
//! `git config gpg.ssh.allowedSignersFile` and `ssh-keygen -Y verify` read),
//! so a team lists each key once for commits and approvals alike.
//!
//! A line is `PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]`. Of the
//! options, `namespaces="…"` is honoured (a key limited to `git` cannot
//! approve); the others — certificate authorities and validity windows —
//! are refused by line rather than ignored, since ignoring one would widen
//! what a key may sign. Principals are names, not patterns: an approver is
//! one person.

use super::sshsig::{SshKey, SshSigError};
use std::path::{Path, PathBuf};

/// The namespace an approval's signature must be made in.
pub const NAMESPACE: &str = "agentward-approval";

#[derive(Clone, Debug)]
pub struct AllowedSigners {
    pub path: PathBuf,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    principals: Vec<String>,
    /// `None`: every namespace.
    namespaces: Option<Vec<String>>,
    key: SshKey,
}

impl Entry {
    fn signs_approvals(&self) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|n| n.iter().any(|n| n == NAMESPACE))
    }
}

impl AllowedSigners {
    /// Reads `path`; an error names the file, the line and the fix.
    pub fn load(path: &Path) -> Result<AllowedSigners, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "allowed signers {}: {e}\n  fix: create it (one `NAME namespaces=\"{NAMESPACE}\" ssh-ed25519 AAAA…` line per approver) or correct `allowed_signers` in the workflow",
                path.display()
            )
        })?;
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .map(|(i, line)| {
                parse_line(line).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowedSigners {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Whether `principal` may sign approvals with `key`.
    pub fn allows(&self, principal: &str, key: &SshKey) -> bool {
        self.entries.iter().any(|e| {
            e.key == *key && e.signs_approvals() && e.principals.iter().any(|p| p == principal)
        })
    }

    /// The principals that may sign approvals with `key`.
    pub fn principals_of(&self, key: &SshKey) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| e.key == *key && e.signs_approvals())
            .flat_map(|e| e.principals.iter().map(String::as_str))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether `principal` has any key that may sign approvals.
    pub fn lists(&self, principal: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.signs_approvals() && e.principals.iter().any(|p| p == principal))
    }
}

fn parse_line(line: &str) -> Result<Entry, String> {
    let words = split_words(line)?;
    let mut words = words.iter().map(String::as_str);
    let principals: Vec<String> = words
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    if let Some(pattern) = principals
        .iter()
        .find(|p| p.is_empty() || p.contains(['*', '?', '!']))
    {
        return Err(format!(
            "principal {pattern:?} is a pattern; an approver is one name\n  fix: list each approver by name"
        ));
    }
    let mut next = words.next().ok_or("the line has no key")?;
    let mut namespaces = None;
    if !is_key_type(next) {
        for option in split_options(next) {
            match option.split_once('=') {
                Some(("namespaces", list)) => {
                    let list = list.trim_matches('"');
                    namespaces = Some(list.split(',').map(str::to_string).collect());
                }
                _ => {
                    return Err(format!(
                        "option `{option}` is not supported for approvals (only `namespaces=`)\n  fix: list the approver's own key, without certificate authorities or validity windows"
                    ))
                }
            }
        }
        next = words.next().ok_or("the line has options but no key")?;
    }
    let blob = words.next().ok_or("the key has no base64 part")?;
    let key = SshKey::parse_openssh(&format!("{next} {blob}")).map_err(|e| match e {
        SshSigError::KeyType(kind) => format!(
            "{kind} keys cannot approve\n  fix: use an ssh-ed25519 or sk-ssh-ed25519@openssh.com key (`ssh-keygen -t ed25519` or `-t ed25519-sk`)"
        ),
        other => other.to_string(),
    })?;
    Ok(Entry {
        principals,
        namespaces,
        key,
    })
}

/// Key types as they start a key: a word that is one is not options.
fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-")
        || word.starts_with("sk-")
        || word.starts_with("ecdsa-")
        || word.starts_with("rsa-")
}

/// Splits on whitespace outside double quotes.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.trim().chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

/// Splits options on commas outside double quotes.
fn split_options(options: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&options[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlizSIN3DQV78VPNjVvvwjgf+P5HqbPYCYu3BOMdjAE";

    fn load(text: &str) -> Result<AllowedSigners, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("allowed_signers");
        std::fs::write(&path, text).unwrap();
        AllowedSigners::load(&path)
    }

    #[test]
    fn namespaces_limit_what_a_listed_key_may_approve() {
        let signers = load(&format!(
            "# the team\nalice,al namespaces=\"git,agentward-approval\" {KEY} alice@laptop\n\nbob namespaces=\"git\" {KEY}\ncarol {KEY}\n"
        ))
        .unwrap();
        let key = SshKey::parse_openssh(KEY).unwrap();
        assert!(signers.allows("alice", &key));
        assert!(signers.allows("al", &key));
        assert!(!signers.allows("bob", &key), "bob's key signs git only");
        assert!(signers.allows("carol", &key), "no namespaces: any");
        assert_eq!(signers.principals_of(&key), ["al", "alice", "carol"]);
        assert!(!signers.lists("bob"));
    }

    #[test]
    fn what_would_widen_a_key_is_refused_by_line() {
        let err = load(&format!("alice cert-authority {KEY}\n")).unwrap_err();
        assert!(
            err.contains("line 1: option `cert-authority` is not supported"),
            "{err}"
        );
        let err = load(&format!("\n*@example.com {KEY}\n")).unwrap_err();
        assert!(
            err.contains("line 2: principal \"*@example.com\" is a pattern"),
            "{err}"
        );
        let err = load(
            "alice ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA==\n",
        )
        .unwrap_err();
        assert!(
            err.contains("ecdsa-sha2-nistp256 keys cannot approve"),
            "{err}"
        );
    }
}
