//! What a policy change does to each role: every grant widened (a new
//! capability, path, origin, method, a higher limit, a pin dropped) or
//! narrowed, and every component changed, in words and as data.
//!
//! A security team reviews a policy change by what it allows, not by its
//! text: the diff is taken over the parsed policies (limits with their
//! defaults, components with their pins) and over each grant's fields, so
//! moving a line or rewording a comment changes nothing, while one more
//! glob in a path list is named.

use super::{Policy, RoleName};
use serde::Serialize;
use toml::Value;

/// Whether a change lets a role do more, less, or something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Widened,
    Narrowed,
    /// Neither more nor less, but different (another component, another
    /// docs directory): reviewed like a widening.
    Changed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub role: RoleName,
    pub direction: Direction,
    /// `http.origins`, `limits.fuel`, `component`, or the capability.
    pub field: String,
    /// The change in words: `adds "https://…"`, `2000 → 4000`.
    pub what: String,
}

/// Every change from `old` to `new`, role by role.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let (old_grants, new_grants) = (grant_tables(old), grant_tables(new));
    let mut changes = Vec::new();
    let roles: std::collections::BTreeSet<RoleName> =
        old.roles.keys().chain(new.roles.keys()).copied().collect();
    for role in roles {
        let mut push = |direction, field: &str, what: String| {
            changes.push(Change {
                role,
                direction,
                field: field.to_string(),
                what,
            })
        };
        let (before, after) = match (old.roles.get(&role), new.roles.get(&role)) {
            (None, Some(r)) => {
                push(
                    Direction::Widened,
                    "role",
                    format!("role added, running {}", r.component),
                );
                continue;
            }
            (Some(_), None) => {
                push(Direction::Narrowed, "role", "role removed".into());
                continue;
            }
            (Some(b), Some(a)) => (b, a),
            (None, None) => continue,
        };
        if before.component != after.component {
            push(
                Direction::Changed,
                "component",
                format!("{} → {}", before.component, after.component),
            );
        }
        match (&before.sha256, &after.sha256) {
            (Some(_), None) => push(Direction::Widened, "component.sha256", "pin removed".into()),
            (None, Some(d)) => push(
                Direction::Narrowed,
                "component.sha256",
                format!("pinned to {d}"),
            ),
            (Some(b), Some(a)) if b != a => {
                push(Direction::Changed, "component.sha256", format!("{b} → {a}"))
            }
            _ => {}
        }
        let limits = [
            ("limits.fuel", before.limits.fuel, after.limits.fuel),
            (
                "limits.wall_ms",
                before.limits.wall_ms,
                after.limits.wall_ms,
            ),
            (
                "limits.memory_mib",
                before.limits.memory_mib,
                after.limits.memory_mib,
            ),
            (
                "limits.output_bytes",
                before.limits.output_bytes as u64,
                after.limits.output_bytes as u64,
            ),
        ];
        for (field, b, a) in limits {
            if a != b {
                let direction = if a > b {
                    Direction::Widened
                } else {
                    Direction::Narrowed
                };
                push(direction, field, format!("{b} → {a}"));
            }
        }
        let empty = toml::Table::new();
        let b = old_grants.get(&role).unwrap_or(&empty);
        let a = new_grants.get(&role).unwrap_or(&empty);
        let capabilities: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        for capability in capabilities {
            match (b.get(capability), a.get(capability)) {
                (None, Some(grant)) => push(
                    Direction::Widened,
                    capability,
                    format!("granted: {}", grant),
                ),
                (Some(_), None) => push(Direction::Narrowed, capability, "grant removed".into()),
                (Some(b), Some(a)) => fields(capability, b, a, &mut push),
                (None, None) => {}
            }
        }
    }
    changes
}

/// The differences between two values of one grant (or of one field).
fn fields(
    field: &str,
    before: &Value,
    after: &Value,
    push: &mut impl FnMut(Direction, &str, String),
) {
    match (before, after) {
        (Value::Table(b), Value::Table(a)) => {
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for key in keys {
                let name = format!("{field}.{key}");
                match (b.get(key), a.get(key)) {
                    (None, Some(v)) => push(Direction::Widened, &name, format!("set to {}", v)),
                    (Some(v), None) => push(Direction::Narrowed, &name, format!("{} removed", v)),
                    (Some(b), Some(a)) => fields(&name, b, a, push),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for item in a.iter().filter(|v| !b.contains(v)) {
                push(Direction::Widened, field, format!("adds {}", item));
            }
            for item in b.iter().filter(|v| !a.contains(v)) {
                push(Direction::Narrowed, field, format!("drops {}", item));
            }
        }
        (Value::Boolean(b), Value::Boolean(a)) if b != a => {
            let direction = if *a {
                Direction::Widened
            } else {
                Direction::Narrowed
            };
            push(direction, field, format!("{b} → {a}"));
        }
        (Value::Integer(b), Value::Integer(a)) if b != a => {
            let direction = if a > b {
                Direction::Widened
            } else {
                Direction::Narrowed
            };
            push(direction, field, format!("{b} → {a}"));
        }
        (b, a) if b != a => {
            // A workspace's mode is ordered; any other text is just other.
            let direction = match (b.as_str(), a.as_str()) {
                (Some("read"), Some("propose")) => Direction::Widened,
                (Some("propose"), Some("read")) => Direction::Narrowed,
                _ => Direction::Changed,
            };
            push(direction, field, format!("{} → {}", b, a));
        }
        _ => {}
    }
}

/// Each role's `grants` table as written (the parsed grants hold compiled
/// scopes and loaded certificates, not what the operator wrote).
fn grant_tables(policy: &Policy) -> std::collections::BTreeMap<RoleName, toml::Table> {
    let Ok(doc) = policy.source.parse::<toml::Table>() else {
        return Default::default();
    };
    let Some(Value::Table(roles)) = doc.get("roles") else {
        return Default::default();
    };
    policy
        .roles
        .keys()
        .filter_map(|role| {
            let grants = roles.get(role.as_str())?.get("grants")?.as_table()?.clone();
            Some((*role, grants))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn policy(text: &str) -> Policy {
        Policy::parse(Path::new("p.toml"), text, Path::new(".")).unwrap()
    }

    const OLD: &str = r#"
[roles.tester]
component = "tester"
limits = { fuel = 1000, wall_ms = 2000, memory_mib = 32, output_bytes = 4096 }
[roles.tester.grants]
log = {}
handles = { paths = ["npm/**"] }
http = { origins = ["https://registry.example"], methods = ["GET"] }
"#;

    #[test]
    fn a_reworded_policy_changes_nothing() {
        let moved =
            format!("# reviewed 2026-12-04\n{OLD}").replace("log = {}\n", "") + "log = {}\n";
        let moved = moved.replace(
            "[roles.tester.grants]\n",
            "[roles.tester.grants]\n# what it may call\n",
        );
        assert_eq!(diff(&policy(OLD), &policy(&moved)), vec![]);
    }

    #[test]
    fn every_widening_and_narrowing_is_named() {
        let new = OLD
            .replace(
                "methods = [\"GET\"]",
                "methods = [\"GET\", \"POST\"], handle_body = true",
            )
            .replace("paths = [\"npm/**\"]", "paths = [\"npm/**\", \"prod/**\"]")
            .replace("wall_ms = 2000", "wall_ms = 1000")
            .replace("fuel = 1000", "fuel = 9000")
            .replace("log = {}\n", "secrets-meta = { paths = [\"npm/**\"] }\n");
        let changes = diff(&policy(OLD), &policy(&new));
        let said: Vec<String> = changes
            .iter()
            .map(|c| format!("{:?} {} {}", c.direction, c.field, c.what))
            .collect();
        assert_eq!(
            said,
            vec![
                "Widened limits.fuel 1000 → 9000",
                "Narrowed limits.wall_ms 2000 → 1000",
                "Widened handles.paths adds \"prod/**\"",
                "Widened http.handle_body set to true",
                "Widened http.methods adds \"POST\"",
                "Narrowed log grant removed",
                "Widened secrets-meta granted: { paths = [\"npm/**\"] }",
            ],
            "{said:#?}"
        );
        assert!(changes.iter().all(|c| c.role == RoleName::Tester));
    }
}
