//! Reviewer: checks a change's staged files before anything is tested.
//!
//! Input: a [`ReviewTask`]; output: a [`SignOff`]. It refuses a change that
//! commits a plaintext credential, touches a file outside the allowed names
//! (config `allowed_files`, file-name suffixes, default `[".npmrc"]`), or
//! hands off a version other than the one under review. It reads the
//! current files through `workspace` to say what changed.
//!
//! With config `model_advice = true` it then asks its model (the `model`
//! grant) to list the risks it sees in the change and attaches the answer
//! to the sign-off as [`Advice`]. The verdict is settled before the model
//! is asked and nothing reads the advice back, so a model can add a note
//! but never approve or reject. Lines that hold a credential never reach
//! the prompt: the host refuses values it knows, but a plaintext token the
//! Reviewer just found in a file is one the host has never seen.

use agentward_handoff::{Advice, Finding, ReviewTask, SignOff};
use agentward_sdk::{advise, export_role, workspace, Report, Role, Task};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_allowed")]
    allowed_files: Vec<String>,
    #[serde(default)]
    model_advice: bool,
    /// The longest answer asked of the model.
    #[serde(default = "default_advice_tokens")]
    advice_tokens: u32,
}

fn default_advice_tokens() -> u32 {
    160
}

const RISK_INSTRUCTION: &str = "You review configuration changes made during a credential \
rotation. List, in at most five short bullet points, the operational risks of the change \
below (what could break, what to check after merging). Do not repeat the change.";

/// The change as the model sees it: per file, the lines removed and added,
/// with any line that holds a credential replaced by a note.
fn risk_prompt(files: &[(&str, &str, &str)]) -> String {
    let shown = |line: &str| {
        if holds_credential(line) {
            "[line withheld: it holds a credential]".to_string()
        } else {
            line.to_string()
        }
    };
    let mut prompt = String::new();
    for (file, before, after) in files {
        prompt.push_str(&format!("File {file}:\n"));
        for line in before.lines().filter(|l| !after.lines().any(|a| a == *l)) {
            prompt.push_str(&format!("- {}\n", shown(line)));
        }
        for line in after.lines().filter(|l| !before.lines().any(|b| b == *l)) {
            prompt.push_str(&format!("+ {}\n", shown(line)));
        }
    }
    prompt
}

fn default_allowed() -> Vec<String> {
    vec![".npmrc".into()]
}

/// Whether `value` refers to a secret rather than holding one: an
/// environment reference (`${VAR}`, ERB's `<%= ENV… %>`) or nothing.
fn is_reference(value: &str) -> bool {
    let value = value.trim().trim_matches(['"', '\'']);
    value.is_empty() || value.starts_with("${") || value.starts_with("<%=")
}

/// Whether `line` carries a literal credential: an npm token or password,
/// a `…password` key with a value, or a URL with a password in it.
fn holds_credential(line: &str) -> bool {
    if let Some((_, value)) = line
        .split_once("_authToken=")
        .or_else(|| line.split_once("_password="))
    {
        return !is_reference(value);
    }
    let key_value = line.split_once('=').or_else(|| line.split_once(':'));
    if let Some((key, value)) = key_value {
        let key = key
            .trim()
            .trim_start_matches("export ")
            .to_ascii_lowercase();
        if key.ends_with("password") && !is_reference(value) {
            return true;
        }
    }
    // scheme://user:password@host
    line.match_indices("://").any(|(at, _)| {
        let rest = &line[at + 3..];
        let userinfo = rest.split(['/', ' ', '"', '\'']).next().unwrap_or("");
        userinfo
            .rsplit_once('@')
            .and_then(|(user, _)| user.split_once(':'))
            .is_some_and(|(_, password)| !is_reference(password))
    })
}

/// Lines of `text` (numbered from 1) that carry a literal credential.
fn plaintext_credentials(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| holds_credential(line))
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_credentials_are_found_and_references_are_not() {
        for literal in [
            "//r/:_authToken=npm_abc",
            "DATABASE_URL=postgres://app_a:hunter2@db:5432/app",
            "  url: postgres://app_a:hunter2@db/app",
            "  password: hunter2",
            "export DB_PASSWORD='x'",
        ] {
            assert!(holds_credential(literal), "{literal}");
        }
        for reference in [
            "//r/:_authToken=${NPM_TOKEN}",
            "DATABASE_URL=${DATABASE_URL}",
            "  url: <%= ENV.fetch(\"DATABASE_URL\") %>",
            "  password:",
            "@scope:registry=https://registry.example.com/",
            "see https://user@example.com/docs",
        ] {
            assert!(!holds_credential(reference), "{reference}");
        }
    }

    #[test]
    fn the_risk_prompt_shows_changed_lines_and_withholds_credentials() {
        let prompt = risk_prompt(&[(
            "app/.npmrc",
            "registry=http://r/\n//r/:_authToken=${OLD}\n",
            "registry=http://r/\n//r/:_authToken=npm_secretvalue\n//r/:_authToken=${NEW}\n",
        )]);
        assert!(prompt.contains("- //r/:_authToken=${OLD}"), "{prompt}");
        assert!(prompt.contains("+ //r/:_authToken=${NEW}"), "{prompt}");
        assert!(prompt.contains("+ [line withheld"), "{prompt}");
        assert!(!prompt.contains("npm_secretvalue"), "{prompt}");
        assert!(!prompt.contains("registry=http://r/"), "{prompt}");
    }
}

struct Reviewer;

impl Role for Reviewer {
    fn run(task: Task) -> Result<Report, String> {
        let review: ReviewTask =
            serde_json::from_str(&task.input).map_err(|e| format!("reviewer input: {e}"))?;
        let config_value = if review.config.is_null() {
            serde_json::json!({})
        } else {
            review.config.clone()
        };
        let config: Config =
            serde_json::from_value(config_value).map_err(|e| format!("reviewer config: {e}"))?;
        let mut findings = Vec::new();
        let mut finding = |file: Option<&str>, message: String| {
            findings.push(Finding {
                file: file.map(str::to_string),
                message,
            })
        };
        if review.changes.path != review.path || review.changes.version != review.version {
            finding(
                None,
                format!(
                    "the changes are for {} version {}, not {} version {}",
                    review.changes.path, review.changes.version, review.path, review.version
                ),
            );
        }
        if review.proposed.len() != review.changes.staged.len() {
            finding(
                None,
                "the staged files and their proposed contents do not match".into(),
            );
        }
        let mut changed = 0;
        let mut reviewed = Vec::new();
        for (staged, proposed) in review.changes.staged.iter().zip(&review.proposed) {
            let file = staged.file.as_str();
            if !config
                .allowed_files
                .iter()
                .any(|suffix| file.ends_with(suffix.as_str()))
            {
                finding(
                    Some(file),
                    format!("not an allowed file (allowed: {:?})", config.allowed_files),
                );
            }
            for line in plaintext_credentials(proposed) {
                finding(
                    Some(file),
                    format!("line {line} holds a plaintext credential"),
                );
            }
            // A new file does not exist yet; any other refusal means the
            // change cannot be reviewed, and an unreviewed file is a finding.
            let before = match workspace::read_file(&staged.root, file) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(agentward_sdk::Error::NotFound(_)) => String::new(),
                Err(e) => {
                    finding(
                        Some(file),
                        format!("cannot be read for review: {}", e.message()),
                    );
                    continue;
                }
            };
            if before != *proposed {
                changed += 1;
                reviewed.push((file, before, proposed.as_str()));
            }
        }
        let approved = findings.is_empty();
        let summary = if approved {
            format!(
                "approved version {} of {}: {changed} files change, no plaintext credentials",
                review.version, review.path
            )
        } else {
            format!(
                "rejected version {} of {}: {} findings",
                review.version,
                review.path,
                findings.len()
            )
        };
        // The verdict is fixed above; the model is asked only now.
        let advice = config.model_advice.then(|| {
            let files: Vec<(&str, &str, &str)> = reviewed
                .iter()
                .map(|(file, before, after)| (*file, before.as_str(), *after))
                .collect();
            let (model, text) =
                advise(RISK_INSTRUCTION, &risk_prompt(&files), config.advice_tokens);
            Advice { model, text }
        });
        let sign_off = SignOff {
            path: review.path,
            version: review.version,
            approved,
            findings,
            advice,
        };
        Ok(Report {
            summary,
            output: serde_json::to_string(&sign_off).map_err(|e| e.to_string())?,
        })
    }
}

export_role!(Reviewer);
