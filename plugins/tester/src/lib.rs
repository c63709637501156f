//! Tester: proves a credential works without ever seeing it.
//!
//! Input: a [`TestTask`]; output: a [`Verification`]. It takes a handle on
//! the version under test and runs each configured check with it as a
//! bearer token (the host substitutes the value at the edge). Config:
//! `checks: [{"name": "auth", "url": "http://127.0.0.1:4873/-/whoami",
//! "expect_status": 200}]`; with none, the one check is that the version
//! carries the label it should. In a dry run the HTTP checks are listed,
//! not sent: a placeholder credential proves nothing about a registry.

use agentward_handoff::{Check, TestTask, Verification};
use agentward_sdk::{export_role, handles, http, secrets_meta, Report, Role, Task};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    checks: Vec<HttpCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpCheck {
    name: String,
    url: String,
    #[serde(default = "default_status")]
    expect_status: u16,
    /// Fields the JSON response body must have, with these string values:
    /// a registry may answer an unknown token with 200 and an anonymous
    /// identity, so the status alone proves nothing.
    #[serde(default)]
    expect_json: BTreeMap<String, String>,
}

fn default_status() -> u16 {
    200
}

const MAX_DETAIL_CHARS: usize = 200;

fn label_check(task: &TestTask) -> Check {
    let carries = secrets_meta::describe(&task.path).map(|info| {
        info.versions
            .iter()
            .any(|v| v.version == task.version && v.labels.contains(&task.label))
    });
    match carries {
        Ok(passed) => Check {
            name: "label".into(),
            passed,
            detail: format!(
                "version {} {} {}",
                task.version,
                if passed { "is" } else { "is not" },
                task.label
            ),
        },
        Err(e) => Check {
            name: "label".into(),
            passed: false,
            detail: e.message().to_string(),
        },
    }
}

fn http_check(check: &HttpCheck, handle: &str) -> Check {
    let result = http::send(&http::Request {
        method: "GET".into(),
        url: check.url.clone(),
        headers: vec![("authorization".into(), format!("Bearer {handle}"))],
        body: None,
    });
    let (passed, detail) = match result {
        Ok(response) => {
            let body = String::from_utf8_lossy(&response.body);
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let missing: Vec<String> = check
                .expect_json
                .iter()
                .filter(|(field, want)| json[field.as_str()].as_str() != Some(want.as_str()))
                .map(|(field, want)| format!("{field}={want:?}"))
                .collect();
            let shown: String = body.chars().take(MAX_DETAIL_CHARS).collect();
            let mut detail = format!(
                "GET {}: HTTP {} (expected {})",
                check.url, response.status, check.expect_status
            );
            if !missing.is_empty() {
                detail.push_str(&format!("; the body lacks {}", missing.join(", ")));
            }
            (
                response.status == check.expect_status && missing.is_empty(),
                format!("{detail} {shown}"),
            )
        }
        Err(e) => (false, format!("GET {}: {}", check.url, e.message())),
    };
    Check {
        name: check.name.clone(),
        passed,
        detail,
    }
}

struct Tester;

impl Role for Tester {
    fn run(task: Task) -> Result<Report, String> {
        let test: TestTask =
            serde_json::from_str(&task.input).map_err(|e| format!("tester input: {e}"))?;
        let config_value = if test.config.is_null() {
            serde_json::json!({})
        } else {
            test.config.clone()
        };
        let config: Config =
            serde_json::from_value(config_value).map_err(|e| format!("tester config: {e}"))?;
        let mut checks = vec![label_check(&test)];
        if !config.checks.is_empty() {
            if test.dry_run {
                checks.extend(config.checks.iter().map(|c| Check {
                    name: c.name.clone(),
                    passed: true,
                    detail: format!(
                        "dry run: would GET {} expecting HTTP {}",
                        c.url, c.expect_status
                    ),
                }));
            } else {
                let handle = handles::acquire(&test.path, &test.label)
                    .map_err(|e| format!("handle for {}: {}", test.path, e.message()))?;
                checks.extend(config.checks.iter().map(|c| http_check(c, &handle)));
                handles::release(&handle);
            }
        }
        let verification = Verification {
            path: test.path,
            version: test.version,
            checks,
        };
        let failed = verification.checks.iter().filter(|c| !c.passed).count();
        Ok(Report {
            summary: format!(
                "{} of {} checks passed on version {} of {} ({})",
                verification.checks.len() - failed,
                verification.checks.len(),
                verification.version,
                verification.path,
                test.label
            ),
            output: serde_json::to_string(&verification).map_err(|e| e.to_string())?,
        })
    }
}

export_role!(Tester);
