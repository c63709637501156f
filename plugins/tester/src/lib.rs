//! Tester: proves a credential works without ever seeing it.
//!
//! Input: a [`TestTask`]; output: a [`Verification`]. It takes a handle on
//! the version under test and runs each configured check with it: as a
//! bearer token (`url`), or as the credential of a database connection
//! (`sql`); the host substitutes the value at the edge. Config:
//! `checks: [{"name": "auth", "url": "http://127.0.0.1:4873/-/whoami",
//! "expect_status": 200}, {"name": "orders", "endpoint":
//! "postgres://127.0.0.1:5432/app", "sql": "SELECT has_table_privilege(current_user, $1, 'SELECT')",
//! "params": ["orders"], "expect": "t"}]`; with none, the one check is that
//! the version carries the label it should. In a dry run the checks are
//! listed, not run: a placeholder credential proves nothing.

use agentward_handoff::{Check, TestTask, Verification};
use agentward_sdk::{export_role, handles, http, secrets_meta, sql, Report, Role, Task};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    checks: Vec<CheckSpec>,
}

/// A check as the workflow writes it: `url` keys or `sql` keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSpec {
    name: String,
    url: Option<String>,
    expect_status: Option<u16>,
    /// Fields the JSON response body must have, with these string values:
    /// a registry may answer an unknown token with 200 and an anonymous
    /// identity, so the status alone proves nothing.
    #[serde(default)]
    expect_json: BTreeMap<String, String>,
    endpoint: Option<String>,
    sql: Option<String>,
    #[serde(default)]
    params: Vec<String>,
    /// The first column of the first row, as text; without it an `sql`
    /// check passes when the statement runs.
    expect: Option<String>,
}

enum CheckKind<'a> {
    Http {
        url: &'a str,
        expect_status: u16,
        expect_json: &'a BTreeMap<String, String>,
    },
    /// A statement run as the credential under test (the handle's URL
    /// names the login role).
    Sql {
        endpoint: &'a str,
        sql: &'a str,
        params: &'a [String],
        expect: Option<&'a str>,
    },
}

impl CheckSpec {
    fn kind(&self) -> Result<CheckKind<'_>, String> {
        let http_keys = self.expect_status.is_some() || !self.expect_json.is_empty();
        let sql_keys = !self.params.is_empty() || self.expect.is_some();
        match (&self.url, &self.sql, &self.endpoint) {
            (Some(url), None, None) if !sql_keys => Ok(CheckKind::Http {
                url,
                expect_status: self.expect_status.unwrap_or(200),
                expect_json: &self.expect_json,
            }),
            (None, Some(sql), Some(endpoint)) if !http_keys => Ok(CheckKind::Sql {
                endpoint,
                sql,
                params: &self.params,
                expect: self.expect.as_deref(),
            }),
            _ => Err(format!(
                "tester check {:?}: give either url (with expect_status, expect_json) or sql and endpoint (with params, expect)",
                self.name
            )),
        }
    }
}

impl CheckKind<'_> {
    fn describe(&self) -> String {
        match self {
            CheckKind::Http {
                url, expect_status, ..
            } => format!("GET {url} expecting HTTP {expect_status}"),
            CheckKind::Sql { endpoint, sql, .. } => format!("`{sql}` on {endpoint}"),
        }
    }
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

fn sql_check(
    endpoint: &str,
    text: &str,
    params: &[String],
    expect: Option<&str>,
    handle: &str,
) -> (bool, String) {
    let result = sql::execute(&sql::Statement {
        endpoint: endpoint.to_string(),
        user: String::new(),
        password: handle.to_string(),
        text: text.to_string(),
        params: params.to_vec(),
    });
    let doing = format!("`{text}` on {endpoint}");
    match result {
        Ok(rows) => {
            let first = rows.rows.first().and_then(|r| r.first().cloned().flatten());
            match expect {
                Some(want) if first.as_deref() != Some(want) => (
                    false,
                    format!("{doing}: returned {first:?}, expected {want:?}"),
                ),
                _ => (true, format!("{doing}: returned {first:?}")),
            }
        }
        Err(e) => (false, format!("{doing}: {}", e.message())),
    }
}

fn http_check(
    url: &str,
    expect_status: u16,
    expect_json: &BTreeMap<String, String>,
    handle: &str,
) -> (bool, String) {
    let result = http::send(&http::Request {
        method: "GET".into(),
        url: url.to_string(),
        headers: vec![("authorization".into(), format!("Bearer {handle}"))],
        body: None,
    });
    match result {
        Ok(response) => {
            let body = String::from_utf8_lossy(&response.body);
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let missing: Vec<String> = expect_json
                .iter()
                .filter(|(field, want)| json[field.as_str()].as_str() != Some(want.as_str()))
                .map(|(field, want)| format!("{field}={want:?}"))
                .collect();
            let shown: String = body.chars().take(MAX_DETAIL_CHARS).collect();
            let mut detail = format!(
                "GET {url}: HTTP {} (expected {expect_status})",
                response.status
            );
            if !missing.is_empty() {
                detail.push_str(&format!("; the body lacks {}", missing.join(", ")));
            }
            (
                response.status == expect_status && missing.is_empty(),
                format!("{detail} {shown}"),
            )
        }
        Err(e) => (false, format!("GET {url}: {}", e.message())),
    }
}

fn run_check(name: &str, kind: &CheckKind, handle: &str) -> Check {
    let (passed, detail) = match *kind {
        CheckKind::Http {
            url,
            expect_status,
            expect_json,
        } => http_check(url, expect_status, expect_json, handle),
        CheckKind::Sql {
            endpoint,
            sql,
            params,
            expect,
        } => sql_check(endpoint, sql, params, expect, handle),
    };
    Check {
        name: name.to_string(),
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
        let kinds = config
            .checks
            .iter()
            .map(CheckSpec::kind)
            .collect::<Result<Vec<_>, _>>()?;
        let named = config.checks.iter().map(|c| c.name.as_str()).zip(&kinds);
        let mut checks = vec![label_check(&test)];
        if !kinds.is_empty() {
            if test.dry_run {
                checks.extend(named.map(|(name, kind)| Check {
                    name: name.to_string(),
                    passed: true,
                    detail: format!("dry run: would run {}", kind.describe()),
                }));
            } else {
                let handle = handles::acquire(&test.path, &test.label)
                    .map_err(|e| format!("handle for {}: {}", test.path, e.message()))?;
                checks.extend(named.map(|(name, kind)| run_check(name, kind, &handle)));
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
