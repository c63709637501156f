//! `npm-registry`: a token minted through the registry's token API
//! (`POST /-/npm/v1/tokens`, authenticated by the current token, with the
//! bot's password taken as a handle so this role never sees it) and revoked
//! by its key (`DELETE /-/npm/v1/tokens/token/KEY`). The registry hands the
//! new token to this role, which stores it at once; the orchestrator's
//! records carry only its key.

use super::{handle, store_or_revoke, Minted, Provider, Rotation};
use agentward_sdk::{http, secrets_write};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NpmRegistry {
    /// `https://registry.example.com`, an origin the policy allows.
    registry: String,
    /// The secret path of the registry user's password. `{name}` stands
    /// for the last segment of the token's path, so that one workflow can
    /// rotate the tokens of many users (`npm/ci-bot` uses
    /// `registry/{name}-password` = `registry/ci-bot-password`). Items
    /// in flight together need distinct users: recovering a mint that was
    /// cut off revokes what its user minted since.
    password: String,
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

impl Provider for NpmRegistry {
    fn npmrc_key(&self) -> Option<String> {
        let rest = self
            .registry
            .split_once("://")
            .map_or(self.registry.as_str(), |(_, r)| r);
        Some(format!("//{}/", rest.trim_end_matches('/')))
    }

    fn mint(&self, r: &Rotation, retry_since: Option<&str>) -> Result<Minted, String> {
        let (path, dry_run) = (r.path, r.dry_run);
        let registry = &self.registry;
        let name = path.rsplit('/').next().unwrap_or(path);
        let password = self.password.replace("{name}", name);
        if dry_run {
            // Minting at the registry is a real effect: a dry run stores a
            // host-made placeholder and says what it would have asked for.
            let spec = secrets_write::GenerateSpec {
                length: 24,
                alphabet: String::new(),
                prefix: "dry-run-placeholder-".into(),
                suffix: String::new(),
            };
            let placeholder = secrets_write::generate(path, &spec)
                .map_err(|e| format!("storing a placeholder for {path}: {}", e.message()))?;
            agentward_sdk::info(&format!("dry run: would POST {registry}/-/npm/v1/tokens"));
            return Ok(Minted {
                version: placeholder.version,
                credential_id: None,
            });
        }
        let bearer = handle(path, "current")?;
        if let Some(since) = retry_since {
            revoke_minted_since(registry, &bearer, since)?;
        }
        let password = handle(&password, "current")?;
        let body =
            serde_json::json!({ "password": password, "readonly": false, "cidr_whitelist": [] });
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
        let minted = store_or_revoke(self, path, &created.token, Some(created.key), dry_run)?;
        if let (Some(since), Some(key)) = (retry_since, &minted.credential_id) {
            // A request the interrupted attempt sent may have reached the
            // registry only after the sweep above: look once more.
            revoke_minted_since_except(registry, &bearer, since, key)?;
        }
        Ok(minted)
    }

    fn identify(&self, r: &Rotation, since: Option<&str>) -> Result<Option<String>, String> {
        let path = r.path;
        let (Some(since), false) = (since, r.dry_run) else {
            return Ok(None);
        };
        let bearer = handle(path, "current")?;
        let minted = minted_since(&self.registry, &bearer, since)?;
        match minted.as_slice() {
            [one] => Ok(Some(one.key.clone())),
            _ => Err(format!(
                "{} tokens were minted since {since}; cannot tell which one the store holds",
                minted.len()
            )),
        }
    }

    fn revoke(
        &self,
        path: &str,
        credential_id: Option<&str>,
        dry_run: bool,
    ) -> Result<String, String> {
        let registry = &self.registry;
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
    revoke_minted_since_except(registry, bearer, since, "")
}

/// [`revoke_minted_since`], sparing the token `keep` (the one stored).
fn revoke_minted_since_except(
    registry: &str,
    bearer: &str,
    since: &str,
    keep: &str,
) -> Result<(), String> {
    for orphan in minted_since(registry, bearer, since)?
        .into_iter()
        .filter(|t| t.key != keep)
    {
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
