//! `generated`: a random value the host makes and stores itself
//! (`secrets-write.generate`), for secrets a service reads from the store.
//! The Implementer gets only the version and a handle: no role ever holds
//! the value, and nothing outside the store holds it to revoke.

use super::{Minted, Provider, Rotation};
use agentward_sdk::secrets_write;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generated {
    #[serde(default = "default_length")]
    length: u32,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default)]
    suffix: String,
    /// Empty: A-Z, a-z and 0-9.
    #[serde(default)]
    alphabet: String,
}

impl Default for Generated {
    fn default() -> Self {
        Generated {
            length: default_length(),
            prefix: default_prefix(),
            suffix: String::new(),
            alphabet: String::new(),
        }
    }
}

fn default_length() -> u32 {
    40
}

fn default_prefix() -> String {
    "npm_".into()
}

impl Provider for Generated {
    fn mint(&self, r: &Rotation, _retry_since: Option<&str>) -> Result<Minted, String> {
        let path = r.path;
        let spec = secrets_write::GenerateSpec {
            length: self.length,
            alphabet: self.alphabet.clone(),
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
        };
        let generated = secrets_write::generate(path, &spec)
            .map_err(|e| format!("generating a new value for {path}: {}", e.message()))?;
        Ok(Minted {
            version: generated.version,
            credential_id: None,
        })
    }

    fn revoke(
        &self,
        _path: &str,
        _credential_id: Option<&str>,
        _dry_run: bool,
    ) -> Result<String, String> {
        Ok("generated credential: no issuer holds it".into())
    }
}
