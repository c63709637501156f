//! `postgres`: a PostgreSQL login role's password, set by the host's `sql`
//! capability as an admin whose credential this role holds only as a
//! handle. The new password is host-generated (`secrets-write.generate`):
//! no role ever holds it.
//!
//! The stored value is the URL consumers connect with,
//! `postgres://USER:PASSWORD@HOST:PORT/DB`, so a consumer that reads it
//! (`secrets exec --env DATABASE_URL=…`) learns the login role and the
//! password together. Two strategies:
//!
//! - `single-user`: one login role; a rotation sets its new password at
//!   mint, so whoever holds the old one is cut off then.
//! - `alternating-users`: two login roles with the same grants. A rotation
//!   sets the password of the one consumers do not hold and makes it
//!   current; the one they hold keeps working until the revoke step after
//!   the health watch, which invalidates its password (`PASSWORD NULL`).
//!
//! Every statement goes through the store-first order: the value is stored
//! as pending before the database is told, so a crash leaves at worst a
//! stored password the database does not know yet (finished by
//! [`Provider::identify`] on resume, or discarded by the abort).

use super::{handle, Minted, Provider, Rotation};
use agentward_sdk::{secrets_write, sql};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// Where the host connects to set passwords, `postgres://host:port/db`:
    /// one of the `sql` grant's endpoints.
    endpoint: String,
    /// The secret path of the admin credential: a `postgres://` URL naming
    /// the admin login role, or a password with `admin_user`.
    admin: String,
    #[serde(default)]
    admin_user: String,
    strategy: Strategy,
    /// One login role for `single-user`, two for `alternating-users`.
    users: Vec<String>,
    /// The URL consumers connect to, when it is not `endpoint` (a pooler,
    /// a DNS name): `postgres://host:port/db`.
    #[serde(default)]
    consumer_url: Option<String>,
    #[serde(default = "default_length")]
    length: u32,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Strategy {
    SingleUser,
    AlternatingUsers,
}

fn default_length() -> u32 {
    32
}

impl Postgres {
    fn check(&self) -> Result<(), String> {
        let wanted = match self.strategy {
            Strategy::SingleUser => 1,
            Strategy::AlternatingUsers => 2,
        };
        if self.users.len() != wanted || self.users.first() == self.users.get(1) {
            return Err(format!(
                "postgres issuer: users = {:?}: {} takes {wanted} distinct login role{}",
                self.users,
                self.strategy_name(),
                if wanted == 1 { "" } else { "s" }
            ));
        }
        // Names go into statement text, matched word for word against the
        // grant: keep them to what needs no quoting.
        if let Some(bad) = self.users.iter().find(|u| {
            u.is_empty()
                || u.starts_with(|c: char| c.is_ascii_digit())
                || !u
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }) {
            return Err(format!(
                "postgres issuer: login role {bad:?} needs quoting; use lower-case letters, digits and _"
            ));
        }
        Ok(())
    }

    fn strategy_name(&self) -> &'static str {
        match self.strategy {
            Strategy::SingleUser => "single-user",
            Strategy::AlternatingUsers => "alternating-users",
        }
    }

    /// Runs a statement as the admin.
    fn as_admin(&self, text: &str, params: Vec<String>) -> Result<sql::Rows, String> {
        let password = handle(&self.admin, "current")?;
        sql::execute(&sql::Statement {
            endpoint: self.endpoint.clone(),
            user: self.admin_user.clone(),
            password,
            text: text.into(),
            params,
        })
        .map_err(|e| format!("`{text}` on {}: {}", self.endpoint, e.message()))
    }

    /// The login role of `path`'s current version: as recorded, else as
    /// the database says when connected with it.
    fn current_user(&self, r: &Rotation) -> Result<Option<String>, String> {
        if let Some(user) = r.current_credential_id {
            return Ok(Some(user.to_string()));
        }
        let Ok(current) = handle(r.path, "current") else {
            return Ok(None);
        };
        let rows = sql::execute(&sql::Statement {
            endpoint: self.endpoint.clone(),
            user: String::new(),
            password: current,
            text: "SELECT current_user".into(),
            params: Vec::new(),
        })
        .map_err(|e| {
            format!(
                "asking {} which login role {}'s current version is: {}",
                self.endpoint,
                r.path,
                e.message()
            )
        })?;
        Ok(rows
            .rows
            .first()
            .and_then(|row| row.first().cloned().flatten()))
    }

    /// The login role this rotation gives a new password.
    fn target(&self, r: &Rotation) -> Result<String, String> {
        if self.strategy == Strategy::SingleUser {
            return Ok(self.users[0].clone());
        }
        let current = self.current_user(r)?;
        match current {
            Some(user) if user == self.users[0] => Ok(self.users[1].clone()),
            Some(user) if user == self.users[1] => Ok(self.users[0].clone()),
            Some(user) => Err(format!(
                "{}'s current version logs in as {user}, which is not one of users = {:?}",
                r.path, self.users
            )),
            None => Ok(self.users[0].clone()),
        }
    }

    fn set_password(&self, user: &str, password: String) -> Result<(), String> {
        self.as_admin(&format!("ALTER ROLE {user} PASSWORD $1"), vec![password])
            .map(|_| ())
    }

    /// `(prefix, suffix)` around the password in the stored URL.
    fn url_around(&self, user: &str) -> Result<(String, String), String> {
        let base = self.consumer_url.as_deref().unwrap_or(&self.endpoint);
        let (scheme, rest) = base
            .split_once("://")
            .filter(|(scheme, rest)| {
                matches!(*scheme, "postgres" | "postgresql") && !rest.contains('@')
            })
            .ok_or_else(|| {
                format!("postgres issuer: {base:?} is not a postgres://host:port/db URL without credentials")
            })?;
        Ok((format!("{scheme}://{user}:"), format!("@{rest}")))
    }
}

impl Provider for Postgres {
    fn mint(&self, r: &Rotation, _retry_since: Option<&str>) -> Result<Minted, String> {
        self.check()?;
        let user = self.target(r)?;
        let (prefix, suffix) = self.url_around(&user)?;
        let spec = secrets_write::GenerateSpec {
            length: self.length,
            alphabet: String::new(),
            prefix,
            suffix,
        };
        let generated = secrets_write::generate(r.path, &spec)
            .map_err(|e| format!("generating a password for {user}: {}", e.message()))?;
        if r.dry_run {
            agentward_sdk::info(&format!(
                "dry run: would ALTER ROLE {user} PASSWORD on {}",
                self.endpoint
            ));
        } else {
            self.set_password(&user, generated.handle)?;
        }
        Ok(Minted {
            version: generated.version,
            credential_id: Some(user),
        })
    }

    fn identify(&self, r: &Rotation, _since: Option<&str>) -> Result<Option<String>, String> {
        self.check()?;
        let user = self.target(r)?;
        if !r.dry_run {
            // Setting the same password again is harmless; skipping it
            // when the crash came before it would leave it unset.
            self.set_password(&user, handle(r.path, "pending")?)?;
        }
        Ok(Some(user))
    }

    fn revoke(
        &self,
        path: &str,
        credential_id: Option<&str>,
        dry_run: bool,
    ) -> Result<String, String> {
        self.check()?;
        let current = Rotation {
            path,
            current_credential_id: None,
            dry_run,
        };
        match self.strategy {
            // One login role: "revoked" means its password is the current
            // version's. After a promotion that is so already; after an
            // abort or a rollback it puts the previous password back.
            Strategy::SingleUser => {
                let user = &self.users[0];
                if dry_run {
                    return Ok(format!(
                        "dry run: would set {user}'s password to the current version's"
                    ));
                }
                self.set_password(user, handle(path, "current")?)?;
                Ok(format!("{user}'s password is the current version's"))
            }
            // In a dry run the current version may be a placeholder the
            // database has never seen: say what would happen, ask nothing.
            Strategy::AlternatingUsers if dry_run => Ok(format!(
                "dry run: would ALTER ROLE {} PASSWORD NULL",
                credential_id.unwrap_or("(the login role consumers do not hold)")
            )),
            Strategy::AlternatingUsers => {
                let live = self.current_user(&current)?;
                let user = match credential_id {
                    Some(user) => user.to_string(),
                    // An interrupted mint may have set the other role's
                    // password: invalidate whichever consumers do not hold.
                    None => self.target(&Rotation {
                        current_credential_id: live.as_deref(),
                        ..current
                    })?,
                };
                if !self.users.contains(&user) {
                    return Err(format!(
                        "{user} is not one of users = {:?}; invalidate its password by hand",
                        self.users
                    ));
                }
                if live.as_deref() == Some(user.as_str()) {
                    return Err(format!(
                        "refusing to invalidate {user}: {path}'s current version logs in as it"
                    ));
                }
                match self.as_admin(&format!("ALTER ROLE {user} PASSWORD NULL"), Vec::new()) {
                    Ok(_) => Ok(format!("{user} can no longer log in with a password")),
                    // undefined_object: a login role that does not exist
                    // holds no password to invalidate.
                    Err(e) if e.contains("(42704)") => {
                        Ok(format!("{user} does not exist: nothing to invalidate"))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }
}
