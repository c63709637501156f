//! Where credentials come from and go back to.
//!
//! `generated`: a random token made here, for secrets that a service reads
//! from the store (nothing outside the store to revoke). `npm-registry`: a
//! token minted through the registry's token API
//! (`POST /-/npm/v1/tokens`, authenticated by the current token, with the
//! bot's password taken as a handle so this role never sees it) and revoked
//! by its key (`DELETE /-/npm/v1/tokens/token/KEY`).

use agentward_sdk::{handles, http};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Issuer {
    Generated {
        #[serde(default = "default_length")]
        length: usize,
        #[serde(default = "default_prefix")]
        prefix: String,
    },
    NpmRegistry {
        /// `http://127.0.0.1:4873`, an origin the policy allows.
        registry: String,
        /// The secret path of the registry user's password.
        password: String,
    },
}

impl Default for Issuer {
    fn default() -> Self {
        Issuer::Generated {
            length: default_length(),
            prefix: default_prefix(),
        }
    }
}

fn default_length() -> usize {
    40
}

fn default_prefix() -> String {
    "npm_".into()
}

/// A new credential: its value (stored as pending at once) and the
/// issuer's id for it.
pub struct Minted {
    pub token: String,
    pub credential_id: Option<String>,
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_token(prefix: &str, length: usize) -> Result<String, String> {
    // Bytes at or above `limit` are rejected so every character is equally
    // likely (256 is not a multiple of 62).
    let limit = (256 - 256 % ALPHABET.len()) as u8;
    let mut token = String::from(prefix);
    let mut random = [0u8; 64];
    while token.len() < prefix.len() + length {
        getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
        for byte in random
            .iter()
            .filter(|b| **b < limit)
            .take(prefix.len() + length - token.len())
        {
            token.push(ALPHABET[*byte as usize % ALPHABET.len()] as char);
        }
    }
    Ok(token)
}

fn send(
    method: &str,
    url: String,
    bearer: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let mut headers = vec![("authorization".to_string(), format!("Bearer {bearer}"))];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let response = http::send(&http::Request {
        method: method.into(),
        url: url.clone(),
        headers,
        body: body.map(String::into_bytes),
    })
    .map_err(|e| format!("{method} {url}: {}", e.message()))?;
    Ok((
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    ))
}

fn handle(path: &str, label: &str) -> Result<String, String> {
    handles::acquire(path, label)
        .map_err(|e| format!("handle for {path} ({label}): {}", e.message()))
}

impl Issuer {
    /// The registry as `.npmrc` keys name it (`//127.0.0.1:4873/`), if the
    /// issuer is a registry.
    pub fn registry_key(&self) -> Option<String> {
        let Issuer::NpmRegistry { registry, .. } = self else {
            return None;
        };
        let rest = registry
            .split_once("://")
            .map_or(registry.as_str(), |(_, r)| r);
        Some(format!("//{}/", rest.trim_end_matches('/')))
    }

    /// Mints a credential for `path`. `retry_since`: an earlier attempt was
    /// cut off then; what the issuer minted since is revoked first.
    pub fn mint(
        &self,
        path: &str,
        retry_since: Option<&str>,
        dry_run: bool,
    ) -> Result<Minted, String> {
        match self {
            Issuer::Generated { length, prefix } => Ok(Minted {
                token: random_token(prefix, *length)?,
                credential_id: None,
            }),
            Issuer::NpmRegistry { .. } if dry_run => Ok(Minted {
                // Minting at the registry is a real effect: a dry run stores
                // a placeholder and says what it would have asked for.
                token: random_token("dry-run-placeholder-", 24)?,
                credential_id: None,
            }),
            Issuer::NpmRegistry { registry, password } => {
                let bearer = handle(path, "current")?;
                if let Some(since) = retry_since {
                    revoke_minted_since(registry, &bearer, since)?;
                }
                let password = handle(password, "current")?;
                let body = serde_json::json!({ "password": password, "readonly": false, "cidr_whitelist": [] });
                let url = format!("{registry}/-/npm/v1/tokens");
                let (status, text) = send("POST", url.clone(), &bearer, Some(body.to_string()))?;
                if status != 200 {
                    return Err(format!(
                        "POST {url}: the registry refused to mint a token: HTTP {status} {text}"
                    ));
                }
                #[derive(Deserialize)]
                struct Created {
                    token: String,
                    key: String,
                }
                let created: Created = serde_json::from_str(&text)
                    .map_err(|e| format!("POST {url}: unexpected answer ({e})"))?;
                agentward_sdk::info(&format!(
                    "the registry minted token key {} for {path}",
                    created.key
                ));
                Ok(Minted {
                    token: created.token,
                    credential_id: Some(created.key),
                })
            }
        }
    }

    /// The id of the credential an interrupted mint that began at `since`
    /// stored as `path`'s pending version: the one minted since then (an
    /// interrupted mint revokes earlier attempts' tokens before minting).
    pub fn identify(
        &self,
        path: &str,
        since: Option<&str>,
        dry_run: bool,
    ) -> Result<Option<String>, String> {
        let (Issuer::NpmRegistry { registry, .. }, Some(since), false) = (self, since, dry_run)
        else {
            return Ok(None);
        };
        let bearer = handle(path, "current")?;
        let minted = minted_since(registry, &bearer, since)?;
        match minted.as_slice() {
            [one] => Ok(Some(one.key.clone())),
            _ => Err(format!(
                "{} tokens were minted since {since}; cannot tell which one the store holds",
                minted.len()
            )),
        }
    }

    /// Revokes the credential `credential_id` of `path`; `Ok(detail)` when it
    /// is revoked (or already was), `Err` when it may still be live.
    pub fn revoke(
        &self,
        path: &str,
        credential_id: Option<&str>,
        dry_run: bool,
    ) -> Result<String, String> {
        match self {
            Issuer::Generated { .. } => Ok("generated credential: no issuer holds it".into()),
            Issuer::NpmRegistry { registry, .. } => {
                if dry_run {
                    return Ok(format!(
                        "dry run: would DELETE {registry}/-/npm/v1/tokens/token/{}",
                        credential_id.unwrap_or("KEY")
                    ));
                }
                let Some(key) = credential_id else {
                    return Err(format!(
                        "no registry key is recorded for this version of {path}; revoke it in the registry by hand"
                    ));
                };
                let url = format!("{registry}/-/npm/v1/tokens/token/{key}");
                let bearer = handle(path, "current")?;
                match send("DELETE", url.clone(), &bearer, None)? {
                    (200 | 204, _) => Ok(format!("registry token {key} revoked")),
                    (status, text) => Err(format!("DELETE {url}: HTTP {status} {text}")),
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct Listed {
    key: String,
    created: String,
}

/// The registry user's tokens created at or after `since`.
fn minted_since(registry: &str, bearer: &str, since: &str) -> Result<Vec<Listed>, String> {
    #[derive(Deserialize)]
    struct Tokens {
        objects: Vec<Listed>,
    }
    let url = format!("{registry}/-/npm/v1/tokens");
    let (status, text) = send("GET", url.clone(), bearer, None)?;
    if status != 200 {
        return Err(format!("GET {url}: HTTP {status} {text}"));
    }
    let tokens: Tokens = serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}"))?;
    // Both are `YYYY-MM-DDTHH:MM:SS.mmmZ` (the orchestrator writes its
    // times in the registry's shape), so they compare as strings.
    Ok(tokens
        .objects
        .into_iter()
        .filter(|t| t.created.as_str() >= since)
        .collect())
}

/// Revokes every token the registry user got at or after `since` (the time
/// of an interrupted mint): none of them reached the store.
fn revoke_minted_since(registry: &str, bearer: &str, since: &str) -> Result<(), String> {
    for orphan in minted_since(registry, bearer, since)? {
        let delete = format!("{registry}/-/npm/v1/tokens/token/{}", orphan.key);
        match send("DELETE", delete.clone(), bearer, None)? {
            (200 | 204, _) => agentward_sdk::info(&format!(
                "revoked token key {} minted by an interrupted attempt at {}",
                orphan.key, orphan.created
            )),
            (status, text) => return Err(format!("DELETE {delete}: HTTP {status} {text}")),
        }
    }
    Ok(())
}
