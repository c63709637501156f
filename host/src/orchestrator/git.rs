//! Staged files land as commits on a branch, never in a working tree.
//!
//! Each change gets `agentward/<change id>` in every repository it touches;
//! each commit carries a `Change-Id:` trailer, so `git log --grep` finds a
//! change from the repository side as the audit log finds it from ours.
//! The commit is built with plumbing (a blob, a private index, a tree, a
//! commit, a ref update) so the repository's checkout, index and current
//! branch are never touched: people may be working in it. Committing the
//! same contents again is a no-op, which makes the step idempotent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const AUTHOR: &str = "agentward";
const EMAIL: &str = "agentward@localhost";

#[derive(Debug, thiserror::Error)]
#[error("git in {}: {action}: {detail}", repo.display())]
pub struct GitError {
    pub repo: PathBuf,
    pub action: String,
    pub detail: String,
}

/// The repository holding `file` (the nearest ancestor with `.git`, not
/// above `top`), and the file's path inside it.
pub fn repository_of(top: &Path, file: &Path) -> Option<(PathBuf, String)> {
    let mut dir = file.parent()?;
    loop {
        if dir.join(".git").exists() {
            let inner = file.strip_prefix(dir).ok()?.to_str()?.to_string();
            return Some((dir.to_path_buf(), inner));
        }
        if dir == top {
            return None;
        }
        dir = dir.parent()?;
    }
}

/// `text` with every literal credential replaced by `[redacted]`: the
/// `.npmrc` keys (`_authToken=`, `_password=`, `_auth=`), any key ending in
/// `password` (`DB_PASSWORD=…`, `password: …`), the password in a URL
/// (`postgres://app:…@db`), and each of `known` (the values of the secret
/// under change, which a file may hold in any form). References to
/// environment variables (`${NPM_TOKEN}`, `<%= ENV… %>`) stay.
pub fn redact_credentials(text: &str, known: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let mut shown = redact_line(body);
        for value in known.iter().filter(|v| v.len() >= 8) {
            shown = shown.replace(value, "[redacted]");
        }
        out.push_str(&shown);
        out.push_str(&line[body.len()..]);
    }
    out
}

fn is_reference(value: &str) -> bool {
    let value = value.trim().trim_matches(['"', '\'']);
    value.is_empty() || value.starts_with("${") || value.starts_with("<%=")
}

fn redact_line(line: &str) -> String {
    let npm = ["_authToken=", "_password=", "_auth="]
        .into_iter()
        .find_map(|k| line.find(k).map(|at| at + k.len()));
    let key_value = line
        .find(['=', ':'])
        .filter(|&at| {
            let key = line[..at].trim().trim_start_matches("export ");
            key.to_ascii_lowercase().ends_with("password")
        })
        .map(|at| at + 1);
    if let Some(at) = npm.or(key_value) {
        if !is_reference(&line[at..]) {
            let space = if line[at..].starts_with(' ') { " " } else { "" };
            return format!("{}{space}[redacted]", &line[..at]);
        }
        return line.to_string();
    }
    // scheme://user:password@host
    let mut shown = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        shown.push_str(head);
        let end = tail.find(['/', ' ', '"', '\'']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@').and_then(|(user, host)| {
            user.split_once(':')
                .map(|(name, password)| (name, password, host))
        }) {
            Some((name, password, host)) if !is_reference(password) => {
                shown.push_str(&format!("{name}:[redacted]@{host}"));
            }
            _ => shown.push_str(authority),
        }
        rest = &tail[end..];
    }
    shown.push_str(rest);
    shown
}

pub fn branch_for(change_id: &str) -> String {
    format!("agentward/{change_id}")
}

fn git(
    repo: &Path,
    args: &[&str],
    input: Option<&[u8]>,
    index: Option<&Path>,
) -> Result<String, GitError> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", AUTHOR)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_COMMITTER_NAME", AUTHOR)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let failed = |detail: String| GitError {
        repo: repo.to_path_buf(),
        action: args.first().copied().unwrap_or("git").to_string(),
        detail,
    };
    let mut child = command.spawn().map_err(|e| {
        failed(format!(
            "cannot run git: {e} (install git, or stage without a repository)"
        ))
    })?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write;
        stdin.write_all(bytes).map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn rev(repo: &Path, name: &str) -> Option<String> {
    git(
        repo,
        &["rev-parse", "--verify", "--quiet", name],
        None,
        None,
    )
    .ok()
}

/// Commits `contents` as `file` on `branch` (created from HEAD), unless the
/// branch already holds exactly those contents. Returns the branch tip.
pub fn commit_file(
    repo: &Path,
    branch: &str,
    file: &str,
    contents: &str,
    message: &str,
) -> Result<String, GitError> {
    let reference = format!("refs/heads/{branch}");
    let blob = git(
        repo,
        &["hash-object", "-w", "--stdin"],
        Some(contents.as_bytes()),
        None,
    )?;
    let tip = rev(repo, &reference);
    if let Some(tip) = &tip {
        if rev(repo, &format!("{tip}:{file}")).as_deref() == Some(blob.as_str()) {
            return Ok(tip.clone());
        }
    }
    let base = match &tip {
        Some(tip) => tip.clone(),
        None => rev(repo, "HEAD").ok_or_else(|| GitError {
            repo: repo.to_path_buf(),
            action: "rev-parse".into(),
            detail: "the repository has no commit to branch from".into(),
        })?,
    };
    let scratch = ScratchIndex::new();
    let index = scratch.0.as_path();
    git(repo, &["read-tree", &base], None, Some(index))?;
    let cacheinfo = format!("100644,{blob},{file}");
    git(
        repo,
        &["update-index", "--add", "--cacheinfo", &cacheinfo],
        None,
        Some(index),
    )?;
    let tree = git(repo, &["write-tree"], None, Some(index))?;
    let commit = git(
        repo,
        &["commit-tree", &tree, "-p", &base, "-F", "-"],
        Some(message.as_bytes()),
        None,
    )?;
    // Compare-and-swap on the ref: a concurrent writer makes this fail
    // rather than lose its commit.
    let old = tip.unwrap_or_else(|| "0".repeat(40));
    git(repo, &["update-ref", &reference, &commit, &old], None, None)?;
    Ok(commit)
}

/// A private index file for building one commit, removed when dropped.
struct ScratchIndex(PathBuf);

impl ScratchIndex {
    fn new() -> ScratchIndex {
        ScratchIndex(std::env::temp_dir().join(format!(
            "agentward-index-{}-{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 8]>())
        )))
    }
}

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Deletes `branch` if it exists: an aborted change leaves no proposal.
pub fn delete_branch(repo: &Path, branch: &str) -> Result<(), GitError> {
    let reference = format!("refs/heads/{branch}");
    if rev(repo, &reference).is_some() {
        git(repo, &["update-ref", "-d", &reference], None, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact_credentials;

    #[test]
    fn literal_credentials_are_redacted_and_references_kept() {
        let npmrc = "@a:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=npm_SECRET\n//r/:_password=cGFzcw==\n//x/:_authToken=${NPM_TOKEN}\n";
        let shown = redact_credentials(npmrc, &[]);
        assert!(
            !shown.contains("npm_SECRET") && !shown.contains("cGFzcw=="),
            "{shown}"
        );
        assert!(shown.contains(":_authToken=[redacted]\n"), "{shown}");
        assert!(shown.contains("_authToken=${NPM_TOKEN}"), "{shown}");
        assert!(
            shown.starts_with("@a:registry=http://127.0.0.1:4873/\n"),
            "{shown}"
        );
        let env = "DATABASE_URL=postgres://app_a:hunter2-x@db:5432/app\r\nexport DB_PASSWORD=s3cret\nDB_PASSWORD_REF=${DB_PASSWORD}\n  password: pw-yaml\nTOKEN=odd-format-CANARY-1234\n";
        let shown = redact_credentials(env, &["odd-format-CANARY-1234"]);
        assert_eq!(
            shown,
            "DATABASE_URL=postgres://app_a:[redacted]@db:5432/app\r\nexport DB_PASSWORD=[redacted]\nDB_PASSWORD_REF=${DB_PASSWORD}\n  password: [redacted]\nTOKEN=[redacted]\n"
        );
    }
}
